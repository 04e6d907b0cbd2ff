/**
 * What the dashboard reads from a run history. `@ujr/history`'s HistoryStore has this
 * shape; runner-local does not depend on it (the CLI passes one in when history is on).
 */
/** Outcomes of a run in the history. */
export type DashboardRunOutcome = "running" | "done" | "failed" | "timeout" | "retry" | "cancelled" | "interrupted";

export interface DashboardRunQuery {
  job?: string | undefined;
  since?: number | undefined;
  outcomes?: readonly DashboardRunOutcome[] | undefined;
  failed?: boolean | undefined;
  search?: string | undefined;
  before?: number | undefined;
  limit?: number | undefined;
}

export interface DashboardJobSummary {
  job: string;
  runs: number;
  done: number;
  failures: number;
  lastRunAt?: number | undefined;
  lastSuccessAt?: number | undefined;
  lastFailure?: { at: number; code?: string | undefined; message?: string | undefined } | undefined;
}

type Maybe<T> = T | Promise<T>;

/** SQLite's store answers at once, PostgreSQL's with promises: the dashboard awaits either. */
export interface DashboardHistory {
  /** Resolves once everything recorded so far can be read. */
  settled(): Promise<void>;
  runs(query: DashboardRunQuery): Maybe<unknown[]>;
  jobSummaries(options?: { since?: number | undefined; job?: string | undefined }): Maybe<DashboardJobSummary[]>;
  hourly(options?: { hours?: number | undefined; job?: string | undefined }): Maybe<Array<{ hour: number; runs: number; failures: number }>>;
  failuresByCode(job: string): Maybe<unknown[]>;
  durations(job: string): Maybe<unknown>;
  jobEvents(options?: { job?: string | undefined; limit?: number | undefined }): Maybe<unknown[]>;
  pausedJobs(): Maybe<string[]>;
}
