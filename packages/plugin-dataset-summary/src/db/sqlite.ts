/**
 * Read-only SQLite access (better-sqlite3).
 *
 * Read-only: the file is opened with `readonly: true` and `PRAGMA query_only = ON`, and a
 * statement that is not a reader (`stmt.reader === false`: INSERT, UPDATE, DDL, PRAGMA
 * assignments, ATTACH, ...) is refused before it runs. `INSERT ... RETURNING` passes that
 * check but is refused by SQLite itself (SQLITE_READONLY), which we report the same way.
 *
 * Timeout: better-sqlite3 is synchronous and has no interrupt or progress handler, so each
 * query runs in its own worker thread with its own read-only connection. The caller's
 * promise settles with UJR_SUMMARY_QUERY_TIMEOUT as soon as the timeout passes and the
 * worker is terminated. Termination takes effect when SQLite hands control back to
 * JavaScript, i.e. between two rows (the worker also checks the deadline per row); a
 * single step that computes for a long time (a huge aggregate before its first row) goes
 * on in the background thread until that step returns, then the thread exits. Nothing can
 * be corrupted: the connection is read-only. The runner's task timeout bounds the task.
 */
import { createRequire } from "node:module";
import { access, constants } from "node:fs/promises";
import { Worker } from "node:worker_threads";
import { nativeModuleProblem } from "@ujr/core/task";
import { SummaryErrorCode, summaryError } from "../errors.js";
import { bindValues, compileNamedParams } from "../internal/params.js";
import type { QueryOptions, QueryResult, ReadOnlyDatabase } from "./types.js";

const require = createRequire(import.meta.url);

/**
 * CommonJS source of the query thread (eval'd, so it runs from src/ and dist/ alike). One
 * thread serves every query of a summary run on one read-only connection (opening a thread,
 * the driver and the database for each query took ~0.1 s apiece); a query that outlives its
 * timeout is stopped by ending the thread, and the next query starts another.
 */
const WORKER_SOURCE = String.raw`
const { parentPort, workerData } = require("node:worker_threads");
function norm(v) {
  if (v === null || v === undefined) return null;
  if (typeof v === "bigint") {
    return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(v) : v.toString();
  }
  if (v instanceof Uint8Array) return Buffer.from(v).toString("base64");
  return v;
}
const failure = (err) => ({ ok: false, kind: "error", code: err && err.code, message: String(err && err.message || err) });
let db;
let opening;
try {
  const Database = require(workerData.driverPath);
  db = new Database(workerData.file, { readonly: true, fileMustExist: true, timeout: workerData.busyTimeoutMs });
  db.pragma("query_only = ON");
} catch (err) {
  // every query is answered with why the database could not be opened
  opening = failure(err);
}
function run(q) {
  if (opening) return opening;
  if (q.sql === null) {
    const tables = db.prepare("SELECT name FROM sqlite_schema WHERE type IN ('table','view')").all().map((r) => r.name);
    const out = [];
    for (const t of tables) {
      const cols = db.prepare("SELECT name FROM pragma_table_info(?)").all(t).map((r) => r.name);
      out.push([t, cols]);
    }
    return { ok: true, tables: out };
  }
  const stmt = db.prepare(q.sql);
  if (!stmt.reader) return { ok: false, kind: "readonly", message: "the statement does not return rows (it would write or change the connection)" };
  stmt.safeIntegers(true);
  const columns = stmt.columns().map((c) => c.name);
  stmt.raw(true);
  const rows = [];
  let truncated = false;
  // leaving the loop (break, return) closes the statement's iterator, freeing the connection
  for (const row of stmt.iterate(q.values)) {
    if (rows.length >= q.maxRows) { truncated = true; break; }
    rows.push(row.map(norm));
    if ((rows.length & 255) === 0 && Date.now() > q.deadline) return { ok: false, kind: "timeout", message: "deadline passed" };
  }
  return { ok: true, columns, rows, truncated };
}
parentPort.on("message", (q) => {
  let reply;
  try {
    reply = run(q);
  } catch (err) {
    reply = failure(err);
  }
  parentPort.postMessage(Object.assign(reply, { id: q.id }));
});
`;

export interface WorkerReply {
  ok: boolean;
  kind?: "readonly" | "timeout" | "error";
  code?: string;
  message?: string;
  columns?: string[];
  rows?: unknown[][];
  truncated?: boolean;
  tables?: [string, string[]][];
}

export interface SqliteOptions {
  /** How long to wait for a lock held by a writer (the tidier), in ms. */
  busyTimeoutMs?: number;
}

export async function openSqlite(file: string, options: SqliteOptions = {}): Promise<ReadOnlyDatabase> {
  try {
    await access(file, constants.R_OK);
  } catch {
    throw summaryError(
      SummaryErrorCode.DB_OPEN,
      `SQLite database "${file}" does not exist or is not readable: check the job's "database" setting (relative paths are resolved from the config file's folder).`,
    );
  }
  const driverPath = require.resolve("better-sqlite3");
  const busyTimeoutMs = options.busyTimeoutMs ?? 5000;

  // the query thread, started with the first query and kept for the next ones
  let thread: Worker | undefined;
  let nextId = 0;
  const stop = (worker: Worker) => {
    if (thread === worker) thread = undefined;
    void worker.terminate();
  };

  function runInWorker(sql: string | null, values: unknown[], opts: QueryOptions): Promise<WorkerReply> {
    return new Promise<WorkerReply>((resolve, reject) => {
      if (opts.signal?.aborted) {
        reject(summaryError(SummaryErrorCode.ABORTED, `query "${opts.queryName}" was cancelled before it started.`, { query: opts.queryName }));
        return;
      }
      // the source is CommonJS: a parent started with --input-type=module would make it ESM
      const execArgv = process.execArgv.filter((arg) => !arg.startsWith("--input-type"));
      const worker = (thread ??= new Worker(WORKER_SOURCE, { eval: true, execArgv, workerData: { driverPath, file, busyTimeoutMs } }));
      // held open only while a query runs: an idle thread never keeps the process alive
      worker.ref();
      const id = ++nextId;
      let settled = false;
      const finish = (fn: () => void, { keep }: { keep: boolean }) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        opts.signal?.removeEventListener("abort", onAbort);
        worker.off("message", onMessage);
        worker.off("error", onError);
        worker.off("exit", onExit);
        if (keep) worker.unref();
        else stop(worker);
        fn();
      };
      const timeoutError = () =>
        summaryError(
          SummaryErrorCode.QUERY_TIMEOUT,
          `query "${opts.queryName}" ran longer than ${opts.timeoutMs} ms and was stopped: make it cheaper (add an index, narrow the time range) or raise its "timeout".`,
          { query: opts.queryName },
        );
      // a query still running in SQLite cannot be interrupted from here: its thread is ended
      const timer = setTimeout(() => finish(() => reject(timeoutError()), { keep: false }), opts.timeoutMs);
      const onAbort = () =>
        finish(() => reject(summaryError(SummaryErrorCode.ABORTED, `query "${opts.queryName}" was cancelled.`, { query: opts.queryName })), { keep: false });
      const onMessage = (reply: WorkerReply & { id?: number }) => {
        if (reply.id !== id) return;
        if (reply.ok) finish(() => resolve(reply), { keep: true });
        else if (reply.kind === "timeout") finish(() => reject(timeoutError()), { keep: true });
        else finish(() => reject(mapSqliteError(reply, opts.queryName)), { keep: true });
      };
      const onError = (err: Error) =>
        finish(() => reject(summaryError(SummaryErrorCode.QUERY_FAILED, `query "${opts.queryName}" failed: ${err.message}`, { query: opts.queryName })), { keep: false });
      const onExit = () =>
        finish(() => reject(summaryError(SummaryErrorCode.QUERY_FAILED, `query "${opts.queryName}" stopped without a result.`, { query: opts.queryName })), { keep: false });
      opts.signal?.addEventListener("abort", onAbort, { once: true });
      worker.on("message", onMessage);
      worker.once("error", onError);
      worker.once("exit", onExit);
      worker.postMessage({ id, sql, values, maxRows: opts.maxRows, deadline: Date.now() + opts.timeoutMs });
    });
  }

  return {
    dialect: "sqlite",
    label: file,
    async query(sql, params, opts): Promise<QueryResult> {
      const compiled = compileNamedParams(sql, "sqlite");
      const { values, missing } = bindValues(compiled.names, params);
      if (missing.length > 0) {
        throw summaryError(
          SummaryErrorCode.QUERY_PARAM,
          `query "${opts.queryName}" uses parameter(s) ${missing.map((m) => ":" + m).join(", ")} without a value: add them to the query's "params".`,
          { query: opts.queryName },
        );
      }
      const reply = await runInWorker(compiled.sql, values, opts);
      return { columns: reply.columns ?? [], rows: reply.rows ?? [], truncated: reply.truncated ?? false };
    },
    async tables() {
      const reply = await runInWorker(null, [], { queryName: "(schema)", timeoutMs: 30_000, maxRows: 1 });
      const map = new Map<string, Set<string>>();
      for (const [t, cols] of reply.tables ?? []) map.set(t.toLowerCase(), new Set(cols.map((c) => c.toLowerCase())));
      return map;
    },
    async close() {
      if (thread) stop(thread);
    },
  };
}

/** A failed query's reply from the worker thread as the error a user reads (exported for its tests). */
export function mapSqliteError(reply: WorkerReply, queryName: string) {
  const message = reply.message ?? "unknown error";
  const native = nativeModuleProblem(reply);
  if (native !== undefined) return summaryError(SummaryErrorCode.DB_OPEN, `the database could not be opened: ${native.reason}. ${native.fix}`, { query: queryName });
  if (reply.kind === "readonly" || reply.code === "SQLITE_READONLY" || /readonly|read-only/i.test(message)) {
    return summaryError(
      SummaryErrorCode.READ_ONLY,
      `query "${queryName}" tried to write to the database and was refused: summary queries run on a read-only connection; use SELECT (or WITH ... SELECT) only.`,
      { query: queryName },
    );
  }
  if (reply.code === "SQLITE_BUSY") {
    return summaryError(SummaryErrorCode.QUERY_FAILED, `query "${queryName}" failed: the database is locked by a writer; try again later or raise the busy timeout.`, { query: queryName });
  }
  if (/not a database|SQLITE_NOTADB|SQLITE_CANTOPEN/i.test(message + (reply.code ?? ""))) {
    return summaryError(SummaryErrorCode.DB_OPEN, `the database could not be opened (${message}): check the job's "database" setting.`, { query: queryName });
  }
  return summaryError(SummaryErrorCode.QUERY_FAILED, `query "${queryName}" failed: ${message}`, { query: queryName });
}
