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

/** CommonJS source of the query worker (eval'd, so it runs from src/ and dist/ alike). */
const WORKER_SOURCE = String.raw`
const { parentPort, workerData } = require("node:worker_threads");
const Database = require(workerData.driverPath);
function norm(v) {
  if (v === null || v === undefined) return null;
  if (typeof v === "bigint") {
    return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(v) : v.toString();
  }
  if (v instanceof Uint8Array) return Buffer.from(v).toString("base64");
  return v;
}
let db;
try {
  db = new Database(workerData.file, { readonly: true, fileMustExist: true, timeout: workerData.busyTimeoutMs });
  db.pragma("query_only = ON");
  if (workerData.sql === null) {
    const tables = db.prepare("SELECT name FROM sqlite_schema WHERE type IN ('table','view')").all().map((r) => r.name);
    const out = [];
    for (const t of tables) {
      const cols = db.prepare("SELECT name FROM pragma_table_info(?)").all(t).map((r) => r.name);
      out.push([t, cols]);
    }
    parentPort.postMessage({ ok: true, tables: out });
  } else {
    const stmt = db.prepare(workerData.sql);
    if (!stmt.reader) {
      parentPort.postMessage({ ok: false, kind: "readonly", message: "the statement does not return rows (it would write or change the connection)" });
    } else {
      stmt.safeIntegers(true);
      const columns = stmt.columns().map((c) => c.name);
      stmt.raw(true);
      const rows = [];
      let truncated = false;
      for (const row of stmt.iterate(workerData.values)) {
        if (rows.length >= workerData.maxRows) { truncated = true; break; }
        rows.push(row.map(norm));
        if ((rows.length & 255) === 0 && Date.now() > workerData.deadline) {
          parentPort.postMessage({ ok: false, kind: "timeout", message: "deadline passed" });
          process.exit(0);
        }
      }
      parentPort.postMessage({ ok: true, columns, rows, truncated });
    }
  }
} catch (err) {
  parentPort.postMessage({ ok: false, kind: "error", code: err && err.code, message: String(err && err.message || err) });
} finally {
  try { db && db.close(); } catch {}
}
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

  function runInWorker(sql: string | null, values: unknown[], opts: QueryOptions): Promise<WorkerReply> {
    return new Promise<WorkerReply>((resolve, reject) => {
      if (opts.signal?.aborted) {
        reject(summaryError(SummaryErrorCode.ABORTED, `query "${opts.queryName}" was cancelled before it started.`, { query: opts.queryName }));
        return;
      }
      const worker = new Worker(WORKER_SOURCE, {
        eval: true,
        workerData: {
          driverPath,
          file,
          sql,
          values,
          busyTimeoutMs,
          maxRows: opts.maxRows,
          deadline: Date.now() + opts.timeoutMs,
        },
      });
      let settled = false;
      const finish = (fn: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        opts.signal?.removeEventListener("abort", onAbort);
        fn();
        void worker.terminate();
      };
      const timeoutError = () =>
        summaryError(
          SummaryErrorCode.QUERY_TIMEOUT,
          `query "${opts.queryName}" ran longer than ${opts.timeoutMs} ms and was stopped: make it cheaper (add an index, narrow the time range) or raise its "timeout".`,
          { query: opts.queryName },
        );
      const timer = setTimeout(() => finish(() => reject(timeoutError())), opts.timeoutMs);
      const onAbort = () =>
        finish(() => reject(summaryError(SummaryErrorCode.ABORTED, `query "${opts.queryName}" was cancelled.`, { query: opts.queryName })));
      opts.signal?.addEventListener("abort", onAbort, { once: true });
      worker.once("message", (reply: WorkerReply) => {
        if (reply.ok) finish(() => resolve(reply));
        else if (reply.kind === "timeout") finish(() => reject(timeoutError()));
        else finish(() => reject(mapSqliteError(reply, opts.queryName)));
      });
      worker.once("error", (err) =>
        finish(() => reject(summaryError(SummaryErrorCode.QUERY_FAILED, `query "${opts.queryName}" failed: ${err.message}`, { query: opts.queryName }))),
      );
      worker.once("exit", () =>
        finish(() => reject(summaryError(SummaryErrorCode.QUERY_FAILED, `query "${opts.queryName}" stopped without a result.`, { query: opts.queryName }))),
      );
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
    async close() {},
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
