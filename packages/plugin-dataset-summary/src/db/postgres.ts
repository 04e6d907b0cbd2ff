/**
 * Read-only PostgreSQL access (pg).
 *
 * Read-only, in three layers:
 * - the session starts with `default_transaction_read_only = on` (startup option) and
 *   `SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY`;
 * - every query runs inside `BEGIN TRANSACTION READ ONLY ... ROLLBACK`, so a query cannot
 *   switch the session back to read-write for the next one;
 * - queries use the extended protocol, which accepts exactly one statement (no
 *   `SELECT 1; COMMIT; DELETE ...`).
 * A write fails with SQLSTATE 25006, reported as UJR_SUMMARY_READ_ONLY.
 *
 * Timeout: `SET LOCAL statement_timeout` per query (SQLSTATE 57014 is reported as
 * UJR_SUMMARY_QUERY_TIMEOUT), plus a client-side `query_timeout` as a backstop.
 */
import pg from "pg";
import { SummaryErrorCode, summaryError } from "../errors.js";
import { bindValues, compileNamedParams } from "../internal/params.js";
import { normalizeValue, type QueryResult, type ReadOnlyDatabase } from "./types.js";

/** `postgres://user:secret@host/db?x` -> `postgres://user@host/db` (safe for logs and reports). */
export function redactDatabaseUrl(url: string): string {
  try {
    const u = new URL(url);
    u.password = "";
    u.search = "";
    u.hash = "";
    return u.toString();
  } catch {
    return "postgres://(unparseable URL)";
  }
}

const INT8_OID = 20;
const NUMERIC_OID = 1700;

function parseInt8(v: string): number | string {
  const n = Number(v);
  return Number.isSafeInteger(n) ? n : v;
}

const typeParsers = {
  getTypeParser(oid: number, format?: "text" | "binary") {
    if (oid === INT8_OID) return parseInt8;
    if (oid === NUMERIC_OID) return (v: string) => (Number.isFinite(Number(v)) && String(Number(v)) === v ? Number(v) : v);
    return (pg.types.getTypeParser as (oid: number, format?: string) => (v: string) => unknown)(oid, format);
  },
};

export interface PostgresOptions {
  connectTimeoutMs?: number;
}

export async function openPostgres(url: string, options: PostgresOptions = {}): Promise<ReadOnlyDatabase> {
  const label = redactDatabaseUrl(url);
  const client = new pg.Client({
    connectionString: url,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000,
    options: "-c default_transaction_read_only=on",
    application_name: "ujr-dataset-summary",
    types: typeParsers as never,
  });
  // An idle connection error (server restart) must not crash the worker.
  client.on("error", () => {});
  try {
    await client.connect();
    await client.query("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY");
  } catch (err) {
    await client.end().catch(() => {});
    throw summaryError(
      SummaryErrorCode.DB_OPEN,
      `could not connect to PostgreSQL at ${label}: ${(err as Error).message.replaceAll(url, label)}. Check the job's "database" URL and that the server is running.`,
    );
  }
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const p = queue.then(fn, fn);
    queue = p.catch(() => {});
    return p;
  };

  async function runReadOnly(sql: string, values: unknown[], timeoutMs: number, maxRows: number): Promise<QueryResult> {
    await client.query("BEGIN TRANSACTION READ ONLY");
    try {
      await client.query(`SET LOCAL statement_timeout = ${Math.max(1, Math.floor(timeoutMs))}`);
      const res = await client.query({ text: sql, values, rowMode: "array", queryMode: "extended", query_timeout: timeoutMs + 2000 } as never);
      const r = res as unknown as pg.QueryArrayResult;
      const columns = (r.fields ?? []).map((f) => f.name);
      const all = r.rows ?? [];
      const rows = all.slice(0, maxRows).map((row) => row.map(normalizeValue));
      return { columns, rows, truncated: all.length > maxRows };
    } finally {
      await client.query("ROLLBACK").catch(() => {});
    }
  }

  return {
    dialect: "postgres",
    label,
    query(sql, params, opts) {
      return serial(async () => {
        const compiled = compileNamedParams(sql, "postgres");
        const { values, missing } = bindValues(compiled.names, params);
        if (missing.length > 0) {
          throw summaryError(
            SummaryErrorCode.QUERY_PARAM,
            `query "${opts.queryName}" uses parameter(s) ${missing.map((m) => ":" + m).join(", ")} without a value: add them to the query's "params".`,
            { query: opts.queryName },
          );
        }
        if (opts.signal?.aborted) throw summaryError(SummaryErrorCode.ABORTED, `query "${opts.queryName}" was cancelled.`, { query: opts.queryName });
        try {
          return await runReadOnly(compiled.sql, values, opts.timeoutMs, opts.maxRows);
        } catch (err) {
          throw mapPgError(err, opts.queryName, opts.timeoutMs);
        }
      });
    },
    tables() {
      return serial(async () => {
        const res = await runReadOnly(
          "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = ANY (current_schemas(false))",
          [],
          30_000,
          1_000_000,
        );
        const map = new Map<string, Set<string>>();
        for (const [t, c] of res.rows as [string, string][]) {
          const key = t.toLowerCase();
          if (!map.has(key)) map.set(key, new Set());
          map.get(key)!.add(c.toLowerCase());
        }
        return map;
      });
    },
    async close() {
      await client.end().catch(() => {});
    },
  };
}

function mapPgError(err: unknown, queryName: string, timeoutMs: number) {
  const e = err as { code?: string; message?: string };
  const message = e.message ?? String(err);
  if (e.code === "25006") {
    return summaryError(
      SummaryErrorCode.READ_ONLY,
      `query "${queryName}" tried to write to the database and was refused: summary queries run on a read-only connection; use SELECT (or WITH ... SELECT) only.`,
      { query: queryName },
    );
  }
  if (e.code === "57014" || /timeout/i.test(message)) {
    return summaryError(
      SummaryErrorCode.QUERY_TIMEOUT,
      `query "${queryName}" ran longer than ${timeoutMs} ms and was stopped: make it cheaper (add an index, narrow the time range) or raise its "timeout".`,
      { query: queryName },
    );
  }
  return summaryError(SummaryErrorCode.QUERY_FAILED, `query "${queryName}" failed: ${message}`, { query: queryName });
}
