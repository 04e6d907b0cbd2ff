import type { BuiltinOptions, BuiltinReport, ChartSpec } from "./queries/builtin.js";

/** One query to run, as the job hands it to the runQueries task (structured-clonable). */
export interface QuerySpec {
  name: string;
  title?: string | undefined;
  /** A built-in report, or SQL given inline or in a file. */
  builtin?: BuiltinReport | undefined;
  options?: BuiltinOptions | undefined;
  sql?: string | undefined;
  /** Absolute path of a .sql file (read when the run starts). */
  file?: string | undefined;
  params?: Record<string, unknown> | undefined;
  timeoutMs: number;
  maxRows: number;
  chart?: ChartSpec | undefined;
}

export interface QueryOutcome {
  name: string;
  title: string;
  kind: "builtin" | "sql";
  builtin?: BuiltinReport;
  rows: number;
  columns: string[];
  truncated: boolean;
  durationMs: number;
  /** File names inside the run folder. */
  files?: { csv: string; json: string };
  chart?: ChartSpec;
  error?: { code: string; message: string };
}

/** summary.json: what a run did. Also the runQueries task's result. */
export interface Manifest {
  version: 1;
  job: string;
  runId: string;
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  database: { dialect: "sqlite" | "postgres"; location: string };
  timeRange: {
    /** Configured window (ISO, inclusive from, exclusive to), or null. */
    from: string | null;
    to: string | null;
    /** Previous run's watermark used by new_tweets, or null on the first run. */
    since: string | null;
    /** created_at of the first and last collected tweet in the window. */
    firstTweetAt: string | null;
    lastTweetAt: string | null;
  };
  queries: QueryOutcome[];
  /** Number of queries that failed. */
  errors: number;
  ok: boolean;
  /** Absolute path of the run folder and of its report. */
  dir: string;
  report: string;
  /** Latest first_seen_at of the tweets (new_tweets compares the next run against it). */
  watermark: string | null;
}
