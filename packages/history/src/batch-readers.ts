import { fromStored, isFailure, type BatchContext, type StoredRun } from "./batches.js";
import { asReadNow } from "./recorder-process.js";
import { FAILURE_OUTCOMES, type DurationStats, type FailureGroup, type HourBucket, type JobSummary, type RunQuery, type RunRecord, type RunRow } from "./types.js";

/**
 * What the SQLite and PostgreSQL stores do alike with what they read: each store fetches
 * rows its own way (sync or async, its own SQL) and hands them to these.
 */

/** A column as a driver returns it (PostgreSQL: bigints as strings). */
export type Num = string | number | null;
export const num = (value: Num | undefined): number | null => (value === null || value === undefined ? null : Number(value));

const HOUR = 3_600_000;

/** When a stored run happened, for retention: its end, else its start or queueing. */
export const atOf = (row: StoredRun): number => row[6] ?? row[5] ?? row[4] ?? 0;

/** A batch's counts after pruning cut it to `rows` (not empty). */
export function countsOf(rows: readonly StoredRun[]): { runs: number; done: number; failures: number; firstAt: number } {
  let done = 0;
  let failures = 0;
  let firstAt = Number.POSITIVE_INFINITY;
  for (const row of rows) {
    if (row[7] === "done") done++;
    else if (isFailure(row[7])) failures++;
    firstAt = Math.min(firstAt, atOf(row));
  }
  return { runs: rows.length, done, failures, firstAt };
}

/** How `runs()` filters: the limit, which runs match, and whether only batches with failures can hold them. */
export function runFilter(query: RunQuery): { limit: number; matches: (run: RunRow) => boolean; onlyFailures: boolean } {
  const limit = Math.min(Math.max(1, Math.floor(query.limit ?? 100)), 10_000);
  const outcomes = query.outcomes ?? (query.failed ? FAILURE_OUTCOMES : undefined);
  const wanted = outcomes && outcomes.length > 0 ? new Set<string>(outcomes) : undefined;
  const search = query.search ? query.search.toLowerCase() : undefined;
  const matches = (run: RunRow) => {
    if (wanted && !wanted.has(run.outcome)) return false;
    if (query.since !== undefined && (run.startedAt ?? run.queuedAt ?? run.endedAt ?? 0) < query.since) return false;
    if (query.before !== undefined && run.id >= query.before) return false;
    if (search && !(run.signature ?? "").toLowerCase().includes(search) && !run.task.toLowerCase().includes(search)) return false;
    return true;
  };
  return { limit, matches, onlyFailures: wanted !== undefined && [...wanted].every((outcome) => isFailure(outcome)) };
}

/** Runs still running (no batch yet): ids above every batch's, newest start first; those whose runner is gone as interrupted. */
export function runningRuns(rows: ReadonlyArray<{ job: string; host: string | null; pid: number | null; row: string; plugin?: string | null; job_type?: string | null }>): RunRow[] {
  return rows
    .map((row) => fromStored(JSON.parse(row.row) as StoredRun, 0, { id: 0, job: row.job, host: row.host, pid: row.pid, plugin: row.plugin, jobType: row.job_type }))
    .sort((a, b) => (b.startedAt ?? 0) - (a.startedAt ?? 0))
    .map((run, index) => asReadNow({ ...run, id: Number.MAX_SAFE_INTEGER - index }));
}

/** Adds a batch's matching runs to `found`, newest first; true once `limit` are found. */
export function collectRuns(found: RunRow[], rows: readonly StoredRun[], context: BatchContext, matches: (run: RunRow) => boolean, limit: number): boolean {
  for (let index = rows.length - 1; index >= 0; index--) {
    const run = fromStored(rows[index]!, index, context);
    if (!matches(run)) continue;
    found.push(run);
    if (found.length >= limit) return true;
  }
  return false;
}

/** When a run began, for `order: "started"`: its start, else its queueing (never after its end). */
export const beganAt = (run: RunRecord): number => run.startedAt ?? run.queuedAt ?? run.endedAt ?? 0;

/** The order of `order: "started"`: the run that began last first; ties by row id, newest first. */
export const byNewestBegun = (a: RunRow, b: RunRow): number => beganAt(b) - beganAt(a) || b.id - a.id;

/**
 * The `limit` runs that began last, fed batch by batch in descending `last_at` (the
 * latest time of any run in the batch). A run begins no later than its batch's `last_at`,
 * so once `limit` runs are held and a batch's `last_at` is earlier than the start of the
 * oldest-begun held run, neither it nor any batch after it can hold one that belongs.
 */
export class NewestBegun {
  #runs: RunRow[] = [];
  constructor(readonly limit: number) {}

  add(run: RunRow): void {
    this.#runs.push(run);
    if (this.#runs.length >= 2 * this.limit) this.#trim();
  }

  /** True when no run of a batch whose latest time is `lastAt` can be among the newest. */
  done(lastAt: number): boolean {
    if (this.#runs.length < this.limit) return false;
    this.#trim();
    return lastAt < beganAt(this.#runs.at(-1)!);
  }

  /** Newest start first; ties by row id, newest first. */
  runs(): RunRow[] {
    this.#trim();
    return this.#runs;
  }

  #trim(): void {
    this.#runs.sort(byNewestBegun);
    this.#runs.length = Math.min(this.#runs.length, this.limit);
  }
}

/** A job's summary from its row of totals (`job_stats`). */
export function summaryFromStats(row: Record<string, Num>): JobSummary {
  const summary: JobSummary = { job: String(row.job), runs: num(row.runs) ?? 0, done: num(row.done) ?? 0, failures: num(row.failures) ?? 0 };
  if (row.plugin) summary.plugin = String(row.plugin);
  if (row.job_type) summary.jobType = String(row.job_type);
  if (row.last_run_at) summary.lastRunAt = num(row.last_run_at)!;
  if (row.last_success_at) summary.lastSuccessAt = num(row.last_success_at)!;
  if (row.last_failure_at) {
    summary.lastFailure = { at: num(row.last_failure_at)! };
    if (row.last_failure_code) summary.lastFailure.code = String(row.last_failure_code);
    if (row.last_failure_message) summary.lastFailure.message = String(row.last_failure_message);
  }
  return summary;
}

/** Counts a batch's runs that started (or were queued) at or after `since` into per-job summaries. */
export function addToSummaries(byJob: Map<string, JobSummary>, rows: readonly StoredRun[], context: BatchContext, since: number): void {
  for (const stored of rows) {
    const run = fromStored(stored, 0, context);
    const at = run.endedAt ?? run.startedAt ?? run.queuedAt ?? 0;
    if ((run.startedAt ?? run.queuedAt ?? at) < since) continue;
    let summary = byJob.get(run.job);
    if (!summary) {
      summary = { job: run.job, runs: 0, done: 0, failures: 0, ...(run.plugin ? { plugin: run.plugin } : {}), ...(run.jobType ? { jobType: run.jobType } : {}) };
      byJob.set(run.job, summary);
    }
    summary.runs++;
    if (summary.lastRunAt === undefined || at > summary.lastRunAt) summary.lastRunAt = at;
    if (run.outcome === "done") {
      summary.done++;
      if (summary.lastSuccessAt === undefined || at > summary.lastSuccessAt) summary.lastSuccessAt = at;
    } else if (isFailure(run.outcome)) {
      summary.failures++;
      if (!summary.lastFailure || at >= summary.lastFailure.at) summary.lastFailure = { at, ...(run.code ? { code: run.code } : {}), ...(run.message ? { message: run.message } : {}) };
    }
  }
}

export const sortedSummaries = (byJob: Map<string, JobSummary>): JobSummary[] => [...byJob.values()].sort((a, b) => a.job.localeCompare(b.job));

/** The first hour of the last `hours` hours (the current one included). */
export const firstHour = (now: number, hours: number): number => Math.floor(now / HOUR) * HOUR + HOUR - hours * HOUR;

/** One bucket per hour from `start` (oldest first), empty hours included. */
export function hourBuckets(rows: ReadonlyArray<{ hour: Num; runs: Num; failures: Num }>, start: number, hours: number): HourBucket[] {
  const byHour = new Map(rows.map((row) => [Number(row.hour), row]));
  return Array.from({ length: hours }, (_, index) => {
    const hour = start + index * HOUR;
    const row = byHour.get(hour);
    return { hour, runs: Number(row?.runs ?? 0), failures: Number(row?.failures ?? 0) };
  });
}

/** Adds a batch's failures (ended at or after `since`) to the groups by error code. */
export function addFailures(groups: Map<string, FailureGroup>, rows: readonly StoredRun[], since: number | undefined): void {
  for (const stored of rows) {
    const [, , , , , startedAt, endedAt, outcome, code, message] = stored;
    if (!isFailure(outcome)) continue;
    const at = endedAt ?? startedAt ?? 0;
    if (since !== undefined && at < since) continue;
    const key = code ?? "UNKNOWN";
    const group = groups.get(key);
    if (!group) groups.set(key, { code: key, count: 1, lastAt: at, ...(message !== null ? { lastMessage: message } : {}) });
    else {
      group.count++;
      if (at > group.lastAt) {
        group.lastAt = at;
        if (message !== null) group.lastMessage = message;
      }
    }
  }
}

/** Most frequent first, then most recent. */
export const sortedFailures = (groups: Map<string, FailureGroup>): FailureGroup[] => [...groups.values()].sort((a, b) => b.count - a.count || b.lastAt - a.lastAt);

/** Duration percentiles look at a job's most recent successful runs, at most this many. */
export const DURATION_SAMPLE = 10_000;

/** Adds the running times of a batch's successful runs (ended at or after `since`). */
export function addDurations(values: number[], rows: readonly StoredRun[], since: number | undefined): void {
  for (const stored of rows) {
    if (stored[7] !== "done" || stored[10] === null) continue;
    if (since !== undefined && (stored[6] ?? 0) < since) continue;
    values.push(stored[10]);
  }
}

/** Percentiles (nearest rank) of the running times. */
export function durationStats(values: number[]): DurationStats {
  if (values.length === 0) return { count: 0 };
  values.sort((a, b) => a - b);
  const rank = (p: number) => values[Math.max(0, Math.ceil((p / 100) * values.length) - 1)]!;
  return { count: values.length, p50: rank(50), p90: rank(90), p99: rank(99), max: values.at(-1) };
}
