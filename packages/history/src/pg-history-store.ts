import { hostname } from "node:os";
import { randomBytes } from "node:crypto";
import { createRequire } from "node:module";
import type pg from "pg";
import { registerSecret, type Logger } from "@ujr/core";
import { buildWriteSet, fromStored, ROWS_PER_BATCH_ID, type StoredRun, type WriteSet } from "./batches.js";
import { PendingBatch } from "./pending-batch.js";
import { historyError } from "./errors.js";
import { HISTORY_SCHEMA_VERSION } from "./schema.js";
import { packRows, unpackRows } from "./packed-rows.js";
import { INTERRUPTED } from "./recorder-process.js";
import { addDurations, addFailures, addToSummaries, atOf, collectRuns, countsOf, DURATION_SAMPLE, NewestBegun, durationStats, firstHour, hourBuckets, num, runFilter, runningRuns, sortedFailures, sortedSummaries, summaryFromStats, type Num } from "./batch-readers.js";
import { type DurationStats, type FailureGroup, type HourBucket, type JobEventRecord, type JobEventRow, type JobSummary, type Retention, type RunQuery, type RunRecord, type RunRow } from "./types.js";
import { DEFAULT_RETENTION } from "./history-store.js";

/**
 * The PostgreSQL driver, loaded when a PostgreSQL history opens: importing this package
 * (every `ujr run` that keeps a history, SQLite by default) should not cost pg's start-up.
 */
function loadPg(): typeof pg {
  return createRequire(import.meta.url)("pg") as typeof pg;
}

export interface PgHistoryStoreOptions {
  /** postgres:// URL (its password is a secret: never logged). */
  url: string;
  /** Schema of the tables (default "ujr_history"); created if missing. */
  schema?: string | undefined;
  retention?: Partial<Retention> | undefined;
  flushIntervalMs?: number | undefined;
  maxBatch?: number | undefined;
  pruneIntervalMs?: number | undefined;
  /** A coordinator not heard of for this long has its running runs recorded as interrupted (default 2 minutes). */
  staleAfterMs?: number | undefined;
  logger?: Logger | undefined;
  now?: (() => number) | undefined;
  /** Only read (`ujr history`): no tables created, no session, no pruning. */
  readOnly?: boolean | undefined;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const PAGE = 50;

function ddl(schema: string): string {
  return `
CREATE SCHEMA IF NOT EXISTS ${schema};
CREATE TABLE IF NOT EXISTS ${schema}.meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS ${schema}.run_batches (
  id BIGSERIAL PRIMARY KEY, job TEXT NOT NULL, host TEXT, pid INTEGER, first_at BIGINT NOT NULL, last_at BIGINT NOT NULL,
  runs INTEGER NOT NULL, done INTEGER NOT NULL, failures INTEGER NOT NULL, rows TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS run_batches_job ON ${schema}.run_batches (job, id);
CREATE TABLE IF NOT EXISTS ${schema}.running_runs (run_id TEXT PRIMARY KEY, job TEXT NOT NULL, host TEXT, pid INTEGER, session TEXT NOT NULL, row TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS ${schema}.sessions (id TEXT PRIMARY KEY, host TEXT, pid INTEGER, last_seen BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS ${schema}.job_stats (
  job TEXT PRIMARY KEY, plugin TEXT, job_type TEXT, runs BIGINT NOT NULL DEFAULT 0, done BIGINT NOT NULL DEFAULT 0, failures BIGINT NOT NULL DEFAULT 0,
  last_run_at BIGINT, last_success_at BIGINT, last_failure_at BIGINT, last_failure_code TEXT, last_failure_message TEXT);
CREATE TABLE IF NOT EXISTS ${schema}.hourly (hour BIGINT NOT NULL, job TEXT NOT NULL, runs BIGINT NOT NULL, failures BIGINT NOT NULL, PRIMARY KEY (hour, job));
CREATE TABLE IF NOT EXISTS ${schema}.job_events (id BIGSERIAL PRIMARY KEY, at BIGINT NOT NULL, job TEXT NOT NULL, event TEXT NOT NULL, code TEXT, message TEXT);
CREATE INDEX IF NOT EXISTS job_events_job ON ${schema}.job_events (job, id);
CREATE TABLE IF NOT EXISTS ${schema}.paused_jobs (job TEXT PRIMARY KEY, at BIGINT NOT NULL);
`;
}


/**
 * The run history in PostgreSQL, for several coordinators (BullMQ) sharing one: the same
 * batches, totals and hourly counts as the SQLite store, written from the runner's
 * process with async I/O (one transaction per batch), read with the same queries
 * (async). Each coordinator is a session with a heartbeat; the running runs of one not
 * heard of for `staleAfterMs` are recorded as interrupted by the next one to open.
 */
export class PgHistoryStore {
  readonly retention: Retention;
  readonly schema: string;
  readonly #pool: pg.Pool;
  readonly #logger: Logger | undefined;
  readonly #now: () => number;
  readonly #pruneIntervalMs: number;
  readonly #staleAfterMs: number;
  readonly #session = `${hostname()}/${process.pid}/${randomBytes(3).toString("hex")}`;
  readonly #batch: PendingBatch;
  #writing: Promise<void> = Promise.resolve();
  #heartbeat: NodeJS.Timeout | undefined;
  #lastPrune = 0;
  #closed = false;
  #ended = false;

  static async open(options: PgHistoryStoreOptions): Promise<PgHistoryStore> {
    const store = new PgHistoryStore(options);
    await store.#init(options.readOnly === true);
    return store;
  }

  private constructor(options: PgHistoryStoreOptions) {
    try {
      const password = new URL(options.url).password;
      if (password) registerSecret(decodeURIComponent(password));
    } catch {
      /* not a URL: pg reports it */
    }
    this.schema = options.schema ?? "ujr_history";
    if (!/^[a-z_][a-z0-9_]*$/.test(this.schema)) throw historyError("UJR_HISTORY_OPEN_FAILED", { file: `schema ${this.schema}`, reason: "a schema name uses lower-case letters, digits and _" });
    this.retention = { ...DEFAULT_RETENTION, ...options.retention };
    this.#pool = new (loadPg().Pool)({ connectionString: options.url, max: 2 });
    this.#pool.on("error", (error) => this.#logger?.warn({ err: error }, "run history: PostgreSQL connection error"));
    this.#logger = options.logger;
    this.#now = options.now ?? Date.now;
    this.#batch = new PendingBatch(options.flushIntervalMs ?? 200, options.maxBatch ?? 1000, () => this.flush());
    this.#pruneIntervalMs = options.pruneIntervalMs ?? 10 * 60_000;
    this.#staleAfterMs = options.staleAfterMs ?? 2 * 60_000;
  }

  get #s(): string {
    return this.schema;
  }

  async #init(readOnly: boolean): Promise<void> {
    const where = `PostgreSQL (schema ${this.schema})`;
    if (readOnly) {
      this.#closed = true;
      const found = await this.#pool.query("SELECT 1 FROM information_schema.tables WHERE table_schema = $1 AND table_name = 'run_batches'", [this.schema]).catch(async (error: unknown) => {
        await this.#pool.end().catch(() => {});
        throw historyError("UJR_HISTORY_OPEN_FAILED", { file: where, reason: (error as Error).message }, { cause: error });
      });
      if (found.rowCount === 0) {
        await this.#pool.end().catch(() => {});
        throw historyError("UJR_HISTORY_NOT_FOUND", { file: where, config: "<config>" });
      }
      return;
    }
    try {
      await this.#pool.query(ddl(this.#s));
      const version = (await this.#pool.query(`SELECT value FROM ${this.#s}.meta WHERE key = 'version'`)).rows[0]?.value as string | undefined;
      if (version === undefined) await this.#pool.query(`INSERT INTO ${this.#s}.meta (key, value) VALUES ('version', $1) ON CONFLICT (key) DO NOTHING`, [String(HISTORY_SCHEMA_VERSION)]);
      else if (Number(version) > HISTORY_SCHEMA_VERSION) throw historyError("UJR_HISTORY_NEWER", { file: where, actual: version, expected: HISTORY_SCHEMA_VERSION });
      // Older versions differ only in what new batches look like: marked, so that an older ujr refuses them.
      else if (Number(version) < HISTORY_SCHEMA_VERSION) await this.#pool.query(`UPDATE ${this.#s}.meta SET value = $1 WHERE key = 'version'`, [String(HISTORY_SCHEMA_VERSION)]);
      await this.#beat();
      await this.#interruptStale();
      await this.prune();
    } catch (error) {
      await this.#pool.end().catch(() => {});
      if ((error as { code?: string }).code?.startsWith("UJR_")) throw error;
      throw historyError("UJR_HISTORY_OPEN_FAILED", { file: where, reason: (error as Error).message }, { cause: error });
    }
    this.#heartbeat = setInterval(() => void this.#beat().catch(() => {}), Math.max(1000, this.#staleAfterMs / 4));
    this.#heartbeat.unref();
  }

  #beat(): Promise<unknown> {
    return this.#pool.query(`INSERT INTO ${this.#s}.sessions (id, host, pid, last_seen) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO UPDATE SET last_seen = excluded.last_seen`, [this.#session, hostname(), process.pid, this.#now()]);
  }

  /** Running runs of coordinators not heard of for a while become interrupted runs. */
  async #interruptStale(): Promise<void> {
    const stale = (
      await this.#pool.query(
        `SELECT r.run_id, r.job, r.host, r.pid, r.row FROM ${this.#s}.running_runs r LEFT JOIN ${this.#s}.sessions s ON s.id = r.session WHERE s.id IS NULL OR s.last_seen < $1`,
        [this.#now() - this.#staleAfterMs],
      )
    ).rows as Array<{ run_id: string; job: string; host: string | null; pid: number | null; row: string }>;
    if (stale.length === 0) return;
    const records = stale.map((left) => {
      const { id: _id, ...record } = fromStored(JSON.parse(left.row) as StoredRun, 0, { id: 0, job: left.job, host: left.host, pid: left.pid });
      return { ...record, outcome: "interrupted" as const, message: record.message ?? INTERRUPTED };
    });
    await this.#write(buildWriteSet(records, () => true));
    await this.#pool.query(`DELETE FROM ${this.#s}.sessions WHERE last_seen < $1`, [this.#now() - this.#staleAfterMs]);
  }

  async #write(set: WriteSet): Promise<void> {
    const client = await this.#pool.connect();
    const s = this.#s;
    try {
      await client.query("BEGIN");
      for (const b of set.batches) {
        await client.query(`INSERT INTO ${s}.run_batches (job, host, pid, first_at, last_at, runs, done, failures, rows) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, [b.job, b.host, b.pid, b.firstAt, b.lastAt, b.runs, b.done, b.failures, b.rows]);
      }
      for (const st of set.stats) {
        await client.query(
          `INSERT INTO ${s}.job_stats AS j (job, plugin, job_type, runs, done, failures, last_run_at, last_success_at, last_failure_at, last_failure_code, last_failure_message)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
           ON CONFLICT (job) DO UPDATE SET
             plugin = coalesce(excluded.plugin, j.plugin), job_type = coalesce(excluded.job_type, j.job_type),
             runs = j.runs + excluded.runs, done = j.done + excluded.done, failures = j.failures + excluded.failures,
             last_run_at = greatest(j.last_run_at, excluded.last_run_at),
             last_success_at = greatest(j.last_success_at, excluded.last_success_at),
             last_failure_code = CASE WHEN excluded.last_failure_at >= coalesce(j.last_failure_at, 0) THEN excluded.last_failure_code ELSE j.last_failure_code END,
             last_failure_message = CASE WHEN excluded.last_failure_at >= coalesce(j.last_failure_at, 0) THEN excluded.last_failure_message ELSE j.last_failure_message END,
             last_failure_at = greatest(j.last_failure_at, excluded.last_failure_at)`,
          [st.job, st.plugin, st.jobType, st.runs, st.done, st.failures, st.lastRunAt, st.lastSuccessAt, st.lastFailureAt, st.lastFailureCode, st.lastFailureMessage],
        );
      }
      for (const h of set.hourly) {
        await client.query(`INSERT INTO ${s}.hourly AS h (hour, job, runs, failures) VALUES ($1, $2, $3, $4) ON CONFLICT (hour, job) DO UPDATE SET runs = h.runs + excluded.runs, failures = h.failures + excluded.failures`, [h.hour, h.job, h.runs, h.failures]);
      }
      for (const r of set.running) {
        await client.query(`INSERT INTO ${s}.running_runs (run_id, job, host, pid, session, row) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (run_id) DO UPDATE SET row = excluded.row, session = excluded.session`, [r.runId, r.job, r.host, r.pid, this.#session, r.row]);
      }
      if (set.settled.length > 0) await client.query(`DELETE FROM ${s}.running_runs WHERE run_id = ANY($1)`, [set.settled]);
      for (const e of set.events) await client.query(`INSERT INTO ${s}.job_events (at, job, event, code, message) VALUES ($1, $2, $3, $4, $5)`, e);
      await client.query("COMMIT");
    } catch (error) {
      await client.query("ROLLBACK").catch(() => {});
      throw error;
    } finally {
      client.release();
    }
  }

  // ---- writing (same contract as HistoryStore) ----------------------------------------

  recordRun(run: RunRecord): void {
    if (!this.#closed) this.#batch.addRun(run);
  }

  recordJobEvent(event: JobEventRecord): void {
    if (!this.#closed) this.#batch.addEvent(event);
  }

  get pending(): number {
    return this.#batch.size;
  }

  flush(): void {
    const set = this.#batch.take();
    if (!set) return;
    // Batches are written one after another, in order.
    this.#writing = this.#writing.then(() =>
      this.#write(set).catch((error: unknown) => {
        this.#logger?.error({ reason: (error as Error).message, runs: set.batches.reduce((n, b) => n + b.runs, 0), events: set.events.length }, "run history: a batch could not be written to PostgreSQL and is lost (tasks go on)");
      }),
    );
    if (this.#now() - this.#lastPrune >= this.#pruneIntervalMs) void this.prune();
  }

  async settled(): Promise<void> {
    this.flush();
    await this.#writing;
  }

  async prune(): Promise<{ runs: number; events: number }> {
    this.#lastPrune = this.#now();
    const s = this.#s;
    const cutoff = this.#now() - this.retention.days * DAY;
    const client = await this.#pool.connect();
    try {
      await client.query("BEGIN");
      // One coordinator prunes at a time; the others skip this round.
      const locked = (await client.query("SELECT pg_try_advisory_xact_lock(hashtext($1)) AS ok", [`${s}.prune`])).rows[0]?.ok as boolean;
      if (!locked) {
        await client.query("COMMIT");
        return { runs: 0, events: 0 };
      }
      type Meta = { id: string; job: string; runs: number; done: number; failures: number; last_at: string };
      const trim = async (batch: Meta, keep: (rows: StoredRun[]) => StoredRun[]): Promise<number> => {
        const before = unpackRows((await client.query(`SELECT rows FROM ${s}.run_batches WHERE id = $1`, [batch.id])).rows[0].rows as string);
        const rows = keep(before);
        if (rows.length === before.length) return 0;
        const left = countsOf(rows);
        await client.query(`UPDATE ${s}.job_stats SET runs = greatest(0, runs - $1), done = greatest(0, done - $2), failures = greatest(0, failures - $3) WHERE job = $4`, [batch.runs - left.runs, batch.done - left.done, batch.failures - left.failures, batch.job]);
        if (rows.length === 0) await client.query(`DELETE FROM ${s}.run_batches WHERE id = $1`, [batch.id]);
        else await client.query(`UPDATE ${s}.run_batches SET runs = $1, done = $2, failures = $3, rows = $4, first_at = $5 WHERE id = $6`, [left.runs, left.done, left.failures, packRows(rows), left.firstAt, batch.id]);
        return batch.runs - rows.length;
      };
      let runs = 0;
      for (const batch of (await client.query(`SELECT id, job, runs, done, failures, last_at FROM ${s}.run_batches WHERE first_at < $1`, [cutoff])).rows as Meta[]) {
        runs += await trim(batch, (rows) => (Number(batch.last_at) < cutoff ? [] : rows.filter((row) => atOf(row) >= cutoff)));
      }
      let kept = 0;
      for (const batch of (await client.query(`SELECT id, job, runs, done, failures, last_at FROM ${s}.run_batches ORDER BY id DESC`)).rows as Meta[]) {
        const room = Math.max(0, this.retention.runs - kept);
        kept += Math.min(room, batch.runs);
        if (room < batch.runs) runs += await trim(batch, (rows) => (room === 0 ? [] : rows.slice(-room)));
      }
      await client.query(`DELETE FROM ${s}.hourly WHERE hour < $1`, [this.#now() - 2 * DAY]);
      const events = (await client.query(`DELETE FROM ${s}.job_events WHERE at < $1`, [cutoff])).rowCount ?? 0;
      await client.query("COMMIT");
      return { runs, events };
    } catch (error) {
      await client.query("ROLLBACK").catch(() => {});
      this.#logger?.warn({ reason: (error as Error).message }, "run history: pruning failed; it is tried again later");
      return { runs: 0, events: 0 };
    } finally {
      client.release();
    }
  }

  async setPaused(job: string, paused: boolean): Promise<void> {
    if (paused) await this.#pool.query(`INSERT INTO ${this.#s}.paused_jobs (job, at) VALUES ($1, $2) ON CONFLICT (job) DO NOTHING`, [job, this.#now()]);
    else await this.#pool.query(`DELETE FROM ${this.#s}.paused_jobs WHERE job = $1`, [job]);
  }

  async pausedJobs(): Promise<string[]> {
    return ((await this.#pool.query(`SELECT job FROM ${this.#s}.paused_jobs ORDER BY job`)).rows as Array<{ job: string }>).map((row) => row.job);
  }

  // ---- reading ------------------------------------------------------------------------

  /** Batches newest first, a page at a time. */
  async *#batches(options: { job?: string | undefined; since?: number | undefined; withFailures?: boolean; withDone?: boolean }) {
    const where: string[] = [];
    const params: unknown[] = [];
    if (options.job !== undefined) where.push(`b.job = $${params.push(options.job)}`);
    if (options.since !== undefined) where.push(`b.last_at >= $${params.push(options.since)}`);
    if (options.withFailures) where.push("b.failures > 0");
    if (options.withDone) where.push("b.done > 0");
    let before: string | undefined;
    for (;;) {
      const page = [...where, ...(before !== undefined ? [`b.id < $${params.length + 1}`] : [])];
      const result = await this.#pool.query(
        `SELECT b.id, b.job, b.host, b.pid, b.runs, b.done, b.failures, b.rows, s.plugin, s.job_type FROM ${this.#s}.run_batches b LEFT JOIN ${this.#s}.job_stats s ON s.job = b.job ${page.length ? `WHERE ${page.join(" AND ")}` : ""} ORDER BY b.id DESC LIMIT ${PAGE}`,
        before !== undefined ? [...params, before] : params,
      );
      for (const row of result.rows as Array<{ id: string; job: string; host: string | null; pid: number | null; rows: string; plugin: string | null; job_type: string | null }>) yield row;
      if (result.rows.length < PAGE) return;
      before = (result.rows.at(-1) as { id: string }).id;
    }
  }

  async runs(query: RunQuery = {}): Promise<RunRow[]> {
    const { limit, matches, onlyFailures } = runFilter(query);
    const found: RunRow[] = [];
    const running = (
      await this.#pool.query(
        `SELECT r.job, r.host, r.pid, r.row, s.plugin, s.job_type FROM ${this.#s}.running_runs r LEFT JOIN ${this.#s}.job_stats s ON s.job = r.job ${query.job !== undefined ? "WHERE r.job = $1" : ""}`,
        query.job !== undefined ? [query.job] : [],
      )
    ).rows as Array<{ job: string; host: string | null; pid: number | null; row: string; plugin: string | null; job_type: string | null }>;
    if (query.order === "started") return this.#runsByStart(query, runningRuns(running), limit, matches, onlyFailures);
    for (const run of runningRuns(running)) if (matches(run) && found.length < limit) found.push(run);
    if (found.length >= limit) return found;
    for await (const batch of this.#batches({ job: query.job, since: query.since, withFailures: onlyFailures })) {
      const id = Number(batch.id);
      if (query.before !== undefined && id * ROWS_PER_BATCH_ID >= query.before) continue;
      if (collectRuns(found, unpackRows(batch.rows), { id, job: batch.job, host: batch.host, pid: batch.pid, plugin: batch.plugin, jobType: batch.job_type }, matches, limit)) return found;
    }
    return found;
  }

  async #runsByStart(query: RunQuery, running: RunRow[], limit: number, matches: (run: RunRow) => boolean, onlyFailures: boolean): Promise<RunRow[]> {
    const newest = new NewestBegun(limit);
    for (const run of running) if (matches(run)) newest.add(run);
    // Batches are stored in the order their runs ended; only their ids and latest times are
    // sorted here (a page of batches' rows is read when its turn comes), so that reading can stop early.
    const where: string[] = [];
    const params: unknown[] = [];
    if (query.job !== undefined) where.push(`job = $${params.push(query.job)}`);
    if (query.since !== undefined) where.push(`last_at >= $${params.push(query.since)}`);
    if (onlyFailures) where.push("failures > 0");
    const order = (await this.#pool.query(`SELECT id, last_at FROM ${this.#s}.run_batches ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY last_at DESC, id DESC`, params)).rows as Array<{ id: string; last_at: string }>;
    for (let start = 0; start < order.length; start += PAGE) {
      const page = order.slice(start, start + PAGE);
      const stop = page.findIndex((batch) => newest.done(Number(batch.last_at)));
      const wanted = stop === -1 ? page : page.slice(0, stop);
      if (wanted.length > 0) {
        const rows = (
          await this.#pool.query(`SELECT b.id, b.job, b.host, b.pid, b.rows, s.plugin, s.job_type FROM ${this.#s}.run_batches b LEFT JOIN ${this.#s}.job_stats s ON s.job = b.job WHERE b.id = ANY($1::bigint[])`, [wanted.map((batch) => batch.id)])
        ).rows as Array<{ id: string; job: string; host: string | null; pid: number | null; rows: string; plugin: string | null; job_type: string | null }>;
        for (const batch of rows) {
          const id = Number(batch.id);
          unpackRows(batch.rows).forEach((stored, index) => {
            const run = fromStored(stored, index, { id, job: batch.job, host: batch.host, pid: batch.pid, plugin: batch.plugin, jobType: batch.job_type });
            if (matches(run)) newest.add(run);
          });
        }
      }
      if (stop !== -1) break;
    }
    return newest.runs();
  }

  async jobSummaries(options: { since?: number | undefined; job?: string | undefined } = {}): Promise<JobSummary[]> {
    if (!options.since) {
      const rows = (await this.#pool.query(`SELECT * FROM ${this.#s}.job_stats WHERE runs > 0 ${options.job !== undefined ? "AND job = $1" : ""} ORDER BY job`, options.job !== undefined ? [options.job] : [])).rows as Array<Record<string, Num>>;
      return rows.map(summaryFromStats);
    }
    const byJob = new Map<string, JobSummary>();
    for await (const batch of this.#batches({ job: options.job, since: options.since })) {
      addToSummaries(byJob, unpackRows(batch.rows), { id: Number(batch.id), job: batch.job, host: batch.host, pid: batch.pid, plugin: batch.plugin, jobType: batch.job_type }, options.since);
    }
    return sortedSummaries(byJob);
  }

  async hourly(options: { hours?: number | undefined; job?: string | undefined } = {}): Promise<HourBucket[]> {
    const hours = options.hours ?? 24;
    const start = firstHour(this.#now(), hours);
    const rows = (
      await this.#pool.query(`SELECT hour, sum(runs) AS runs, sum(failures) AS failures FROM ${this.#s}.hourly WHERE hour >= $1 ${options.job !== undefined ? "AND job = $2" : ""} GROUP BY hour`, options.job !== undefined ? [start, options.job] : [start])
    ).rows as Array<{ hour: string; runs: string; failures: string }>;
    return hourBuckets(rows, start, hours);
  }

  async failuresByCode(job: string, options: { since?: number | undefined } = {}): Promise<FailureGroup[]> {
    const groups = new Map<string, FailureGroup>();
    for await (const batch of this.#batches({ job, since: options.since, withFailures: true })) addFailures(groups, unpackRows(batch.rows), options.since);
    return sortedFailures(groups);
  }

  async durations(job: string, options: { since?: number | undefined } = {}): Promise<DurationStats> {
    const values: number[] = [];
    for await (const batch of this.#batches({ job, since: options.since, withDone: true })) {
      addDurations(values, unpackRows(batch.rows), options.since);
      if (values.length >= DURATION_SAMPLE) break;
    }
    return durationStats(values);
  }

  async jobEvents(options: { job?: string | undefined; limit?: number | undefined } = {}): Promise<JobEventRow[]> {
    const limit = Math.min(Math.max(1, Math.floor(options.limit ?? 50)), 10_000);
    const rows = (await this.#pool.query(`SELECT * FROM ${this.#s}.job_events ${options.job !== undefined ? "WHERE job = $1" : ""} ORDER BY id DESC LIMIT ${limit}`, options.job !== undefined ? [options.job] : [])).rows as Array<Record<string, Num>>;
    return rows.map((row) => ({
      id: num(row.id)!,
      at: num(row.at)!,
      job: String(row.job),
      event: String(row.event) as JobEventRow["event"],
      ...(row.code ? { code: String(row.code) } : {}),
      ...(row.message ? { message: String(row.message) } : {}),
    }));
  }

  async close(): Promise<void> {
    if (this.#closed) {
      if (!this.#ended) await this.#pool.end();
      this.#ended = true;
      return;
    }
    this.#ended = true;
    this.flush();
    this.#closed = true;
    clearInterval(this.#heartbeat);
    await this.#writing;
    await this.prune();
    await this.#pool.query(`DELETE FROM ${this.#s}.sessions WHERE id = $1`, [this.#session]).catch(() => {});
    await this.#pool.end();
  }
}
