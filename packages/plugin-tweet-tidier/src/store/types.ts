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
  /**
   * True when the file had bad lines and none of its lines could be loaded (for a skipped
   * file: as recorded when it was loaded). In `once` mode the job fails on such a file.
   */
  nothingLoaded: boolean;
  /** An archive's members skipped because their bytes were loaded before (see archive_members); absent when none. */
  skippedMembers?: number;
  /** When nothing of a file loaded now: its first bad line's error (code and message as stored), the likely cause of the rest. */
  firstError?: { lineNo: number; code: string; message: string };
}

/** What became of one file of a batch: its result, or the error that stopped it (its transaction was rolled back). */
export interface FileOutcome {
  path: string;
  result?: IngestResult;
  error?: unknown;
}

/** Minimal logger (pino-compatible). */
export interface TidyLogger {
  /** Timings of a load's steps (the index build, the close), when given. */
  debug?(obj: object, msg?: string): void;
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
   * Hash, read and parse in a worker thread, ahead of and in parallel with the writes.
   * Default: SQLite, for files (of one call) of 1 MiB or more together on a machine with
   * two cores or more; PostgreSQL: only when true.
   */
  parseInWorker?: boolean;
}

export interface TidyStore {
  readonly backend: "sqlite" | "postgres";
  /** Loads one raw file in one transaction; exactly once per content (SHA-256). */
  ingestFile(path: string, opts?: IngestOptions): Promise<IngestResult>;
  /**
   * Loads files in this order, each in its own transaction (exactly once per content, as
   * ingestFile), going on after a file that fails (its outcome carries the error); an
   * abort stops the batch. Files are read and parsed ahead of the writes (see parseInWorker).
   */
  ingestFiles(paths: readonly string[], opts?: IngestOptions, onFile?: (o: FileOutcome) => void): Promise<FileOutcome[]>;
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
  existing?: { path: string; status: string; nothingLoaded: boolean };
}

/** One file's transaction on a backend; the shared loop in ingest.ts drives it. */
export interface FileTxn {
  /** Claims the file by inserting its source_files row; returns the existing row if the content is known. */
  claim(path: string, sha256: string, size: number, kind: FileKind, mtimeUs: number | null): Promise<ClaimResult>;
  /**
   * An archive member starts: when its bytes were loaded before (a file's or another
   * member's SHA-256), records it skipped and returns where they were loaded; otherwise
   * records it loaded and returns undefined (its lines follow).
   */
  member(fileId: number, entry: string, sha256: string, size: number): Promise<string | undefined>;
  writePage(p: ParsedPage): void | Promise<void>;
  writeSidecar(row: Row): void | Promise<void>;
  writeIngestError(row: Row): void | Promise<void>;
  commit(fileId: number, status: "loaded" | "partial", stats: FileStats): Promise<void>;
  rollback(): Promise<void>;
}
