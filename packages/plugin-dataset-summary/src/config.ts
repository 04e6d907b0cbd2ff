/** The `summary` job type's config schema (zod, from @ujr/core). */
import { z } from "@ujr/core";
import { parseDuration } from "./internal/duration.js";
import { BUILTIN_REPORTS } from "./queries/builtin.js";
import { validateCron } from "./schedule.js";

const duration = (def: string) =>
  z
    .union([z.string(), z.number()])
    .default(def)
    .transform((v, ctx) => {
      const ms = parseDuration(v);
      if (ms === undefined) {
        ctx.addIssue({ code: "custom", message: `"${v}" is not a duration: use e.g. 500ms, 30s, 5m, 1h30m, 1d` });
        return z.NEVER;
      }
      return ms;
    });

const optionalDuration = z
  .union([z.string(), z.number()])
  .optional()
  .transform((v, ctx) => {
    if (v === undefined) return undefined;
    const ms = parseDuration(v);
    if (ms === undefined) {
      ctx.addIssue({ code: "custom", message: `"${v}" is not a duration: use e.g. 30s, 5m, 1h, 7d` });
      return z.NEVER;
    }
    return ms;
  });

const isoTime = z.string().refine((s) => !Number.isNaN(Date.parse(s)), "not a date/time: use ISO 8601, e.g. 2024-05-01T00:00:00Z");

const queryName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/, "use letters, digits, _ and - (it names the query's files)");

const chartSchema = z.strictObject({ type: z.enum(["line", "bar"]), x: z.string(), y: z.string() });

const paramValue = z.union([z.string(), z.number(), z.boolean(), z.null()]);

const common = {
  name: queryName,
  title: z.string().optional(),
  timeout: optionalDuration,
  maxRows: z.number().int().positive().optional(),
};

export const builtinQuerySchema = z.strictObject({
  ...common,
  builtin: z.enum(BUILTIN_REPORTS),
  interval: z.enum(["hour", "day"]).optional(),
  limit: z.number().int().positive().max(100_000).optional(),
  chart: chartSchema.optional(),
});

export const sqlQuerySchema = z.strictObject({
  ...common,
  sql: z.string().min(1),
  params: z.record(z.string(), paramValue).default({}),
  chart: chartSchema.optional(),
});

export const fileQuerySchema = z.strictObject({
  ...common,
  file: z.string().min(1),
  params: z.record(z.string(), paramValue).default({}),
  chart: chartSchema.optional(),
});

export const querySchema = z.union([builtinQuerySchema, sqlQuerySchema, fileQuerySchema]);

const when = z.enum(["always", "errors", "success"]).default("always");

export const webhookTargetSchema = z.strictObject({
  type: z.literal("webhook"),
  name: queryName.optional(),
  /** May hold a secret (Slack/Teams webhooks): never logged, only its origin. */
  url: z.url({ protocol: /^https?$/ }),
  headers: z.record(z.string(), z.string()).optional(),
  timeout: duration("10s"),
  retry: z
    .strictObject({ attempts: z.number().int().min(1).max(20).default(4), base: duration("1s"), max: duration("30s") })
    .prefault({}),
  allowPrivateAddresses: z.boolean().default(false),
  on: when,
});

export const emailTargetSchema = z.strictObject({
  type: z.literal("email"),
  name: queryName.optional(),
  host: z.string().min(1),
  port: z.number().int().min(1).max(65535).default(587),
  secure: z.boolean().optional(),
  requireTLS: z.boolean().optional(),
  ignoreTLS: z.boolean().optional(),
  user: z.string().optional(),
  password: z.string().optional(),
  from: z.string().min(3),
  to: z.union([z.string(), z.array(z.string()).min(1)]).transform((v) => (Array.isArray(v) ? v : [v])),
  subject: z.string().optional(),
  attach: z.boolean().default(true),
  timeout: duration("30s"),
  allowPrivateAddresses: z.boolean().default(false),
  on: when,
});

export const folderTargetSchema = z.strictObject({
  type: z.literal("folder"),
  name: queryName.optional(),
  path: z.string().min(1),
  includeData: z.boolean().default(false),
  on: when,
});

export const targetSchema = z.discriminatedUnion("type", [webhookTargetSchema, emailTargetSchema, folderTargetSchema]);

export const scheduleSchema = z
  .strictObject({
    every: optionalDuration,
    cron: z.union([z.string(), z.array(z.string()).min(1)]).optional(),
    timezone: z.string().optional(),
    runOnStart: z.boolean().default(false),
    once: z.boolean().optional(),
  })
  .superRefine((s, ctx) => {
    const kinds = [s.every !== undefined, s.cron !== undefined, s.once === true].filter(Boolean).length;
    if (kinds !== 1) ctx.addIssue({ code: "custom", message: 'set exactly one of "every" (interval), "cron" or "once: true"' });
    if (s.every !== undefined && s.every < 1000) ctx.addIssue({ code: "custom", path: ["every"], message: "the interval must be at least 1s" });
    if (s.timezone && s.cron === undefined) ctx.addIssue({ code: "custom", path: ["timezone"], message: '"timezone" applies to "cron" only' });
    for (const expr of s.cron === undefined ? [] : Array.isArray(s.cron) ? s.cron : [s.cron]) {
      const problem = validateCron(expr, s.timezone);
      if (problem) ctx.addIssue({ code: "custom", path: ["cron"], message: problem });
    }
  });

const defaultQueries = BUILTIN_REPORTS.map((b) => ({ name: b, builtin: b }));

export const summaryConfigSchema = z
  .strictObject({
    /** SQLite file (relative to the config file's folder) or a postgres:// URL. */
    database: z.string().min(1),
    outDir: z.string().default("./summaries"),
    keep: z.number().int().min(1).default(30),
    title: z.string().optional(),
    schedule: scheduleSchema,
    range: z
      .strictObject({ from: isoTime.optional(), to: isoTime.optional(), last: optionalDuration })
      .refine((r) => !(r.last !== undefined && r.from !== undefined), '"last" and "from" exclude each other')
      .optional(),
    queries: z.array(querySchema).min(1).default(defaultQueries as never),
    queryTimeout: duration("60s"),
    maxRows: z.number().int().positive().default(100_000),
    runTimeout: duration("30m"),
    reportBaseUrl: z.url().optional(),
    notify: z.array(targetSchema).default([]),
    notifyRetry: z
      .strictObject({ attempts: z.number().int().min(1).max(100).default(5), base: duration("1m"), max: duration("1h") })
      .prefault({}),
  })
  .superRefine((c, ctx) => {
    const seen = new Set<string>();
    c.queries.forEach((q, i) => {
      if (seen.has(q.name)) ctx.addIssue({ code: "custom", path: ["queries", i, "name"], message: `duplicate query name "${q.name}"` });
      seen.add(q.name);
    });
    const targets = new Set<string>();
    c.notify.forEach((t, i) => {
      const name = targetName(t, i);
      if (targets.has(name)) ctx.addIssue({ code: "custom", path: ["notify", i, "name"], message: `duplicate target name "${name}"` });
      targets.add(name);
    });
  });

export type SummaryConfig = z.output<typeof summaryConfigSchema>;
export type SummaryConfigInput = z.input<typeof summaryConfigSchema>;
export type TargetConfig = z.output<typeof targetSchema>;
export type QueryConfig = z.output<typeof querySchema>;

/** A target's stable name: its `name`, else `<type>-<index>`. */
export function targetName(t: { type: string; name?: string | undefined }, index: number): string {
  return t.name ?? `${t.type}-${index + 1}`;
}
