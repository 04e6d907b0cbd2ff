import { RowPacker } from "./packed-rows.js";
import { FAILURE_OUTCOMES, type RunOutcome, type RunRecord, type RunRow } from "./types.js";

/**
 * A run as stored inside a batch: positions, not names (smaller, faster to write).
 * The job, machine and process are the batch's; plugin and job type are the job's.
 */
export type StoredRun = [
  runId: string,
  attempt: number,
  task: string,
  signature: string | null,
  queuedAt: number | null,
  startedAt: number | null,
  endedAt: number | null,
  outcome: RunOutcome,
  code: string | null,
  message: string | null,
  durationMs: number | null,
  progress: string | null,
];

export function toStored(run: RunRecord): StoredRun {
  return [
    run.runId,
    run.attempt,
    run.task,
    run.signature ?? null,
    run.queuedAt ?? null,
    run.startedAt ?? null,
    run.endedAt ?? null,
    run.outcome,
    run.code ?? null,
    run.message ?? null,
    run.durationMs ?? null,
    run.progress ?? null,
  ];
}

/** Row ids: batch id × this + position in the batch (ordered, unique, stable). */
export const ROWS_PER_BATCH_ID = 1_000_000;

export interface BatchContext {
  id: number;
  job: string;
  host: string | null;
  pid: number | null;
  plugin?: string | null | undefined;
  jobType?: string | null | undefined;
}

export function fromStored(stored: StoredRun, index: number, batch: BatchContext): RunRow {
  const [runId, attempt, task, signature, queuedAt, startedAt, endedAt, outcome, code, message, durationMs, progress] = stored;
  const row: RunRow = { id: batch.id * ROWS_PER_BATCH_ID + index, runId, attempt, job: batch.job, task, outcome };
  if (batch.plugin) row.plugin = batch.plugin;
  if (batch.jobType) row.jobType = batch.jobType;
  if (signature !== null) row.signature = signature;
  if (queuedAt !== null) row.queuedAt = queuedAt;
  if (startedAt !== null) row.startedAt = startedAt;
  if (endedAt !== null) row.endedAt = endedAt;
  if (code !== null) row.code = code;
  if (message !== null) row.message = message;
  if (durationMs !== null) row.durationMs = durationMs;
  if (batch.host !== null) row.host = batch.host;
  if (batch.pid !== null) row.pid = batch.pid;
  if (progress !== null) row.progress = progress;
  return row;
}

const failureSet = new Set<string>(FAILURE_OUTCOMES);
export const isFailure = (outcome: string): boolean => failureSet.has(outcome);

const HOUR = 3_600_000;

/** What one flush writes: built on the runner's thread, written by the writer (thread or inline). */
export interface WriteSet {
  batches: Array<{ job: string; host: string | null; pid: number | null; firstAt: number; lastAt: number; runs: number; done: number; failures: number; rows: string }>;
  stats: Array<{
    job: string;
    plugin: string | null;
    jobType: string | null;
    runs: number;
    done: number;
    failures: number;
    lastRunAt: number | null;
    lastSuccessAt: number | null;
    lastFailureAt: number | null;
    lastFailureCode: string | null;
    lastFailureMessage: string | null;
  }>;
  hourly: Array<{ hour: number; job: string; runs: number; failures: number }>;
  running: Array<{ runId: string; job: string; host: string | null; pid: number | null; row: string }>;
  /** Runs recorded as running before, now settled (their running row goes). */
  settled: string[];
  events: Array<[at: number, job: string, event: string, code: string | null, message: string | null]>;
}

/** Groups settled runs into one batch per job, with the totals and hourly counts they add. */
export function buildWriteSet(runs: Iterable<RunRecord>, wasRunning: (run: RunRecord) => boolean): WriteSet {
  const set: WriteSet = { batches: [], stats: [], hourly: [], running: [], settled: [], events: [] };
  type Entry = { rows: RowPacker; host: string | null; pid: number | null; stat: WriteSet["stats"][number]; firstAt: number; lastAt: number; hours: Map<number, WriteSet["hourly"][number]>; bucket?: WriteSet["hourly"][number] };
  const perJob = new Map<string, Entry>();
  // The busiest path: one lookup per run, the hour's bucket remembered while it stays the same.
  let last: { job: string; entry: Entry } | undefined;
  for (const run of runs) {
    if (run.outcome === "running") {
      set.running.push({ runId: run.runId, job: run.job, host: run.host ?? null, pid: run.pid ?? null, row: JSON.stringify(toStored(run)) });
      continue;
    }
    if (wasRunning(run)) set.settled.push(run.runId);
    let entry = last?.job === run.job ? last.entry : perJob.get(run.job);
    const at = run.endedAt ?? run.startedAt ?? run.queuedAt ?? 0;
    if (!entry) {
      entry = {
        hours: new Map(),
        rows: new RowPacker(),
        host: run.host ?? null,
        pid: run.pid ?? null,
        firstAt: at,
        lastAt: at,
        stat: { job: run.job, plugin: run.plugin ?? null, jobType: run.jobType ?? null, runs: 0, done: 0, failures: 0, lastRunAt: null, lastSuccessAt: null, lastFailureAt: null, lastFailureCode: null, lastFailureMessage: null },
      };
      perJob.set(run.job, entry);
    }
    last = { job: run.job, entry };
    entry.rows.add(run);
    if (at < entry.firstAt) entry.firstAt = at;
    if (at > entry.lastAt) entry.lastAt = at;
    const stat = entry.stat;
    stat.runs++;
    if (stat.lastRunAt === null || at > stat.lastRunAt) stat.lastRunAt = at;
    const failed = isFailure(run.outcome);
    if (run.outcome === "done") {
      stat.done++;
      if (stat.lastSuccessAt === null || at > stat.lastSuccessAt) stat.lastSuccessAt = at;
    } else if (failed) {
      stat.failures++;
      if (stat.lastFailureAt === null || at >= stat.lastFailureAt) {
        stat.lastFailureAt = at;
        stat.lastFailureCode = run.code ?? null;
        stat.lastFailureMessage = run.message ?? null;
      }
    }
    const hour = Math.floor(at / HOUR) * HOUR;
    let bucket = entry.bucket?.hour === hour ? entry.bucket : entry.hours.get(hour);
    if (!bucket) {
      bucket = { hour, job: run.job, runs: 0, failures: 0 };
      entry.hours.set(hour, bucket);
    }
    entry.bucket = bucket;
    bucket.runs++;
    if (failed) bucket.failures++;
  }
  for (const [job, entry] of perJob) {
    set.batches.push({ job, host: entry.host, pid: entry.pid, firstAt: entry.firstAt, lastAt: entry.lastAt, runs: entry.stat.runs, done: entry.stat.done, failures: entry.stat.failures, rows: entry.rows.text() });
    set.stats.push(entry.stat);
  }
  set.hourly = [...perJob.values()].flatMap((entry) => [...entry.hours.values()]);
  return set;
}

/** The SQL that writes a WriteSet (the writer thread runs the same statements). */
export const WRITE_SQL = {
  batch: "INSERT INTO run_batches (job, host, pid, first_at, last_at, runs, done, failures, rows) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
  stats: `INSERT INTO job_stats (job, plugin, job_type, runs, done, failures, last_run_at, last_success_at, last_failure_at, last_failure_code, last_failure_message)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (job) DO UPDATE SET
      plugin = coalesce(excluded.plugin, plugin), job_type = coalesce(excluded.job_type, job_type),
      runs = runs + excluded.runs, done = done + excluded.done, failures = failures + excluded.failures,
      last_run_at = max(coalesce(last_run_at, 0), coalesce(excluded.last_run_at, 0)),
      last_success_at = CASE WHEN excluded.last_success_at IS NULL THEN last_success_at ELSE max(coalesce(last_success_at, 0), excluded.last_success_at) END,
      last_failure_code = CASE WHEN excluded.last_failure_at >= coalesce(last_failure_at, 0) THEN excluded.last_failure_code ELSE last_failure_code END,
      last_failure_message = CASE WHEN excluded.last_failure_at >= coalesce(last_failure_at, 0) THEN excluded.last_failure_message ELSE last_failure_message END,
      last_failure_at = CASE WHEN excluded.last_failure_at IS NULL THEN last_failure_at ELSE max(coalesce(last_failure_at, 0), excluded.last_failure_at) END`,
  hourly: "INSERT INTO hourly (hour, job, runs, failures) VALUES (?, ?, ?, ?) ON CONFLICT (hour, job) DO UPDATE SET runs = runs + excluded.runs, failures = failures + excluded.failures",
  running: "INSERT OR REPLACE INTO running_runs (run_id, job, host, pid, row) VALUES (?, ?, ?, ?, ?)",
  settled: "DELETE FROM running_runs WHERE run_id = ?",
  event: "INSERT INTO job_events (at, job, event, code, message) VALUES (?, ?, ?, ?, ?)",
} as const;
