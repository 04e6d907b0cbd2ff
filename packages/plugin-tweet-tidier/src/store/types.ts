import type { ParsedPage, Row } from "../parse-page.js";
import type { FileKind } from "../read-raw.js";

export type IngestStatus = "loaded" | "partial" | "skipped-duplicate" | "already-loaded";

export interface IngestResult {
  path: string;
  status: IngestStatus;
  /** source_files.id of this file (or of the earlier copy when skipped). */
  fileId: number | null;
  sha256: string;
  pages: number;
  /** Tweets in `data` of the loaded pages. */
  tweets: number;
  /** Bad lines recorded in ingest_errors. */
  errors: number;
  /** When skipped: the path under which this content was loaded. */
  loadedAs?: string;
}

/** Minimal logger (pino-compatible). */
export interface TidyLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export interface IngestOptions {
  signal?: AbortSignal;
  logger?: TidyLogger;
  /**
   * Called after each page was written (inside the file's transaction). A test hook: it
   * may wait, to let a test kill the process deterministically mid-file.
   */
  onPage?: (pages: number) => void | Promise<void>;
  /**
   * Read and parse in a worker thread, in parallel with the writes. Default: SQLite, for a
   * file of 4 MiB or more on a machine with two cores or more; PostgreSQL: only when true.
   */
  parseInWorker?: boolean;
}

export interface TidyStore {
  readonly backend: "sqlite" | "postgres";
  /** Loads one raw file in one transaction; exactly once per content (SHA-256). */
  ingestFile(path: string, opts?: IngestOptions): Promise<IngestResult>;
  /** Row count of a table or view of the tidy schema (for tests and reports). */
  count(table: string, where?: string): Promise<number>;
  /** Runs a read query (positional parameters as `?`) and returns its rows. */
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  close(): Promise<void>;
}

export interface FileStats {
  lines: number;
  pages: number;
  dataTweets: number;
  includedTweets: number;
  users: number;
  resolvedUrls: number;
  apiErrors: number;
  ingestErrors: number;
}

export interface ClaimResult {
  fileId: number;
  existing?: { path: string; status: string };
}

/** One file's transaction on a backend; the shared loop in ingest.ts drives it. */
export interface FileTxn {
  /** Claims the file by inserting its source_files row; returns the existing row if the content is known. */
  claim(path: string, sha256: string, size: number, kind: FileKind): Promise<ClaimResult>;
  writePage(p: ParsedPage): void | Promise<void>;
  writeSidecar(row: Row): void | Promise<void>;
  writeIngestError(row: Row): void | Promise<void>;
  commit(fileId: number, status: "loaded" | "partial", stats: FileStats): Promise<void>;
  rollback(): Promise<void>;
}
