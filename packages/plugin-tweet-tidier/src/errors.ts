import { userInfo } from "node:os";

/**
 * Error catalogue of @ujr/plugin-tweet-tidier. Errors carry a stable `code`; check
 * `err.code`, never `instanceof` (errors cross worker boundaries as plain objects).
 */
export const TIDY_ERRORS = {
  UJR_TIDY_BAD_JSON: "A line of a raw file is not valid JSON (truncated or corrupted). The other lines were loaded and the file is marked partial; fix or re-collect the file and load it under a new name.",
  UJR_TIDY_NOT_A_PAGE: "A line is JSON but not a Twitter API v2 response page (or URL-sidecar record). The line was skipped and recorded in ingest_errors.",
  UJR_TIDY_BAD_UTF8: "A line of a raw file is not valid UTF-8 (e.g. Latin-1 text). It was not loaded and nothing was replaced; the message names the line and the byte offset of the first bad byte. The other lines were loaded and the file is marked partial; convert the file to UTF-8 and load it under a new name.",
  UJR_TIDY_UTF16: "The raw file is UTF-16, not UTF-8: nothing of it was loaded and it is recorded as partial with this error. Convert it to UTF-8 (iconv -f UTF-16 -t UTF-8) and load it under a new name.",
  UJR_TIDY_NOTHING_LOADED: "A raw file had no line that could be loaded (every line was bad, see ingest_errors). In `once` mode this fails the job (exit 1).",
  UJR_TIDY_READ_FAILED: "The raw file could not be read to the end (I/O or decompression error, e.g. a truncated .gz). The lines before the error were loaded and the file is marked partial.",
  UJR_TIDY_FILE_NOT_FOUND: "The raw file does not exist or is not readable. Check the path and permissions.",
  UJR_TIDY_FILE_GONE:
    "A raw file found by a check was gone when its batch came to it (moved or deleted since, as a collector does when it archives its raw files): it was not loaded, and this is not a failure. Found again, it is loaded then; an archive of it loads its content.",
  UJR_TIDY_DATABASE: "The tidy database could not be opened or written (the cause is named before this). Check the job's `database` setting: a SQLite file path or a postgres:// URL.",
  UJR_TIDY_DATABASE_READ_ONLY:
    "The user the runner runs as cannot write the tidy database: the SQLite file or its folder is not writable for that user, or its filesystem is mounted read-only. SQLite writes the database file and creates its -wal and -shm files beside it, so the file and its folder must both be writable. Give that user write access to both (chown or chmod), or point the job's `database` setting at a writable folder, and run again; the files loaded so far are kept.",
  UJR_TIDY_DISK_FULL:
    "The tidy database could not grow: the disk holding it (the filesystem of its folder) is full, or a limit on its files' size was reached. A load needs free space for about as much again as the data it adds: its rows go to the write-ahead log (the -wal file beside the database) before they are copied into the database (a 31 MB database took 29 MB plus 38 MB of WAL at its peak). Each file is loaded all or nothing: the files loaded so far are kept, and the next try goes on from where this one stopped. Free space on that disk, or move the database to a disk with room (the job's `database` setting): a continuous job tries again by itself (after 1, 5 and 15 minutes, then hourly); a `once` job loads the rest when it is run again.",
  UJR_TIDY_CHECKPOINT:
    "A warning, not a failure: SQLite could not copy committed pages from the write-ahead log (the -wal file beside the database) into the database. The files committed are loaded and safe: SQLite reads the WAL with the database, and a later checkpoint (at the next commit, the close or the next run) copies them; until one succeeds the WAL keeps growing. If the disk is full, free space on it or move the database.",
  UJR_TIDY_SQLITE_DRIVER:
    "better-sqlite3, the SQLite driver, cannot load its native module, so no SQLite database can be opened. Build it where it is installed: npm rebuild better-sqlite3 (npm 11 may first ask for its approval: npm install-scripts approve better-sqlite3); or load into PostgreSQL (a postgres:// URL as `database`).",
  UJR_TIDY_DATABASE_BUSY:
    "Another connection held the SQLite database's write lock for the whole busy timeout: another tidy run loading the same database, or a program with changes not yet saved to it (a database browser's open edits, say). Nothing of the file was written; it is tried again. Save or close the other program's changes, or wait for the other run to end, and run again.",
  UJR_TIDY_SCHEMA_TOO_NEW: "The database was created by a newer version of the tweet tidier (its schema_migrations has a higher version). Upgrade @ujr/plugin-tweet-tidier.",
  UJR_TIDY_NO_INPUT: "No input matched. Check `inputs`: folders, files or globs of .jsonl, .jsonl.gz, .ndjson, .ndjson.gz or .tar.gz files.",
  UJR_TIDY_INPUT_MISSING:
    "An input of the tidy job names a file or folder that does not exist (a typo, or a folder a collector has not created yet). In `once` mode this fails the job (exit 1); a continuous job warns once and reads it when it appears. Check `inputs` (relative paths are from the config file's folder).",
  UJR_TIDY_INPUT_UNREADABLE:
    "An input of the tidy job, or a folder found inside one, cannot be listed by the user the runner runs as (permission denied, say): none of the files under it were loaded. Give that user read and execute (search) permission on the folder and on the folders above it (`ls -ld` shows them; `chmod u+rx`, `chmod g+rx` with the user in the folder's group, or run the runner as the folder's owner). In `once` mode this fails the job (exit 1); a continuous job warns once per folder, counts it among its failures, and looks again at every check: the files load once the folder can be read.",
  UJR_TIDY_FILE_FAILED:
    "A raw file could not be tidied on the job's last try (its cause comes before this text: a full disk, a file the runner's user cannot read, a database another program holds locked, ...); nothing of it was written. A continuous job keeps it among its failed files (status panel, `ujr status`) and tries it again after 1, 5 and 15 minutes, then every hour, and at once when the file changes: remove the cause and it loads, the file need not change. A `once` job fails (exit 1); run it again once the cause is removed.",
  UJR_TIDY_NAME_NOT_READ:
    "Files under the inputs look like raw data but have names the tidier does not read from a folder or glob (it reads .jsonl, .jsonl.gz, .ndjson, .ndjson.gz, .tar.gz and .tgz): they were not read. twarc2 output saved as .json is JSON Lines: rename it .jsonl, or name the file itself in `inputs` (a file named there is read whatever its name). Decompress .bz2, .xz, .zst and .zip files, or recompress them with gzip.",
  UJR_TIDY_SLOW_CHECK:
    "A warning, not a failure: listing the inputs (a stat of every raw file under them) takes a large share of the job's `pollInterval`, so the runner spends much of its time looking for new files, a core's worth with no pause. It grows with the files the inputs hold (about 1 s for 100,000 files): raise `pollInterval` (the default 30s suits a collection of months), or move files loaded long ago out of the inputs (the collector's archives with `removeOriginals`, or a folder of their own that no job reads).",
  UJR_TIDY_INDEXES:
    "A large load dropped the secondary indexes of the tables it writes and could not build them again at its end (the database is busy or its disk full, see the cause). Every loaded file is committed; queries run without the indexes, slower, until a tidier store next opens the database read-write and builds them.",
  UJR_TIDY_ABORTED: "Loading was cancelled; the file's transaction was rolled back and it will be loaded again next time.",
} as const;

export type TidyErrorCode = keyof typeof TIDY_ERRORS;

/**
 * Failures of the user's environment, not of a file or of the tidier: every file would fail
 * the same way until the user acts, so trying again at once cannot help (`retryable: false`:
 * a batch stops at the first, and the job is told), and a stack trace would only hide the message.
 */
const ENVIRONMENT_CODES: ReadonlySet<TidyErrorCode> = new Set<TidyErrorCode>(["UJR_TIDY_DISK_FULL", "UJR_TIDY_DATABASE_READ_ONLY"]);

export class TidyError extends Error {
  readonly code: TidyErrorCode;
  override readonly name = "TidyError";
  /** False for a failure of the environment (see ENVIRONMENT_CODES); absent otherwise. */
  declare readonly retryable?: false;
  constructor(code: TidyErrorCode, detail?: string, options?: { cause?: unknown }) {
    super(detail ? `${detail}: ${TIDY_ERRORS[code]}` : TIDY_ERRORS[code], options);
    this.code = code;
    if (ENVIRONMENT_CODES.has(code)) {
      (this as { retryable?: false }).retryable = false;
      delete this.stack;
    }
  }
}

/** A structured-clonable description of an error (for task results and logs); `retryable: false` when trying again cannot help. */
export function errorInfo(e: unknown): { code: string; name: string; message: string; retryable?: false } {
  const x = e as { code?: unknown; name?: unknown; message?: unknown; retryable?: unknown };
  return {
    code: typeof x?.code === "string" ? x.code : "UJR_TIDY_UNEXPECTED",
    name: typeof x?.name === "string" ? x.name : "Error",
    message: typeof x?.message === "string" ? x.message : String(e),
    ...(x?.retryable === false ? { retryable: false as const } : {}),
  };
}

/** An error's `code` when it has a string one (a system's, a driver's, ours), else "". */
export const codeOf = (e: unknown): string => {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : "";
};

/** Who the runner's permissions are those of, for a message: `user "nobody" (uid 65534)`, where the platform says. */
export function runnerUser(): string {
  const uid = typeof process.getuid === "function" ? process.getuid() : undefined;
  let name: string | undefined;
  try {
    name = userInfo().username;
  } catch {
    // a uid without a passwd entry (a container's): the uid says enough
  }
  if (name !== undefined && uid !== undefined) return `user ${JSON.stringify(name)} (uid ${uid})`;
  if (uid !== undefined) return `uid ${uid}`;
  return name !== undefined ? `user ${JSON.stringify(name)}` : "the runner's user";
}
