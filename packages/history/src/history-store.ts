import { existsSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import type { Logger } from "@ujr/core";
import { historyError } from "./errors.js";
import { migrate } from "./schema.js";
import { startWriterThread, type WriterThread } from "./writer-thread.js";
import {
  FAILURE_OUTCOMES,
  type DurationStats,
  type FailureGroup,
  type HourBucket,
  type JobEventRecord,
  type JobEventRow,
  type JobSummary,
  type Retention,
  type RunQuery,
  type RunRecord,
  type RunRow,
} from "./types.js";

export const DEFAULT_RETENTION: Retention = { days: 30, runs: 100_000 };

export interface HistoryStoreOptions {
  /** SQLite file; its folder is created. */
  file: string;
  retention?: Partial<Retention> | undefined;
  /** Recorded rows are written at least this often (ms, default 200)… */
  flushIntervalMs?: number | undefined;
  /** …or as soon as this many are waiting (default 1000). */
  maxBatch?: number | undefined;
  /** Old rows are pruned at most this often (ms, default 10 minutes) and at open. */
  pruneIntervalMs?: number | undefined;
  logger?: Logger | undefined;
  now?: (() => number) | undefined;
  /**
   * Where batches are written: "thread" (default) a worker thread of its own, so the
   * runner's thread only hands them over; "inline" on the calling thread, in flush().
   */
  writer?: "thread" | "inline" | undefined;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

type Row = Record<string, unknown>;
type Statements = { putRun: Database.Statement; insertEvent: Database.Statement };

function toRun(row: Row): RunRow {
  const run: RunRow = {
    id: row.id as number,
    runId: row.run_id as string,
    attempt: row.attempt as number,
    job: row.job as string,
    task: row.task as string,
    outcome: row.outcome as RunRow["outcome"],
  };
  const optional: Array<[keyof RunRecord, string]> = [
    ["plugin", "plugin"],
    ["jobType", "job_type"],
    ["signature", "signature"],
    ["queuedAt", "queued_at"],
    ["startedAt", "started_at"],
    ["endedAt", "ended_at"],
    ["code", "code"],
    ["message", "message"],
    ["durationMs", "duration_ms"],
    ["host", "host"],
    ["pid", "pid"],
    ["progress", "progress"],
  ];
  for (const [key, column] of optional) if (row[column] !== null && row[column] !== undefined) (run as unknown as Row)[key] = row[column];
  return run;
}

const RUN_COLUMNS = "run_id, attempt, job, plugin, job_type, task, signature, queued_at, started_at, ended_at, outcome, code, message, duration_ms, host, pid, progress";

/** Positional parameters in RUN_COLUMNS order (faster than named ones on the write path). */
function runParams(run: RunRecord): unknown[] {
  return [
    run.runId,
    run.attempt,
    run.job,
    run.plugin ?? null,
    run.jobType ?? null,
    run.task,
    run.signature ?? null,
    run.queuedAt ?? null,
    run.startedAt ?? null,
    run.endedAt ?? null,
    run.outcome,
    run.code ?? null,
    run.message ?? null,
    run.durationMs ?? null,
    run.host ?? null,
    run.pid ?? null,
    run.progress ?? null,
  ];
}

/**
 * The run history in one SQLite file (WAL): runs and job events are recorded in memory
 * and written in batches, one transaction each, off the runner's hot path. A crash loses
 * at most the batch not yet written; WAL keeps the file consistent. Runs still marked
 * running when a writer opens the file are marked `interrupted`.
 */
export class HistoryStore {
  readonly file: string;
  readonly retention: Retention;
  readonly readonly: boolean;
  readonly #db: Database.Database;
  readonly #logger: Logger | undefined;
  readonly #now: () => number;
  readonly #maxBatch: number;
  readonly #pruneIntervalMs: number;
  #pendingRuns = new Set<RunRecord>();
  /** Row ids of runs written while running: their end replaces the same row. */
  readonly #rowIds = new WeakMap<RunRecord, number>();
  /** This store is the file's only writer: it numbers the rows itself (no lookup per write). */
  #nextId = 0;
  #writer: WriterThread | undefined;
  #pendingEvents: JobEventRecord[] = [];
  #timer: NodeJS.Timeout | undefined;
  readonly #flushIntervalMs: number;
  #lastPrune = 0;
  #closed = false;
  #writeFailures = 0;
  readonly #statements: Statements;

  /** Opens (creating) the history for writing. */
  static open(options: HistoryStoreOptions): HistoryStore {
    return new HistoryStore(options, false);
  }

  /** Opens an existing history for reading only (`ujr history`); never creates the file. */
  static openReadOnly(file: string, options: Omit<HistoryStoreOptions, "file"> & { config?: string } = {}): HistoryStore {
    if (!existsSync(file)) throw historyError("UJR_HISTORY_NOT_FOUND", { file, config: options.config ?? "<config>" });
    return new HistoryStore({ ...options, file }, true);
  }

  private constructor(options: HistoryStoreOptions, readonly: boolean) {
    this.file = options.file;
    this.readonly = readonly;
    this.retention = { ...DEFAULT_RETENTION, ...options.retention };
    this.#logger = options.logger;
    this.#now = options.now ?? Date.now;
    this.#flushIntervalMs = options.flushIntervalMs ?? 200;
    this.#maxBatch = options.maxBatch ?? 1000;
    this.#pruneIntervalMs = options.pruneIntervalMs ?? 10 * 60_000;
    try {
      if (!readonly) mkdirSync(dirname(this.file), { recursive: true });
      this.#db = new Database(this.file, readonly ? { readonly: true, fileMustExist: true } : {});
      this.#db.pragma("busy_timeout = 5000");
      if (!readonly) {
        // Must precede the first table: lets pruning give pages back to the file system.
        this.#db.pragma("auto_vacuum = INCREMENTAL");
        this.#db.pragma("journal_mode = WAL");
        // WAL + NORMAL: a crash may lose the last transactions, never corrupts the file.
        this.#db.pragma("synchronous = NORMAL");
        // The WAL file is cut back to this after checkpoints, so it does not stay at its largest.
        this.#db.pragma("journal_size_limit = 4194304");
      }
    } catch (error) {
      throw historyError("UJR_HISTORY_OPEN_FAILED", { file: this.file, reason: (error as Error).message }, { cause: error });
    }
    if (!readonly) {
      migrate(this.#db, this.file);
      this.#db
        .prepare("UPDATE runs SET outcome = 'interrupted', message = coalesce(message, 'the runner ended without recording an outcome (killed or crashed)') WHERE outcome = 'running'")
        .run();
      this.prune();
    } else {
      migrate(this.#dbForCheck(), this.file);
    }
    this.#statements = readonly
      ? ({} as Statements)
      : {
          putRun: this.#db.prepare(`INSERT OR REPLACE INTO runs (id, ${RUN_COLUMNS}) VALUES (?, ${RUN_COLUMNS.split(",").map(() => "?").join(", ")})`),
          insertEvent: this.#db.prepare("INSERT INTO job_events (at, job, event, code, message) VALUES (?, ?, ?, ?, ?)"),
        };
    if (!readonly) {
      this.#nextId = ((this.#db.prepare("SELECT max(id) AS id FROM runs").get() as { id: number | null }).id ?? 0);
      if ((options.writer ?? "thread") === "thread") {
        this.#writer = startWriterThread(this.file, RUN_COLUMNS, (failure) => this.#lost(failure.runs, failure.events, failure.message));
      }
    }
  }

  /** A read-only open only checks the version (it cannot create tables). */
  #dbForCheck(): Database.Database {
    const version = this.#db.pragma("user_version", { simple: true }) as number;
    if (version === 0) throw historyError("UJR_HISTORY_NOT_FOUND", { file: this.file, config: "<config>" });
    return this.#db;
  }

  // ---- writing --------------------------------------------------------------------

  /**
   * Records a run (new or updated). The same object may be recorded again as it
   * changes (started, then settled): it is written once per batch, as it is then.
   */
  recordRun(run: RunRecord): void {
    if (this.#closed) return;
    this.#pendingRuns.add(run);
    this.#schedule();
  }

  recordJobEvent(event: JobEventRecord): void {
    if (this.#closed) return;
    this.#pendingEvents.push(event);
    this.#schedule();
  }

  #schedule(): void {
    if (this.#pendingRuns.size + this.#pendingEvents.length >= this.#maxBatch) {
      this.flush();
      return;
    }
    if (this.#timer) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.flush();
    }, this.#flushIntervalMs);
    // A pending batch must not keep a finished process alive; close() writes it.
    this.#timer.unref();
  }

  /** Rows waiting to be written. */
  get pending(): number {
    return this.#pendingRuns.size + this.#pendingEvents.length;
  }

  /** Writes what is waiting, in one transaction. A failed write is logged with what it lost. */
  flush(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.pending === 0 || this.readonly) return;
    const runs: unknown[][] = [];
    for (const run of this.#pendingRuns) {
      // A run written before (it was running at an earlier batch) replaces its row.
      let id = this.#rowIds.get(run);
      if (id === undefined) {
        id = ++this.#nextId;
        if (run.outcome === "running") this.#rowIds.set(run, id);
      } else if (run.outcome !== "running") this.#rowIds.delete(run);
      const row = runParams(run);
      row.unshift(id);
      runs.push(row);
    }
    const events = this.#pendingEvents.map((event) => [event.at, event.job, event.event, event.code ?? null, event.message ?? null]);
    this.#pendingRuns = new Set();
    this.#pendingEvents = [];
    if (this.#writer) void this.#writer.write(runs, events);
    else {
      try {
        this.#db.transaction(() => {
          for (const row of runs) this.#statements.putRun.run(row);
          for (const row of events) this.#statements.insertEvent.run(row);
        })();
      } catch (error) {
        this.#lost(runs.length, events.length, (error as Error).message);
      }
    }
    if (this.#now() - this.#lastPrune >= this.#pruneIntervalMs) this.prune();
  }

  /** History must never stop the runner: say what was not written, and go on. */
  #lost(runs: number, events: number, reason: string): void {
    this.#writeFailures++;
    this.#logger?.error({ file: this.file, runs, events, reason, failuresSoFar: this.#writeFailures }, "run history: a batch could not be written and is lost (tasks go on)");
  }

  /** Resolves when everything recorded so far is in the file (flushes first). */
  async settled(): Promise<void> {
    this.flush();
    await this.#writer?.idle();
  }

  /** Deletes runs and job events beyond the retention (age, then count). */
  prune(): { runs: number; events: number } {
    if (this.readonly) return { runs: 0, events: 0 };
    this.#lastPrune = this.#now();
    const cutoff = this.#now() - this.retention.days * DAY;
    try {
      const result = this.#db.transaction(() => {
        let runs = this.#db.prepare("DELETE FROM runs WHERE coalesce(ended_at, started_at, queued_at) < ? AND outcome != 'running'").run(cutoff).changes;
        const keepFrom = this.#db.prepare("SELECT id FROM runs ORDER BY id DESC LIMIT 1 OFFSET ?").get(this.retention.runs - 1) as { id: number } | undefined;
        if (keepFrom) runs += this.#db.prepare("DELETE FROM runs WHERE id < ?").run(keepFrom.id).changes;
        const events = this.#db.prepare("DELETE FROM job_events WHERE at < ?").run(cutoff).changes;
        return { runs, events };
      })();
      if (result.runs + result.events > 0) this.#db.pragma("incremental_vacuum");
      return result;
    } catch (error) {
      this.#logger?.warn({ err: error, file: this.file }, "run history: pruning failed; it is tried again later");
      return { runs: 0, events: 0 };
    }
  }

  /** Marks a job paused (kept across restarts) or not; written at once. */
  setPaused(job: string, paused: boolean): void {
    if (this.readonly) return;
    if (paused) this.#db.prepare("INSERT INTO paused_jobs (job, at) VALUES (?, ?) ON CONFLICT (job) DO NOTHING").run(job, this.#now());
    else this.#db.prepare("DELETE FROM paused_jobs WHERE job = ?").run(job);
  }

  pausedJobs(): string[] {
    return (this.#db.prepare("SELECT job FROM paused_jobs ORDER BY job").all() as Array<{ job: string }>).map((row) => row.job);
  }

  // ---- reading (what is written; call flush() first to include the pending batch) ----

  runs(query: RunQuery = {}): RunRow[] {
    const where: string[] = [];
    const params: unknown[] = [];
    if (query.job !== undefined) {
      where.push("job = ?");
      params.push(query.job);
    }
    if (query.since !== undefined) {
      where.push("coalesce(started_at, queued_at, ended_at) >= ?");
      params.push(query.since);
    }
    const outcomes = query.outcomes ?? (query.failed ? FAILURE_OUTCOMES : undefined);
    if (outcomes && outcomes.length > 0) {
      where.push(`outcome IN (${outcomes.map(() => "?").join(", ")})`);
      params.push(...outcomes);
    }
    if (query.search) {
      where.push("(instr(lower(coalesce(signature, '')), lower(?)) > 0 OR instr(lower(task), lower(?)) > 0)");
      params.push(query.search, query.search);
    }
    if (query.before !== undefined) {
      where.push("id < ?");
      params.push(query.before);
    }
    const limit = Math.min(Math.max(1, Math.floor(query.limit ?? 100)), 10_000);
    const sql = `SELECT * FROM runs ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY id DESC LIMIT ${limit}`;
    return (this.#db.prepare(sql).all(...params) as Row[]).map(toRun);
  }

  /** Per job: counts, last run, last success and last failure (with its message). */
  jobSummaries(options: { since?: number | undefined; job?: string | undefined } = {}): JobSummary[] {
    const since = options.since ?? 0;
    const failures = FAILURE_OUTCOMES.map((outcome) => `'${outcome}'`).join(", ");
    const rows = this.#db
      .prepare(
        `SELECT job, max(plugin) AS plugin, max(job_type) AS job_type, count(*) AS runs,
           sum(outcome = 'done') AS done, sum(outcome IN (${failures})) AS failures,
           max(coalesce(ended_at, started_at)) AS last_run_at,
           max(CASE WHEN outcome = 'done' THEN ended_at END) AS last_success_at
         FROM runs WHERE coalesce(started_at, queued_at, ended_at, 0) >= ? ${options.job !== undefined ? "AND job = ?" : ""} GROUP BY job ORDER BY job`,
      )
      .all(...(options.job !== undefined ? [since, options.job] : [since])) as Row[];
    const lastFailure = this.#db.prepare(`SELECT ended_at, code, message FROM runs WHERE job = ? AND outcome IN (${failures}) ORDER BY id DESC LIMIT 1`);
    return rows.map((row) => {
      const summary: JobSummary = { job: row.job as string, runs: row.runs as number, done: (row.done as number) ?? 0, failures: (row.failures as number) ?? 0 };
      if (row.plugin) summary.plugin = row.plugin as string;
      if (row.job_type) summary.jobType = row.job_type as string;
      if (row.last_run_at !== null) summary.lastRunAt = row.last_run_at as number;
      if (row.last_success_at !== null) summary.lastSuccessAt = row.last_success_at as number;
      const failure = lastFailure.get(row.job) as Row | undefined;
      if (failure) {
        summary.lastFailure = { at: (failure.ended_at as number) ?? 0 };
        if (failure.code) summary.lastFailure.code = failure.code as string;
        if (failure.message) summary.lastFailure.message = failure.message as string;
      }
      return summary;
    });
  }

  /** Runs and failures per hour over the last `hours` hours (oldest first, empty hours included). */
  hourly(options: { hours?: number | undefined; job?: string | undefined } = {}): HourBucket[] {
    const hours = options.hours ?? 24;
    const end = Math.floor(this.#now() / HOUR) * HOUR + HOUR;
    const start = end - hours * HOUR;
    const failures = FAILURE_OUTCOMES.map((outcome) => `'${outcome}'`).join(", ");
    const rows = this.#db
      .prepare(
        `SELECT (coalesce(ended_at, started_at) / ${HOUR}) * ${HOUR} AS hour, count(*) AS runs, sum(outcome IN (${failures})) AS failures
         FROM runs WHERE coalesce(ended_at, started_at) >= ? AND outcome != 'running' ${options.job !== undefined ? "AND job = ?" : ""} GROUP BY hour`,
      )
      .all(...(options.job !== undefined ? [start, options.job] : [start])) as Array<{ hour: number; runs: number; failures: number }>;
    const byHour = new Map(rows.map((row) => [row.hour, row]));
    return Array.from({ length: hours }, (_, index) => {
      const hour = start + index * HOUR;
      const row = byHour.get(hour);
      return { hour, runs: row?.runs ?? 0, failures: row?.failures ?? 0 };
    });
  }

  /** A job's failures grouped by error code, most frequent first. */
  failuresByCode(job: string, options: { since?: number | undefined } = {}): FailureGroup[] {
    const failures = FAILURE_OUTCOMES.map((outcome) => `'${outcome}'`).join(", ");
    const rows = this.#db
      .prepare(
        `SELECT coalesce(code, 'UNKNOWN') AS code, count(*) AS count, max(coalesce(ended_at, started_at, 0)) AS last_at,
           (SELECT message FROM runs AS inner_runs WHERE inner_runs.job = runs.job AND coalesce(inner_runs.code, 'UNKNOWN') = coalesce(runs.code, 'UNKNOWN') AND inner_runs.outcome IN (${failures}) ORDER BY id DESC LIMIT 1) AS last_message
         FROM runs WHERE job = ? AND outcome IN (${failures}) AND coalesce(ended_at, started_at, 0) >= ? GROUP BY coalesce(code, 'UNKNOWN') ORDER BY count DESC, last_at DESC`,
      )
      .all(job, options.since ?? 0) as Row[];
    return rows.map((row) => ({ code: row.code as string, count: row.count as number, lastAt: row.last_at as number, ...(row.last_message ? { lastMessage: row.last_message as string } : {}) }));
  }

  /** Percentiles of the running time of a job's successful runs (nearest rank). */
  durations(job: string, options: { since?: number | undefined } = {}): DurationStats {
    const since = options.since ?? 0;
    const base = "FROM runs WHERE job = ? AND outcome = 'done' AND duration_ms IS NOT NULL AND coalesce(ended_at, 0) >= ?";
    const { count, max } = this.#db.prepare(`SELECT count(*) AS count, max(duration_ms) AS max ${base}`).get(job, since) as { count: number; max: number | null };
    if (count === 0) return { count: 0 };
    const at = this.#db.prepare(`SELECT duration_ms AS value ${base} ORDER BY duration_ms LIMIT 1 OFFSET ?`);
    const rank = (p: number) => (at.get(job, since, Math.max(0, Math.ceil((p / 100) * count) - 1)) as { value: number }).value;
    return { count, p50: rank(50), p90: rank(90), p99: rank(99), max: max ?? undefined };
  }

  jobEvents(options: { job?: string | undefined; limit?: number | undefined } = {}): JobEventRow[] {
    const limit = Math.min(Math.max(1, Math.floor(options.limit ?? 50)), 10_000);
    const rows = (
      options.job !== undefined
        ? this.#db.prepare(`SELECT * FROM job_events WHERE job = ? ORDER BY id DESC LIMIT ${limit}`).all(options.job)
        : this.#db.prepare(`SELECT * FROM job_events ORDER BY id DESC LIMIT ${limit}`).all()
    ) as Row[];
    return rows.map((row) => ({
      id: row.id as number,
      at: row.at as number,
      job: row.job as string,
      event: row.event as JobEventRow["event"],
      ...(row.code ? { code: row.code as string } : {}),
      ...(row.message ? { message: row.message as string } : {}),
    }));
  }

  /** Writes what is pending, applies the retention and closes the file. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.flush();
    this.#closed = true;
    await this.#writer?.close();
    this.prune();
    this.#db.close();
  }
}
