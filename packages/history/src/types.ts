/** What became of one attempt of a task. */
export type RunOutcome = "running" | "done" | "failed" | "timeout" | "retry" | "cancelled" | "interrupted";

/** Outcomes of attempts that did not succeed (`--failed`, the dashboard's failures). */
export const FAILURE_OUTCOMES: readonly RunOutcome[] = ["failed", "timeout", "retry", "interrupted"];

/** One attempt of one task, as stored. Times are ms since the epoch. */
export interface RunRecord {
  runId: string;
  attempt: number;
  job: string;
  plugin?: string | undefined;
  jobType?: string | undefined;
  /** `module#export` of the task's code. */
  task: string;
  signature?: string | undefined;
  queuedAt?: number | undefined;
  startedAt?: number | undefined;
  endedAt?: number | undefined;
  outcome: RunOutcome;
  code?: string | undefined;
  message?: string | undefined;
  durationMs?: number | undefined;
  /** Machine and process that recorded the run (the coordinator). */
  host?: string | undefined;
  pid?: number | undefined;
  /** The last progress the task reported, e.g. "120/400 pages". */
  progress?: string | undefined;
}

/** A stored run with its row id (newest first in queries). */
export interface RunRow extends RunRecord {
  id: number;
}

export type JobEventKind = "added" | "changed" | "paused" | "resumed" | "done" | "failed" | "removed" | "error";

export interface JobEventRecord {
  at: number;
  job: string;
  event: JobEventKind;
  code?: string | undefined;
  message?: string | undefined;
}

export interface JobEventRow extends JobEventRecord {
  id: number;
}

export interface RunQuery {
  job?: string | undefined;
  /** Runs that started (or were queued) at or after this time (ms). */
  since?: number | undefined;
  /** Only these outcomes; `failed: true` is a shorthand for the failure outcomes. */
  outcomes?: readonly RunOutcome[] | undefined;
  failed?: boolean | undefined;
  /** Substring of the signature or of the task. */
  search?: string | undefined;
  /** Rows with an id below this (paging, newest first; with `order: "ended"` only). */
  before?: number | undefined;
  /** Default 100, at most 10,000. */
  limit?: number | undefined;
  /**
   * Which runs are newest: "ended" (default; the order they were recorded in, running
   * ones first) or "started" (by start time, else queueing time: the time `ujr history`
   * shows, so that a long run that ended late sits where it began).
   */
  order?: "ended" | "started" | undefined;
}

export interface JobSummary {
  job: string;
  plugin?: string | undefined;
  jobType?: string | undefined;
  runs: number;
  done: number;
  failures: number;
  lastRunAt?: number | undefined;
  lastSuccessAt?: number | undefined;
  lastFailure?: { at: number; code?: string | undefined; message?: string | undefined } | undefined;
}

export interface HourBucket {
  /** Start of the hour (ms). */
  hour: number;
  runs: number;
  failures: number;
}

export interface FailureGroup {
  code: string;
  count: number;
  lastAt: number;
  lastMessage?: string | undefined;
}

export interface DurationStats {
  count: number;
  p50?: number | undefined;
  p90?: number | undefined;
  p99?: number | undefined;
  max?: number | undefined;
}

export interface Retention {
  /** Runs and job events older than this many days are deleted. */
  days: number;
  /** At most this many runs are kept (the newest). */
  runs: number;
}
