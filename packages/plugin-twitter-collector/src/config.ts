import { isDuration, parseDuration, z } from "@ujr/core";

/**
 * A duration: milliseconds or a string such as "500ms", "30s", "5m", "2h", "1d". The
 * message names the value. With `bareAtLeast`, a bare number below it is refused: a
 * `requestTimeout: 30` or `pollInterval: 20` meant seconds, and as milliseconds it would
 * time every request out or poll without a pause; "30ms" says milliseconds on purpose.
 */
const duration = (what: string, options: { bareAtLeast?: number } = {}) =>
  z
    .union([z.number(), z.string()], { message: `${what} must be a duration such as "500ms", "30s", "5m", "2h" (a bare number is milliseconds)` })
    .superRefine((value, ctx) => {
      if (typeof value === "string") {
        if (!isDuration(value)) ctx.addIssue({ code: "custom", message: `${what} must be a duration such as "500ms", "30s", "5m", "2h" (a bare number is milliseconds), not "${value}"` });
        return;
      }
      if (!Number.isFinite(value) || value < 0) {
        ctx.addIssue({ code: "custom", message: `${what} must be a duration of 0 or more, not ${value}: use e.g. "30s" or "5m"` });
      } else if (options.bareAtLeast !== undefined && value > 0 && value < options.bareAtLeast) {
        ctx.addIssue({
          code: "custom",
          message: `${what}: ${value} is read as ${value} milliseconds (a bare number is milliseconds): write "${value}s" for seconds, or "${value}ms" if you mean milliseconds`,
        });
      }
    })
    .transform((value) => parseDuration(value));

const isoTime = (what: string) =>
  z.iso.datetime({ offset: true, message: `${what} must be an ISO 8601 time with a zone, e.g. "2024-05-01T00:00:00Z"` });

export const retryConfigSchema = z
  .strictObject({
    attempts: z.number().int().min(1).max(20).default(5).describe("Tries of one fetch task in all, the first included."),
    baseMs: z.number().int().nonnegative().default(1000).describe("Delay before the first retry; doubles each retry."),
    maxMs: z.number().int().nonnegative().default(60_000),
    jitter: z.number().min(0).max(1).default(0.5).describe("Share of each delay that is randomised."),
  })
  .prefault({});

export const urlResolutionSchema = z
  .strictObject({
    enabled: z.boolean().default(true),
    allowPrivateAddresses: z
      .boolean()
      .default(false)
      .describe("Follow links to loopback, private and link-local addresses (refused by default: links come from untrusted tweets)."),
    timeout: duration("urlResolution.timeout", { bareAtLeast: 100 }).prefault("10s").describe("Per request (one hop)."),
    maxHops: z.number().int().min(0).max(50).default(10),
    concurrency: z.number().int().min(1).max(256).default(8).describe("Links resolved at once."),
    perHostConcurrency: z.number().int().min(1).max(64).default(2).describe("Requests to one host at once."),
    filesPerTask: z.number().int().min(1).max(1000).default(20),
    userAgent: z.string().min(1).default("ujr-collector/0.1.0 (+https://github.com/ujr-dev/ujr)"),
    onlyHosts: z
      .array(z.string().min(1))
      .default([])
      .describe("Resolve only links on these hosts (and subdomains); others are recorded as skipped. Empty: all hosts."),
    retry: z
      .strictObject({
        attempts: z.number().int().min(1).max(20).default(4).describe("Tries of a file whose links failed transiently, the first included."),
        delay: duration("urlResolution.retry.delay").prefault("1m").describe("Wait before the second try; doubles each try."),
        maxDelay: duration("urlResolution.retry.maxDelay").prefault("30m"),
      })
      .prefault({})
      .describe("Links that failed transiently (DNS temporary failure, timeout, reset, 429, 5xx) are not cached: their file is tried again later; after the last try its sidecar records them as transient."),
  })
  .prefault({});

export const archiveSchema = z
  .strictObject({
    everyFiles: z.number().int().min(1).optional().describe("Archive once this many closed raw files are waiting."),
    everyHours: z.number().positive().optional().describe("Archive waiting files when this long has passed since the last archive."),
    removeOriginals: z.boolean().default(false).describe("Delete raw files and sidecars once their archive verified."),
    maxFilesPerArchive: z.number().int().min(1).default(1000),
  })
  .optional()
  .describe("Pack closed raw files and sidecars into archive/*.tar.gz; off when absent. A one-off job archives what is left when it ends.");

const common = {
  bearerToken: z
    .string({ message: "bearerToken is required: put `bearerToken: ${X_BEARER_TOKEN}` in the job's config and set X_BEARER_TOKEN" })
    .min(1, "bearerToken is empty: set the X_BEARER_TOKEN environment variable (or whichever the config interpolates)"),
  baseUrl: z
    .url({ protocol: /^https?$/, message: "baseUrl must be an http(s) URL such as https://api.twitter.com" })
    .default("https://api.twitter.com"),
  outputDir: z.string().min(1).optional().describe("Where raw/ and archive/ go (relative to the config file); default: the job's state folder."),
  mode: z.enum(["continuous", "once"]).default("continuous").describe("continuous: poll for new tweets every pollInterval; once: collect startTime..endTime and finish."),
  startTime: isoTime("startTime").optional(),
  endTime: isoTime("endTime").optional(),
  pollInterval: duration("pollInterval", { bareAtLeast: 1000 }).prefault("5m").describe("continuous mode: time between the end of one sweep and the next."),
  pagesPerTask: z.number().int().min(1).max(1000).default(10).describe("Pages one fetch task fetches (each stored durably on its own) before it returns."),
  maxResults: z.number().int().optional().describe("Tweets per page; default 100 (recent, timeline) or 500 (full archive)."),
  requestTimeout: duration("requestTimeout", { bareAtLeast: 100 }).prefault("30s"),
  retry: retryConfigSchema,
  failureBackoff: duration("failureBackoff").prefault("1m").describe("Pause after a task used all its retries (the first rung of the ladder)."),
  failureBackoffFactor: z.number().min(1).max(10).default(2).describe("Each further failed task in a row multiplies the pause by this."),
  failureBackoffMax: duration("failureBackoffMax").prefault("15m").describe("Longest pause of the ladder."),
  failureLimit: z
    .number()
    .int()
    .min(0)
    .optional()
    .describe("Failed tasks in a row (each after its retries) after which the job fails; 0: never. Default: 5 for mode once, 0 for continuous."),
  rateLimitSlack: duration("rateLimitSlack")
    .prefault("250ms")
    .describe("Added to x-rate-limit-reset (which the API already rounds up to the second) before the next request: room for clock skew."),
  urlResolution: urlResolutionSchema,
  archive: archiveSchema,
};

function checkTimes(config: { mode: string; startTime?: string | undefined; endTime?: string | undefined }, ctx: z.RefinementCtx): void {
  if (config.endTime !== undefined && config.mode !== "once") {
    ctx.addIssue({ code: "custom", path: ["endTime"], message: "endTime needs mode: once (a continuous job keeps polling for new tweets)" });
  }
  if (config.startTime && config.endTime && Date.parse(config.startTime) >= Date.parse(config.endTime)) {
    ctx.addIssue({ code: "custom", path: ["endTime"], message: "endTime must be after startTime" });
  }
}

function checkMaxResults(value: number | undefined, min: number, max: number, ctx: z.RefinementCtx, what: string): void {
  if (value !== undefined && (value < min || value > max)) {
    ctx.addIssue({ code: "custom", path: ["maxResults"], message: `maxResults must be between ${min} and ${max} for ${what}` });
  }
}

export const searchConfigSchema = z
  .strictObject({
    query: z
      .string({ message: 'query is required: an X API v2 search query such as "#auspol -is:retweet"' })
      .trim()
      .min(1, "query is empty: give an X API v2 search query")
      .max(4096, "query is longer than 4096 characters (the API's limit for full-archive search)"),
    endpoint: z.enum(["recent", "all"]).default("recent").describe("recent: last 7 days (/2/tweets/search/recent); all: full archive (/2/tweets/search/all)."),
    ...common,
  })
  .superRefine((config, ctx) => {
    checkTimes(config, ctx);
    checkMaxResults(config.maxResults, 10, config.endpoint === "all" ? 500 : 100, ctx, `search/${config.endpoint}`);
  });

export const timelineConfigSchema = z
  .strictObject({
    userId: z.string().regex(/^\d{1,20}$/, "userId must be a numeric user id (use `username` for a handle)").optional(),
    username: z
      .string()
      .transform((value) => value.replace(/^@/, ""))
      .pipe(z.string().regex(/^\w{1,15}$/, "username must be 1-15 letters, digits or _ (without the @)"))
      .optional(),
    exclude: z.array(z.enum(["retweets", "replies"])).optional(),
    ...common,
  })
  .superRefine((config, ctx) => {
    if ((config.userId === undefined) === (config.username === undefined)) {
      ctx.addIssue({ code: "custom", path: ["userId"], message: "give exactly one of userId and username" });
    }
    checkTimes(config, ctx);
    checkMaxResults(config.maxResults, 5, 100, ctx, "user timelines");
  });

export type SearchConfig = z.output<typeof searchConfigSchema>;
export type TimelineConfig = z.output<typeof timelineConfigSchema>;
export type CollectorConfig = (SearchConfig & { kind: "search" }) | (TimelineConfig & { kind: "timeline" });
