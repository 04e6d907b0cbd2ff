export type Dialect = "sqlite" | "postgres";

export interface QueryOptions {
  /** Name of the query, for error messages. */
  queryName: string;
  /** Stop the query after this many milliseconds. */
  timeoutMs: number;
  /** Keep at most this many rows; `truncated` says when more were available. */
  maxRows: number;
  signal?: AbortSignal | undefined;
}

export interface QueryResult {
  columns: string[];
  rows: unknown[][];
  truncated: boolean;
}

/** A read-only connection to the tidy database. */
export interface ReadOnlyDatabase {
  readonly dialect: Dialect;
  /** The database location with any password removed: safe for logs and reports. */
  readonly label: string;
  /** Runs one statement with named (`:name`) parameters. Writes are refused. */
  query(sql: string, params: Record<string, unknown>, options: QueryOptions): Promise<QueryResult>;
  /** Tables (lower-case names) and their columns (lower-case), for the built-in reports. */
  tables(): Promise<Map<string, Set<string>>>;
  close(): Promise<void>;
}

/** Normalises a value from a driver into plain JSON-friendly data. */
export function normalizeValue(v: unknown): unknown {
  if (v === null || v === undefined) return null;
  if (typeof v === "bigint") {
    return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(v) : v.toString();
  }
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? null : v.toISOString();
  if (v instanceof Uint8Array) return Buffer.from(v).toString("base64");
  return v;
}
