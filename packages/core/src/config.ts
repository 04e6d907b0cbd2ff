import { z } from "zod";
import { isDuration, parseDuration } from "./duration.js";
import { knownKeysAt } from "./config-keys.js";
import { didYouMean } from "./suggest.js";
import { LOG_LEVELS } from "./logger.js";

/** The longest delay Node's timers can wait (about 24.8 days); longer ones fire at once. */
export const MAX_TIMER_MS = 2_147_483_647;
const timerLimit = { message: `at most ${MAX_TIMER_MS} ms (about 24 days): the longest delay a timer can wait` };

/** A duration: a number of ms (checked by `numberOfMs`) or a string such as "30s". */
const durationOf = (numberOfMs: z.ZodType<number>) =>
  z
    .union([numberOfMs, z.string().refine(isDuration, { message: 'a duration such as "500ms", "30s", "5m", "2h"' })])
    .transform((value) => parseDuration(value))
    .pipe(z.number().max(MAX_TIMER_MS, timerLimit));

const duration = durationOf(z.number().nonnegative());

/**
 * A duration of seconds or more, where a bare number under 1000 was meant as seconds:
 * `taskTimeout: 60` as 60 ms times every task out at once, `shutdownGrace: 30` gives no
 * grace. Refused with the fix; "60s" or "60ms" says which on purpose.
 */
const longDuration = durationOf(
  z
    .number()
    .nonnegative()
    .refine((value) => !(value > 0 && value < 1000), {
      error: (issue) =>
        `${String(issue.input)} would be ${String(issue.input)} milliseconds (a bare number is milliseconds): write "${String(issue.input)}s" for seconds, or "${String(issue.input)}ms" if you mean milliseconds`,
    }),
);

export const logLevelSchema = z.enum(LOG_LEVELS);

export const retrySchema = z.strictObject({
  attempts: z.number().int().min(1).describe("Tries in all, the first included (1: no retry)."),
  baseMs: z.number().int().nonnegative().max(MAX_TIMER_MS, timerLimit).optional(),
  maxMs: z.number().int().nonnegative().max(MAX_TIMER_MS, timerLimit).optional(),
  factor: z.number().min(1).optional(),
  jitter: z.number().min(0).max(1).optional(),
});

export const executorSchema = z.discriminatedUnion("kind", [
  z.strictObject({ kind: z.literal("local") }),
  z.strictObject({
    kind: z.literal("bullmq"),
    redis: z.string().min(1).describe("redis:// URL of the queue's Redis."),
    queue: z.string().min(1).default("ujr"),
    prefix: z
      .string()
      .min(1)
      .optional()
      .describe('BullMQ key prefix (default "bull"); the workers need the same. On Redis Cluster use a hash tag, such as "{ujr}", so that a queue\'s keys share a slot.'),
    size: z
      .number()
      .int()
      .min(1)
      .optional()
      .describe("Most tasks this coordinator keeps queued or running at once (default 64): about twice the total concurrency of the workers."),
  }),
]);

export const statusSchema = z.strictObject({
  port: z
    .number()
    .int()
    .min(0)
    .max(65535)
    .optional()
    .describe("Port of /status, /metrics, /healthz; --status-port overrides it; default 9464 (what `ujr status` looks at); 0: any free port."),
  host: z.string().default("127.0.0.1").describe("Bind address; loopback by default."),
  token: z.string().optional().describe("Bearer token required by the endpoints."),
  allowedHosts: z
    .array(z.string().min(1))
    .optional()
    .describe(
      'Without a token, only requests whose Host header is localhost, 127.0.0.1, [::1] or the bind address are answered (against DNS rebinding); more names here (e.g. "status.internal:9464"), or "*" for any.',
    ),
});

export const historySchema = z.union([
  z.literal(false).describe("No run history."),
  z.strictObject({
    file: z.string().min(1).optional().describe("SQLite file of the run history (relative to the config's folder); default: <dataDir>/_history.sqlite."),
    url: z
      .string()
      .regex(/^postgres(ql)?:\/\//, { message: "a postgres:// URL" })
      .optional()
      .describe("PostgreSQL instead of SQLite (postgres://...), for several coordinators sharing one history."),
    schema: z.string().regex(/^[a-z_][a-z0-9_]*$/).optional().describe('PostgreSQL schema of the tables (default "ujr_history").'),
    retention: z
      .strictObject({
        days: z.number().positive().default(30).describe("Runs and job events older than this are deleted."),
        runs: z.number().int().positive().default(100_000).describe("At most this many runs are kept (the newest)."),
      })
      .default({ days: 30, runs: 100_000 }),
    flushInterval: duration.default(200).describe("How often recorded runs are written (one transaction per batch)."),
  }),
]);

export const runnerConfigSchema = z.strictObject({
  workers: z.number().int().positive().optional().describe("Pool size; default: available CPUs."),
  isolation: z.enum(["process", "thread"]).default("process"),
  checkInterval: longDuration.default(60_000).describe("Upper bound between rounds; events wake the runner sooner."),
  maxTasksPerJob: z.number().int().positive().optional().describe("Default: the pool size."),
  dataDir: z.string().default("./data").describe("Each job gets a state folder below it."),
  shutdownGrace: longDuration.default(30_000).describe("How long running tasks may finish after a stop signal."),
  taskTimeout: longDuration.optional().describe("Default timeout of every task."),
  retry: retrySchema.optional().describe("Default retry policy of every task."),
  logLevel: logLevelSchema.optional(),
  keepAlive: z.boolean().default(false).describe("Keep running (and watching the config) when every job is done."),
  executor: executorSchema.default({ kind: "local" }),
  status: statusSchema.optional(),
  history: historySchema
    .optional()
    .describe("Run history (every task run and job event) kept across restarts by @ujr/history; unset: kept when @ujr/history is installed; false: none."),
});

export const jobNamePattern = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

export const jobConfigSchema = z.strictObject({
  plugin: z.string().min(1).describe("npm package name of the plugin, or a ./relative path."),
  type: z.string().min(1).describe("A job type the plugin declares."),
  config: z.unknown().optional(),
  enabled: z.boolean().default(true),
  maxTasksPerJob: z.number().int().positive().optional(),
  taskTimeout: longDuration.optional(),
  retry: retrySchema.optional(),
});

export const configFileSchema = z.strictObject({
  $schema: z.string().optional(),
  runner: runnerConfigSchema.default(() => runnerConfigSchema.parse({})),
  jobs: z
    .record(
      z.string().regex(jobNamePattern, { message: "job names use letters, digits, '.', '_' and '-' and start with a letter or digit" }),
      jobConfigSchema,
    )
    .default({}),
});

export type RunnerConfig = z.output<typeof runnerConfigSchema>;
export type JobConfig = z.output<typeof jobConfigSchema>;
export type ConfigFile = z.output<typeof configFileSchema>;
/** The runner section as written (durations as "30s" or ms, defaults not yet filled). */
export type RunnerConfigInput = z.input<typeof runnerConfigSchema>;
/** A job entry as written, before its plugin's schema. */
export type JobConfigInput = z.input<typeof jobConfigSchema>;

export interface ConfigIssue {
  /** Dotted path in the file, e.g. `jobs.auspol.config.query`. */
  path: string;
  message: string;
  code?: string;
}

/**
 * Flattens zod issues into path + message pairs, prefixed with `prefix`. Given the
 * schema that made them, an unknown key gets the known keys close to it ("did you mean").
 */
export function zodIssues(error: z.ZodError, prefix: (string | number)[] = [], schema?: z.ZodType): ConfigIssue[] {
  return error.issues.flatMap((issue): ConfigIssue[] => {
    const path = [...prefix, ...issue.path.map((part) => (typeof part === "symbol" ? String(part) : part))];
    if (issue.code === "unrecognized_keys") {
      // One issue per key, at the key itself: each gets its own line and suggestion.
      const known = schema ? knownKeysAt(schema, issue.path) : [];
      return issue.keys.map((key) => ({ path: formatPath([...path, key]), message: `unknown key "${key}".${didYouMean(key, known)}`, code: issue.code }));
    }
    if (issue.code === "invalid_union" && Array.isArray(issue.errors) && issue.errors.length > 0) return unionIssues(issue.errors, path, schema, issue.path);
    let message = issue.message;
    if (issue.code === "invalid_key" && issue.issues[0]) message = `invalid name: ${issue.issues[0].message}`;
    return [{ path: formatPath(path), message, code: issue.code }];
  });
}

/**
 * A value that fits no branch of a union (`history: false` or a mapping): zod says only
 * "Invalid input". The branch whose kind the value has (a mapping for a mapping) says what
 * is wrong inside it, at its own keys; a value of no branch's kind is told the kinds.
 */
function unionIssues(branches: z.core.$ZodIssue[][], path: (string | number)[], schema: z.ZodType | undefined, at: PropertyKey[]): ConfigIssue[] {
  const wrongKind = (issues: z.core.$ZodIssue[]) => issues.length === 1 && issues[0]!.path.length === 0 && (issues[0]!.code === "invalid_type" || issues[0]!.code === "invalid_value");
  const ofItsKind = branches.filter((issues) => !wrongKind(issues));
  if (ofItsKind.length === 1) {
    const inner = new z.ZodError(ofItsKind[0]!.map((issue) => ({ ...issue, path: [...at, ...issue.path] })) as z.core.$ZodIssue[]);
    return zodIssues(inner, path.slice(0, path.length - at.length), schema);
  }
  const kinds = branches.flatMap((issues) => {
    const first = issues[0];
    if (first?.code === "invalid_type") return [first.expected === "object" ? "a mapping" : first.expected];
    if (first?.code === "invalid_value") return first.values.map((value) => JSON.stringify(value));
    return [];
  });
  const message = kinds.length === branches.length ? `expected ${[...new Set(kinds)].join(" or ")}` : "Invalid input";
  return [{ path: formatPath(path), message, code: "invalid_union" }];
}

export function formatPath(path: (string | number)[]): string {
  return path.map((part, index) => (typeof part === "number" ? `[${part}]` : index === 0 ? part : `.${part}`)).join("") || "(root)";
}
