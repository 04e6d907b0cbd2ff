import { existsSync, rmSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import { makeFolders, nativeModuleProblem, refusalReason } from "@ujr/core/task";
import type { Logger } from "@ujr/core";
import { buildWriteSet, fromStored, ROWS_PER_BATCH_ID, type BatchContext, type StoredRun, type WriteSet } from "./batches.js";
import { INTERRUPTED, recorderState } from "./recorder-process.js";
import { addDurations, addFailures, addToSummaries, atOf, collectRuns, countsOf, DURATION_SAMPLE, NewestBegun, durationStats, firstHour, hourBuckets, type Num, runFilter, runningRuns, sortedFailures, sortedSummaries, summaryFromStats } from "./batch-readers.js";
import { packRows, unpackRows } from "./packed-rows.js";
import { PendingBatch } from "./pending-batch.js";
import { historyError } from "./errors.js";
import { migrate } from "./schema.js";
import { DEFAULT_UNWRITTEN_LIMIT, UnwrittenSets, type DroppedRuns, type UnwrittenLimit } from "./unwritten.js";
import { startWriterThread, writeSetsInline, type WriteResult, type WriterThread } from "./writer-thread.js";
import type { DurationStats, FailureGroup, HourBucket, JobEventRecord, JobEventRow, JobSummary, Retention, RunQuery, RunRecord, RunRow } from "./types.js";

export const DEFAULT_RETENTION: Retention = { days: 30, runs: 100_000 };

export interface HistoryStoreOptions {
  /** SQLite file; its folder is created. */
  file: string;
  retention?: Partial<Retention> | undefined;
  /** Recorded runs are written at least this often (ms, default 200)… */
  flushIntervalMs?: number | undefined;
  /** …or as soon as this many are waiting (default 1000). */
  maxBatch?: number | undefined;
  /** Old runs are pruned at most this often (ms, default 10 minutes), and at open and close. */
  pruneIntervalMs?: number | undefined;
  logger?: Logger | undefined;
  now?: (() => number) | undefined;
  /**
   * Where batches are written: "inline" (default) on the calling thread, in flush() (a
   * timer's, never a task's settlement); "thread" a worker thread of its own, which only
   * pays where there are cores to spare.
   */
  writer?: "thread" | "inline" | undefined;
  /**
   * What cannot be written (a full disk) is kept in memory and tried again every
   * `retryIntervalMs` (default 1000), up to `unwrittenLimit` (default 100,000 runs or
   * 32 MiB of rows); past it the oldest runs are dropped from the run list, still counted
   * in the job totals.
   */
  retryIntervalMs?: number | undefined;
  unwrittenLimit?: Partial<UnwrittenLimit> | undefined;
}

/** The connection of each store, for tests that provoke a full disk (`PRAGMA max_page_count`). */
const connections = new WeakMap<HistoryStore, Database.Database>();
export const connectionOf = (store: HistoryStore): Database.Database | undefined => connections.get(store);

/** What a failed write tells the user to do. */
function adviceFor(result: WriteResult): string {
  const full = result.code === "SQLITE_FULL" || /disk is full|no space/i.test(result.reason ?? "");
  return full ? "Free space on its disk." : "Check that the file and its folder are writable and that no other program holds it locked.";
}

/** A run of failed writes: since when, how many tries, the last answer, what was dropped. */
interface Failing {
  since: number;
  tries: number;
  result: WriteResult;
  dropped: DroppedRuns;
  droppedSaid: boolean;
}

/** The files an SQLite database may have beside it. */
const SIDE_FILES = ["-wal", "-shm", "-journal"];

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

type Row = Record<string, unknown>;
interface BatchRow {
  id: number;
  job: string;
  host: string | null;
  pid: number | null;
  runs: number;
  done: number;
  failures: number;
  rows: string;
  plugin: string | null;
  job_type: string | null;
}

/**
 * The run history in one SQLite file (WAL). Runs are recorded in memory and written in
 * batches (one row per job and batch, see schema.ts), one transaction each, at each
 * flush (from a timer): a crash loses at most the batch not yet written, never the file.
 * A batch that cannot be written (a full disk) waits in memory and is tried again, in
 * order, within a limit (unwritten.ts). Runs still marked running when a writer opens the
 * file are recorded as `interrupted`.
 */
/** Why the history `file` could not be opened: its SQLite driver's native module, or the file. */
function openFailure(file: string, error: unknown): Error {
  const native = nativeModuleProblem(error);
  if (native !== undefined) return historyError("UJR_HISTORY_DRIVER_UNAVAILABLE", { file, reason: native.reason, fix: native.fix }, { cause: error });
  return historyError("UJR_HISTORY_OPEN_FAILED", { file, reason: (error as Error).message }, { cause: error });
}

interface BatchFilter {
  job?: string | undefined;
  since?: number | undefined;
  withFailures?: boolean;
  withDone?: boolean;
}

/** The WHERE clause (on `run_batches b`) and its parameters for the batches a reader asks for. */
function batchWhere(options: BatchFilter): { where: string; params: unknown[] } {
  const where: string[] = [];
  const params: unknown[] = [];
  if (options.job !== undefined) {
    where.push("b.job = ?");
    params.push(options.job);
  }
  if (options.since !== undefined) {
    where.push("b.last_at >= ?");
    params.push(options.since);
  }
  if (options.withFailures) where.push("b.failures > 0");
  if (options.withDone) where.push("b.done > 0");
  return { where: where.length ? `WHERE ${where.join(" AND ")}` : "", params };
}

export class HistoryStore {
  readonly file: string;
  readonly retention: Retention;
  readonly readonly: boolean;
  readonly #db: Database.Database;
  readonly #logger: Logger | undefined;
  readonly #now: () => number;
  readonly #pruneIntervalMs: number;
  readonly #batch: PendingBatch;
  #writer: WriterThread | undefined;
  #lastPrune = 0;
  #closed = false;
  readonly #unwritten: UnwrittenSets;
  readonly #retryMs: number;
  #retryTimer: NodeJS.Timeout | undefined;
  /** The write the writer thread is doing: at most one at a time, so that sets are written in order. */
  #inFlight: Promise<void> | undefined;
  /** Sets taken while a write was in flight: queued when it ends (only then may the queue drop). */
  #arrived: WriteSet[] = [];
  /** Since the first write that failed, until one succeeds. */
  #failing: Failing | undefined;

  /** Opens (creating) the history for writing. */
  static open(options: HistoryStoreOptions): HistoryStore {
    return new HistoryStore(options, false);
  }

  /** Opens an existing history for reading only (`ujr history`); never creates the file. */
  static openReadOnly(file: string, options: Omit<HistoryStoreOptions, "file"> & { config?: string } = {}): HistoryStore {
    if (!existsSync(file)) throw historyError("UJR_HISTORY_NOT_FOUND", { file, config: options.config ?? "<config>" });
    return new HistoryStore({ ...options, file }, true, options.config);
  }

  /**
   * Throws what opening the history `file` would throw for want of a working SQLite driver
   * (UJR_HISTORY_DRIVER_UNAVAILABLE), without creating the file: `ujr validate` checks
   * what `ujr run` would meet.
   */
  static checkDriver(file: string): void {
    try {
      new Database(":memory:").close();
    } catch (error) {
      throw openFailure(file, error);
    }
  }

  private constructor(options: HistoryStoreOptions, readonly: boolean, config?: string) {
    this.file = options.file;
    this.readonly = readonly;
    this.retention = { ...DEFAULT_RETENTION, ...options.retention };
    this.#logger = options.logger;
    this.#now = options.now ?? Date.now;
    this.#batch = new PendingBatch(options.flushIntervalMs ?? 200, options.maxBatch ?? 1000, () => this.flush());
    this.#pruneIntervalMs = options.pruneIntervalMs ?? 10 * 60_000;
    this.#retryMs = options.retryIntervalMs ?? 1000;
    this.#unwritten = new UnwrittenSets({ ...DEFAULT_UNWRITTEN_LIMIT, ...options.unwrittenLimit });
    if (readonly) {
      try {
        this.#db = new Database(this.file, { readonly: true, fileMustExist: true });
        this.#db.pragma("busy_timeout = 5000");
      } catch (error) {
        throw openFailure(this.file, error);
      }
      const version = this.#db.pragma("user_version", { simple: true }) as number;
      if (version === 0) throw historyError("UJR_HISTORY_NOT_FOUND", { file: this.file, config: config ?? "<config>" });
      migrate(this.#db, this.file);
      return;
    }
    // What this open creates and cannot set up (a full disk) is removed again: an empty
    // file left behind would read as a history in which nothing has run.
    const made = [this.file, ...SIDE_FILES.map((side) => this.file + side)];
    const existed = made.filter((path) => existsSync(path));
    let db: Database.Database | undefined;
    try {
      // one plain mkdir per missing level: a recursive one spins for ever where mkdir answers
      // ENOENT under an existing folder (a kernel filesystem such as /proc; see makeFolders)
      const folder = makeFolders(dirname(this.file));
      if ("refused" in folder) throw Object.assign(new Error(`its folder cannot be made: ${folder.refused.parent} ${refusalReason(folder.refused)}`), { cause: folder.refused.error });
      db = new Database(this.file);
      db.pragma("busy_timeout = 5000");
      // Must precede the first table: lets pruning give pages back to the file system.
      db.pragma("auto_vacuum = INCREMENTAL");
      db.pragma("journal_mode = WAL");
      // WAL + NORMAL: a crash may lose the last transactions, never corrupts the file.
      db.pragma("synchronous = NORMAL");
      // The WAL file is cut back to this after checkpoints, so it does not stay at its largest.
      db.pragma("journal_size_limit = 4194304");
      migrate(db, this.file);
    } catch (error) {
      db?.close();
      if (!existed.includes(this.file)) {
        for (const path of made) {
          if (existed.includes(path)) continue;
          try {
            rmSync(path, { force: true });
          } catch {
            // nothing was made there (its folder is a file: ENOTDIR): the open's own error says why
          }
        }
      }
      if ((error as { code?: string }).code?.startsWith("UJR_")) throw error;
      throw openFailure(this.file, error);
    }
    this.#db = db;
    connections.set(this, db);
    this.#interruptLeftovers();
    this.prune();
    if (options.writer === "thread") this.#writer = startWriterThread(this.file);
  }

  /**
   * Runs another process left running (it was killed or crashed) become interrupted runs;
   * not those of a runner of this machine that still runs (two runners sharing one history).
   */
  #interruptLeftovers(): void {
    const leftovers = this.#db.prepare("SELECT run_id, job, host, pid, row FROM running_runs").all() as Array<{ run_id: string; job: string; host: string | null; pid: number | null; row: string }>;
    const records = leftovers
      .map((left) => fromStored(JSON.parse(left.row) as StoredRun, 0, { id: 0, job: left.job, host: left.host, pid: left.pid }))
      .filter((run) => recorderState(run) !== "alive")
      .map(({ id: _id, ...record }) => ({ ...record, outcome: "interrupted" as const, message: record.message ?? INTERRUPTED }));
    if (records.length === 0) return;
    // written as the runs are: a history on a full disk still opens, and writes them when it can
    this.#enqueue(buildWriteSet(records, () => true));
    this.#write();
  }

  // ---- writing --------------------------------------------------------------------

  /**
   * Records a run (new or updated). The same object may be recorded again as it
   * changes (running, then settled): it is written once per batch, as it is then.
   */
  recordRun(run: RunRecord): void {
    if (!this.#closed) this.#batch.addRun(run);
  }

  recordJobEvent(event: JobEventRecord): void {
    if (!this.#closed) this.#batch.addEvent(event);
  }

  /** Runs and events waiting to be written. */
  get pending(): number {
    return this.#batch.size;
  }

  /**
   * Hands what is waiting to the writer (one transaction). What cannot be written is kept
   * and tried again (every `retryIntervalMs`), oldest first, within the unwritten limit.
   */
  flush(): void {
    this.#flush(false);
  }

  #flush(force: boolean): void {
    if (this.readonly) return;
    const set = this.#batch.take();
    if (set) {
      if (this.#inFlight) this.#arrived.push(set);
      else this.#enqueue(set);
    }
    // while writes fail, the retry timer tries again: not every flush
    if (force || this.#failing === undefined) this.#write();
    if (this.#now() - this.#lastPrune >= this.#pruneIntervalMs) this.prune();
  }

  #enqueue(set: WriteSet): void {
    const dropped = this.#unwritten.push(set);
    if (dropped.runs === 0 || this.#failing === undefined) return;
    const failing = this.#failing;
    failing.dropped.runs += dropped.runs;
    failing.dropped.failures += dropped.failures;
    if (failing.droppedSaid) return;
    failing.droppedSaid = true;
    const limit = this.#unwritten.limit;
    const error = historyError("UJR_HISTORY_RUNS_DROPPED", {
      file: this.file,
      reason: failing.result.reason,
      limit: `${limit.runs} runs or ${Math.round(limit.bytes / 1024 / 1024)} MiB`,
      runs: failing.dropped.runs,
      failures: failing.dropped.failures,
      advice: adviceFor(failing.result),
    });
    this.#logger?.warn({ code: error.code, file: this.file }, error.message);
  }

  /** Writes what waits, in order; one write at a time. */
  #write(): void {
    if (this.#unwritten.empty || this.#inFlight) return;
    const sets = this.#unwritten.toWrite((job, dropped) => {
      const reason = this.#failing?.result.reason ?? "unknown";
      const event = historyError("UJR_HISTORY_RUNS_NOT_RECORDED", { runs: dropped.runs, failures: dropped.failures, reason });
      return [this.#now(), job, "error", event.code, event.message];
    });
    if (!this.#writer) {
      this.#written(writeSetsInline(this.#db, sets));
      return;
    }
    this.#inFlight = this.#writer.write(sets).then((result) => {
      this.#inFlight = undefined;
      this.#written(result);
      for (const set of this.#arrived.splice(0)) this.#enqueue(set);
      if (result.reason === undefined) this.#write();
    });
  }

  #written(result: WriteResult): void {
    this.#unwritten.written(result.written);
    if (result.reason === undefined) {
      if (this.#failing) this.#recovered(this.#failing);
      return;
    }
    // close() says itself what it could not write
    const first = this.#failing === undefined && !this.#closed;
    this.#failing ??= { since: this.#now(), tries: 0, result, dropped: { runs: 0, failures: 0 }, droppedSaid: false };
    this.#failing.tries++;
    this.#failing.result = result;
    if (first) {
      const error = historyError("UJR_HISTORY_WRITE_FAILED", {
        file: this.file,
        reason: result.reason,
        runs: this.#unwritten.runs,
        events: this.#unwritten.events,
        retry: `${this.#retryMs / 1000} s`,
        advice: adviceFor(result),
      });
      this.#logger?.warn({ code: error.code, file: this.file }, error.message);
    }
    if (!this.#closed && this.#retryTimer === undefined) {
      this.#retryTimer = setTimeout(() => {
        this.#retryTimer = undefined;
        this.#flush(true);
      }, this.#retryMs);
      // waiting for the disk must not keep a finished process alive; close() tries once more
      this.#retryTimer.unref();
    }
  }

  #recovered(failing: Failing): void {
    this.#failing = undefined;
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    const fields = { file: this.file, tries: failing.tries, sinceMs: this.#now() - failing.since };
    const again = `run history: written again after ${failing.tries} failed ${failing.tries === 1 ? "try" : "tries"}`;
    if (failing.dropped.runs === 0) this.#logger?.info(fields, `${again}; nothing was lost`);
    else this.#logger?.warn({ ...fields, dropped: failing.dropped.runs }, `${again}; ${failing.dropped.runs} run(s) (${failing.dropped.failures} failed) were dropped from the run list, counted in the job totals and in an 'error' event of each job`);
  }

  /** Resolves when everything recorded so far is in the file (flushes first), or could not be written. */
  async settled(): Promise<void> {
    this.#flush(true);
    while (this.#inFlight) await this.#inFlight;
  }

  /** Deletes runs and job events beyond the retention: older than `days`, then beyond `runs` (the newest kept). */
  prune(): { runs: number; events: number } {
    if (this.readonly) return { runs: 0, events: 0 };
    this.#lastPrune = this.#now();
    const cutoff = this.#now() - this.retention.days * DAY;
    try {
      const result = this.#db.transaction(() => {
        const subtract = this.#db.prepare("UPDATE job_stats SET runs = max(0, runs - ?), done = max(0, done - ?), failures = max(0, failures - ?) WHERE job = ?");
        const trim = (batch: { id: number; job: string; runs: number; done: number; failures: number }, keep: (rows: StoredRun[]) => StoredRun[]): number => {
          const before = unpackRows((this.#db.prepare("SELECT rows FROM run_batches WHERE id = ?").get(batch.id) as { rows: string }).rows);
          const rows = keep(before);
          if (rows.length === before.length) return 0;
          if (rows.length === 0) {
            subtract.run(batch.runs, batch.done, batch.failures, batch.job);
            this.#db.prepare("DELETE FROM run_batches WHERE id = ?").run(batch.id);
            return batch.runs;
          }
          const left = countsOf(rows);
          subtract.run(batch.runs - left.runs, batch.done - left.done, batch.failures - left.failures, batch.job);
          this.#db.prepare("UPDATE run_batches SET runs = ?, done = ?, failures = ?, rows = ?, first_at = ? WHERE id = ?").run(left.runs, left.done, left.failures, packRows(rows), left.firstAt, batch.id);
          return batch.runs - rows.length;
        };
        let runs = 0;
        // By age: whole batches, and the runs of a batch that spans the cut-off.
        type Meta = { id: number; job: string; runs: number; done: number; failures: number; first_at: number; last_at: number };
        for (const batch of this.#db.prepare("SELECT id, job, runs, done, failures, first_at, last_at FROM run_batches WHERE first_at < ?").all(cutoff) as Meta[]) {
          runs += trim(batch, (rows) => (batch.last_at < cutoff ? [] : rows.filter((row) => atOf(row) >= cutoff)));
        }
        // By count: the newest runs up to the limit, the batch that crosses it cut to fit. Only
        // the oldest batches, the excess, are read: a history at its limit (a month of a
        // job that checks every 30 s) has ~100,000 batches, and reading every one's counts
        // held the runner's thread for 0.2 s each time (every 10 minutes).
        let excess = ((this.#db.prepare("SELECT coalesce(sum(runs), 0) AS n FROM run_batches").get() as { n: number }).n ?? 0) - this.retention.runs;
        const oldest = this.#db.prepare("SELECT id, job, runs, done, failures, first_at, last_at FROM run_batches WHERE id > ? ORDER BY id LIMIT 256");
        for (let after = -1; excess > 0; ) {
          const page = oldest.all(after) as Meta[];
          if (page.length === 0) break;
          for (const batch of page) {
            if (excess <= 0) break;
            const cut = Math.min(excess, batch.runs);
            excess -= cut;
            runs += trim(batch, (rows) => (cut >= rows.length ? [] : rows.slice(cut)));
          }
          after = page.at(-1)!.id;
        }
        this.#db.prepare("DELETE FROM hourly WHERE hour < ?").run(this.#now() - 2 * DAY);
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

  // ---- reading (what is written; `await settled()` first to include what is pending) ----

  /** Batches newest first, expanded lazily by the caller. */
  *#batches(options: BatchFilter): Generator<BatchRow> {
    const { where, params } = batchWhere(options);
    const sql = `SELECT b.id, b.job, b.host, b.pid, b.runs, b.done, b.failures, b.rows, s.plugin, s.job_type FROM run_batches b LEFT JOIN job_stats s ON s.job = b.job ${where} ORDER BY b.id DESC`;
    yield* this.#db.prepare(sql).iterate(...params) as Iterable<BatchRow>;
  }

  #runningRows(job: string | undefined): RunRow[] {
    const rows = (job === undefined ? this.#db.prepare("SELECT r.*, s.plugin, s.job_type FROM running_runs r LEFT JOIN job_stats s ON s.job = r.job").all() : this.#db.prepare("SELECT r.*, s.plugin, s.job_type FROM running_runs r LEFT JOIN job_stats s ON s.job = r.job WHERE r.job = ?").all(job)) as Array<Row & { job: string; host: string | null; pid: number | null; row: string; plugin: string | null; job_type: string | null }>;
    return runningRuns(rows);
  }

  /** Runs, newest first: by end (the ones running now first of all) or, with `order: "started"`, by start. */
  runs(query: RunQuery = {}): RunRow[] {
    const { limit, matches, onlyFailures } = runFilter(query);
    if (query.order === "started") return this.#runsByStart(query, limit, matches, onlyFailures);
    const found: RunRow[] = [];
    for (const run of this.#runningRows(query.job)) if (matches(run) && found.length < limit) found.push(run);
    if (found.length >= limit) return found;
    for (const batch of this.#batches({ job: query.job, since: query.since, withFailures: onlyFailures })) {
      if (query.before !== undefined && batch.id * ROWS_PER_BATCH_ID >= query.before) continue;
      const context: BatchContext = { id: batch.id, job: batch.job, host: batch.host, pid: batch.pid, plugin: batch.plugin, jobType: batch.job_type };
      if (collectRuns(found, unpackRows(batch.rows), context, matches, limit)) return found;
    }
    return found;
  }

  #runsByStart(query: RunQuery, limit: number, matches: (run: RunRow) => boolean, onlyFailures: boolean): RunRow[] {
    const newest = new NewestBegun(limit);
    for (const run of this.#runningRows(query.job)) if (matches(run)) newest.add(run);
    // Batches are stored in the order their runs ended; only their ids and latest times are
    // sorted here (a batch's rows are read when its turn comes), so that reading can stop early.
    const { where, params } = batchWhere({ job: query.job, since: query.since, withFailures: onlyFailures });
    const order = this.#db.prepare(`SELECT b.id, b.last_at FROM run_batches b ${where} ORDER BY b.last_at DESC, b.id DESC`).all(...params) as Array<{ id: number; last_at: number }>;
    const read = this.#db.prepare("SELECT b.id, b.job, b.host, b.pid, b.runs, b.done, b.failures, b.rows, s.plugin, s.job_type FROM run_batches b LEFT JOIN job_stats s ON s.job = b.job WHERE b.id = ?");
    for (const { id, last_at: lastAt } of order) {
      if (newest.done(lastAt)) break;
      const batch = read.get(id) as BatchRow;
      const context: BatchContext = { id: batch.id, job: batch.job, host: batch.host, pid: batch.pid, plugin: batch.plugin, jobType: batch.job_type };
      unpackRows(batch.rows).forEach((stored, index) => {
        const run = fromStored(stored, index, context);
        if (matches(run)) newest.add(run);
      });
    }
    return newest.runs();
  }

  /** Per job: counts, last run, last success and last failure (with its message). Without `since`, from the totals kept beside. */
  jobSummaries(options: { since?: number | undefined; job?: string | undefined } = {}): JobSummary[] {
    if (!options.since) {
      const rows = (
        options.job !== undefined ? this.#db.prepare("SELECT * FROM job_stats WHERE job = ? AND runs > 0").all(options.job) : this.#db.prepare("SELECT * FROM job_stats WHERE runs > 0 ORDER BY job").all()
      ) as Array<Record<string, Num>>;
      return rows.map(summaryFromStats);
    }
    const byJob = new Map<string, JobSummary>();
    for (const batch of this.#batches({ job: options.job, since: options.since })) {
      addToSummaries(byJob, unpackRows(batch.rows), { id: batch.id, job: batch.job, host: batch.host, pid: batch.pid, plugin: batch.plugin, jobType: batch.job_type }, options.since);
    }
    return sortedSummaries(byJob);
  }

  /** Runs and failures per hour over the last `hours` hours (oldest first, empty hours included). */
  hourly(options: { hours?: number | undefined; job?: string | undefined } = {}): HourBucket[] {
    const hours = options.hours ?? 24;
    const start = firstHour(this.#now(), hours);
    const rows = (
      options.job !== undefined
        ? this.#db.prepare("SELECT hour, sum(runs) AS runs, sum(failures) AS failures FROM hourly WHERE hour >= ? AND job = ? GROUP BY hour").all(start, options.job)
        : this.#db.prepare("SELECT hour, sum(runs) AS runs, sum(failures) AS failures FROM hourly WHERE hour >= ? GROUP BY hour").all(start)
    ) as Array<{ hour: number; runs: number; failures: number }>;
    return hourBuckets(rows, start, hours);
  }

  /** A job's failures grouped by error code, most frequent first. */
  failuresByCode(job: string, options: { since?: number | undefined } = {}): FailureGroup[] {
    const groups = new Map<string, FailureGroup>();
    for (const batch of this.#batches({ job, since: options.since, withFailures: true })) addFailures(groups, unpackRows(batch.rows), options.since);
    return sortedFailures(groups);
  }

  /** Percentiles (nearest rank) of the running time of a job's most recent successful runs (at most 10,000). */
  durations(job: string, options: { since?: number | undefined } = {}): DurationStats {
    const values: number[] = [];
    for (const batch of this.#batches({ job, since: options.since, withDone: true })) {
      addDurations(values, unpackRows(batch.rows), options.since);
      if (values.length >= DURATION_SAMPLE) break;
    }
    return durationStats(values);
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

  /**
   * Writes what is pending, applies the retention and closes the file. What still cannot
   * be written is cut to what counts (job totals, events, running rows of settled runs) for
   * one last try, and what is lost is said with its size.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.settled();
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    if (!this.#unwritten.empty) {
      const runs = this.#unwritten.runs;
      const events = this.#unwritten.events;
      const failing = this.#failing;
      const dropped = this.#unwritten.dropAll();
      if (failing) {
        failing.dropped.runs += dropped.runs;
        failing.dropped.failures += dropped.failures;
      }
      await this.settled();
      if (!this.#unwritten.empty) {
        const result = this.#failing?.result ?? failing?.result ?? { written: 0 };
        const error = historyError("UJR_HISTORY_NOT_WRITTEN", { file: this.file, reason: result.reason ?? "unknown", runs, events, advice: adviceFor(result) });
        this.#logger?.error({ code: error.code, file: this.file }, error.message);
      }
    }
    await this.#writer?.close();
    this.prune();
    this.#db.close();
  }
}
