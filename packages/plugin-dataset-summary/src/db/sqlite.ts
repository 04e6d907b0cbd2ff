/**
 * Read-only SQLite access (better-sqlite3).
 *
 * Read-only: the file is opened with `readonly: true` and `PRAGMA query_only = ON`, and a
 * statement that is not a reader (`stmt.reader === false`: INSERT, UPDATE, DDL, PRAGMA
 * assignments, ATTACH, ...) is refused before it runs. `INSERT ... RETURNING` passes that
 * check but is refused by SQLite itself (SQLITE_READONLY), which we report the same way.
 *
 * Timeout: better-sqlite3 is synchronous and has no interrupt or progress handler, so the
 * queries of a run go to a child process of their own, with one read-only connection kept
 * from query to query. The caller's promise settles with UJR_SUMMARY_QUERY_TIMEOUT as soon
 * as the timeout passes, and the process is killed: a worker thread could not be stopped
 * there, since terminating a thread takes effect only when SQLite hands control back to
 * JavaScript, and a statement that computes for long before its first row (an endless
 * recursive CTE under an aggregate) kept a core busy until the runner stopped. The child
 * also checks the time between rows. Both count running time, not the wall clock: a
 * laptop's sleep, a clock set by NTP or a process stopped with Ctrl-Z times no query out.
 * Nothing can be corrupted: the connection is read-only. The next query starts another process.
 *
 * A WAL-mode database in a folder this user cannot write cannot be read: SQLite must
 * create its -wal and -shm files, and this driver is built with SQLITE_USE_URI=0, so no
 * `immutable=1` either. Those errors read "attempt to write a readonly database" and are
 * told apart by their extended code (mapSqliteError), never blamed on the query.
 */
import { createRequire } from "node:module";
import path from "node:path";
import { access, constants } from "node:fs/promises";
import { spawn, type ChildProcess } from "node:child_process";
import { awakeTimeout, nativeModuleProblem } from "@ujr/core/task";
import { SummaryErrorCode, summaryError } from "../errors.js";
import { bindValues, compileNamedParams } from "../internal/params.js";
import type { QueryOptions, QueryResult, ReadOnlyDatabase } from "./types.js";

const require = createRequire(import.meta.url);

/**
 * CommonJS source of the query process (run with `node -e`, so it runs from src/ and dist/
 * alike; its settings come as JSON in argv[1]). One process serves every query of a summary
 * run on one read-only connection (a worker, the driver and the database opened for each
 * query took ~0.1 s apiece); a query that outlives its timeout is stopped by killing it.
 */
const QUERY_PROCESS_SOURCE = String.raw`
const workerData = JSON.parse(process.argv[1]);
process.on("disconnect", () => process.exit(0));
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
  // Running time, on the monotonic clock (a wall clock that jumps after a laptop's sleep or
  // an NTP step is no query's slowness); a gap of more than a second between two looks
  // counts as one second (a stopped process: Ctrl-Z, kill -STOP). A query that is really
  // that slow is stopped by the parent's timer all the same.
  let used = 0;
  let last = performance.now();
  // leaving the loop (break, return) closes the statement's iterator, freeing the connection
  for (const row of stmt.iterate(q.values)) {
    if (rows.length >= q.maxRows) { truncated = true; break; }
    rows.push(row.map(norm));
    if ((rows.length & 255) === 0) {
      const t = performance.now();
      used += Math.min(t - last, 1000);
      last = t;
      if (used > q.timeoutMs) return { ok: false, kind: "timeout", message: "timeout passed" };
    }
  }
  return { ok: true, columns, rows, truncated };
}
process.on("message", (q) => {
  let reply;
  try {
    reply = run(q);
  } catch (err) {
    reply = failure(err);
  }
  process.send(Object.assign(reply, { id: q.id }));
});
`;

export interface QueryReply {
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
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw summaryError(
      SummaryErrorCode.DB_OPEN,
      code === "ENOENT" || code === "ENOTDIR"
        ? `SQLite database "${file}" does not exist: check the job's "database" setting (relative paths are resolved from the config file's folder).`
        : `SQLite database "${file}" cannot be read by this user (${code ?? (e as Error).message}): make it readable for the user that runs ujr, or check the job's "database" setting.`,
    );
  }
  const driverPath = require.resolve("better-sqlite3");
  const busyTimeoutMs = options.busyTimeoutMs ?? 5000;

  // the query process, started with the first query and kept for the next ones
  let current: ChildProcess | undefined;
  let nextId = 0;
  const stop = (child: ChildProcess) => {
    if (current === child) current = undefined;
    child.kill("SIGKILL");
  };
  // held open only while a query runs: an idle process never keeps this one alive
  const hold = (child: ChildProcess, held: boolean) => {
    const handles = [child, child.channel] as Array<{ ref?: () => void; unref?: () => void } | null | undefined>;
    for (const handle of handles) (held ? handle?.ref : handle?.unref)?.call(handle);
  };
  const start = () => {
    // no execArgv of this process: a test runner's loaders or --input-type=module would change what `-e` runs
    const child = spawn(process.execPath, ["-e", QUERY_PROCESS_SOURCE, JSON.stringify({ driverPath, file, busyTimeoutMs })], {
      stdio: ["ignore", "ignore", "inherit", "ipc"],
      serialization: "advanced",
    });
    child.on("exit", () => {
      if (current === child) current = undefined;
    });
    // a failed spawn is reported to the query waiting for it (its "error" listener)
    child.on("error", () => {});
    return child;
  };

  function runInProcess(sql: string | null, values: unknown[], opts: QueryOptions): Promise<QueryReply> {
    return new Promise<QueryReply>((resolve, reject) => {
      if (opts.signal?.aborted) {
        reject(summaryError(SummaryErrorCode.ABORTED, `query "${opts.queryName}" was cancelled before it started.`, { query: opts.queryName }));
        return;
      }
      const child = (current ??= start());
      hold(child, true);
      const id = ++nextId;
      let settled = false;
      const finish = (fn: () => void, { keep }: { keep: boolean }) => {
        if (settled) return;
        settled = true;
        timer.clear();
        opts.signal?.removeEventListener("abort", onAbort);
        child.off("message", onMessage);
        child.off("error", onError);
        child.off("exit", onExit);
        if (keep) hold(child, false);
        else stop(child);
        fn();
      };
      const timeoutError = () =>
        summaryError(
          SummaryErrorCode.QUERY_TIMEOUT,
          `query "${opts.queryName}" ran longer than ${opts.timeoutMs} ms and was stopped: make it cheaper (add an index, narrow the time range) or raise its "timeout".`,
          { query: opts.queryName },
        );
      // running time only (awakeTimeout of @ujr/core): a laptop's process stopped mid-query is not a slow query
      const timer = awakeTimeout(opts.timeoutMs, () => "timeout");
      timer.signal.addEventListener("abort", () => finish(() => reject(timeoutError()), { keep: false }), { once: true });
      const onAbort = () =>
        finish(() => reject(summaryError(SummaryErrorCode.ABORTED, `query "${opts.queryName}" was cancelled.`, { query: opts.queryName })), { keep: false });
      const onMessage = (reply: QueryReply & { id?: number }) => {
        if (reply.id !== id) return;
        if (reply.ok) finish(() => resolve(reply), { keep: true });
        else if (reply.kind === "timeout") finish(() => reject(timeoutError()), { keep: true });
        else finish(() => reject(mapSqliteError(reply, opts.queryName, file)), { keep: true });
      };
      const onError = (err: Error) =>
        finish(() => reject(summaryError(SummaryErrorCode.QUERY_FAILED, `query "${opts.queryName}" failed: ${err.message}`, { query: opts.queryName })), { keep: false });
      const onExit = (code: number | null, signal: NodeJS.Signals | null) =>
        finish(
          () => reject(summaryError(SummaryErrorCode.QUERY_FAILED, `query "${opts.queryName}" stopped without a result: its process ended (${signal ?? `exit code ${code}`}).`, { query: opts.queryName })),
          { keep: false },
        );
      opts.signal?.addEventListener("abort", onAbort, { once: true });
      child.on("message", onMessage);
      child.once("error", onError);
      child.once("exit", onExit);
      child.send({ id, sql, values, maxRows: opts.maxRows, timeoutMs: opts.timeoutMs });
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
      const reply = await runInProcess(compiled.sql, values, opts);
      return { columns: reply.columns ?? [], rows: reply.rows ?? [], truncated: reply.truncated ?? false };
    },
    async tables() {
      const reply = await runInProcess(null, [], { queryName: "(schema)", timeoutMs: 30_000, maxRows: 1 });
      const map = new Map<string, Set<string>>();
      for (const [t, cols] of reply.tables ?? []) map.set(t.toLowerCase(), new Set(cols.map((c) => c.toLowerCase())));
      return map;
    },
    async close() {
      if (current) stop(current);
    },
  };
}

/**
 * SQLite's codes for side files it could not create or write: a WAL-mode database needs
 * its `-wal` and `-shm` files even to be read (https://www.sqlite.org/wal.html#readonly),
 * and their message ("attempt to write a readonly database") reads as if a query wrote.
 */
const SIDE_FILE_PROBLEMS: Record<string, string> = {
  SQLITE_READONLY_DIRECTORY: "the folder is not writable for this user",
  SQLITE_READONLY_CANTINIT: "its -shm file exists but is read-only for this user",
  SQLITE_READONLY_CANTLOCK: "its -shm file is read-only for this user",
  SQLITE_READONLY_RECOVERY: "its -wal file needs a recovery that a read-only connection cannot do",
};

/** A failed query's reply from the query process as the error a user reads (exported for its tests). */
export function mapSqliteError(reply: QueryReply, queryName: string, file = "the database") {
  const message = reply.message ?? "unknown error";
  const native = nativeModuleProblem(reply);
  if (native !== undefined) return summaryError(SummaryErrorCode.DB_OPEN, `the database could not be opened: ${native.reason}. ${native.fix}`, { query: queryName });
  const sideFiles = reply.code === undefined ? undefined : SIDE_FILE_PROBLEMS[reply.code];
  // the parent checked that the file itself is readable: what SQLite cannot open is a side file
  const cantOpen = reply.code?.startsWith("SQLITE_CANTOPEN") === true;
  if (sideFiles !== undefined || cantOpen) {
    const dir = path.dirname(file);
    const base = path.basename(file);
    const problem = sideFiles ?? `SQLite could not open them ("${message}")`;
    return summaryError(
      SummaryErrorCode.DB_OPEN,
      `SQLite database "${file}" cannot be read: it is in WAL mode, where SQLite needs its side files "${base}-wal" and "${base}-shm" in "${dir}" even to read, and ${problem} (${reply.code}). ` +
        `Make that folder (and any -wal and -shm file in it) writable for the user that runs ujr; on a read-only disk, copy the database to a writable one. See https://www.sqlite.org/wal.html#readonly.`,
      { query: queryName },
    );
  }
  if (reply.kind === "readonly" || reply.code === "SQLITE_READONLY") {
    return summaryError(
      SummaryErrorCode.READ_ONLY,
      `query "${queryName}" tried to write to the database and was refused: summary queries run on a read-only connection; use SELECT (or WITH ... SELECT) only.`,
      { query: queryName },
    );
  }
  if (reply.code === "SQLITE_BUSY") {
    return summaryError(SummaryErrorCode.QUERY_FAILED, `query "${queryName}" failed: the database is locked by a writer; try again later or raise the busy timeout.`, { query: queryName });
  }
  if (/not a database|SQLITE_NOTADB/i.test(message + (reply.code ?? "")) || reply.code?.startsWith("SQLITE_READONLY_") === true) {
    return summaryError(SummaryErrorCode.DB_OPEN, `the database could not be opened (${message}): check the job's "database" setting.`, { query: queryName });
  }
  return summaryError(SummaryErrorCode.QUERY_FAILED, `query "${queryName}" failed: ${message}`, { query: queryName });
}
