import { PLUGIN_API_VERSION, defineJobType, definePlugin, isDuration, parseDuration, z } from "@ujr/core";
import { TidyJob } from "./job.js";

const duration = z.union([
  z.number().nonnegative(),
  z.string().refine(isDuration, { message: 'a duration like "500ms", "30s", "5m", "1h"' }),
]);

/** The shortest pollInterval: a check lists every input, and is a task the run history records. */
export const MIN_POLL_INTERVAL_MS = 100;

/** At least MIN_POLL_INTERVAL_MS (a value that is not a duration at all is the union's to report). */
const longEnough = (value: string | number): boolean => {
  try {
    return parseDuration(value) >= MIN_POLL_INTERVAL_MS;
  } catch {
    return true;
  }
};

export const tidyConfigSchema = z.object({
  inputs: z
    .array(z.string().min(1))
    .min(1)
    .describe("Folders (searched recursively), files or globs of raw data (.jsonl, .jsonl.gz, .ndjson, .ndjson.gz, .tar.gz), relative to the config file's folder; a file named here is read whatever its name."),
  database: z
    .string()
    .min(1)
    .optional()
    .describe("SQLite file (relative to the config file's folder) or a postgres:// URL (optional ?schema=name). Default: tidy.sqlite in the job's state folder."),
  mode: z.enum(["continuous", "once"]).default("continuous").describe("continuous: keep picking up new files; once: finish when everything present is tidied."),
  pollInterval: duration
    .refine((value) => longEnough(value), {
      message: `at least ${MIN_POLL_INTERVAL_MS}ms: the time between two checks of the inputs, e.g. "30s" (a number is milliseconds: 30 is 30 ms; a shorter interval lists every input folder again and again, almost without a pause, and fills the run history with checks)`,
    })
    .default("30s")
    .describe(`How often to check the inputs for new files (at least ${MIN_POLL_INTERVAL_MS}ms; a number is milliseconds).`),
  settleTime: duration.default("2s").describe("A file whose mtime is older than this is read at once; newer files must keep size and mtime between two checks."),
  parallel: z
    .number()
    .int()
    .min(1)
    .max(64)
    .optional()
    .describe("PostgreSQL only: files tidied in parallel. Default: the machine's cores, at most 4. SQLite always loads one file at a time."),
  maxAttempts: z.number().int().min(1).default(3).describe("Tries per file before it is reported failed."),
  fileTimeout: duration.optional().describe("Time limit for tidying one file."),
});

export type TidyConfig = z.output<typeof tidyConfigSchema>;

export const plugin = definePlugin({
  name: "@ujr/plugin-tweet-tidier",
  apiVersion: PLUGIN_API_VERSION,
  description: "Tidy raw Twitter/X API v2 pages (twarc2 JSONL) into SQLite or PostgreSQL, exactly once.",
  jobs: {
    tidy: defineJobType({
      description: "Tidies raw twarc2 JSONL files (.jsonl, .jsonl.gz, collector .tar.gz archives, URL sidecars) into a relational database.",
      config: tidyConfigSchema,
      create: (config, ctx) => new TidyJob(config, ctx),
    }),
  },
});
