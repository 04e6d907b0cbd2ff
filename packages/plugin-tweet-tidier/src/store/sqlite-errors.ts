import { accessSync, constants, existsSync, statSync } from "node:fs";
import { basename, dirname } from "node:path";
import { formatBytes, freeBytes, makeFolders, nearestExisting, refusalReason, tryMakeFolders, type FolderRefusal } from "@ujr/core/task";
import { TidyError, codeOf, runnerUser } from "../errors.js";

/**
 * An I/O error of SQLite's (SQLITE_IOERR_*: it does not pass on the system's errno) is taken
 * for a full disk when the database's filesystem has less than this free: a write SQLite
 * could not make there (a WAL frame, the -shm file growing by 32 KiB) needs less.
 */
export const DISK_FULL_BELOW_BYTES = 4 << 20;

/** A driver's or the system's error in words: `SQLITE_FULL: database or disk is full`. */
export const causeOf = (e: unknown): string => {
  const code = codeOf(e);
  const message = (e as { message?: unknown })?.message;
  const text = typeof message === "string" && message !== "" ? message : code || String(e);
  return code && !text.startsWith(code) ? `${code}: ${text}` : text;
};

const sizeOf = (path: string): number => {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
};

/** Why `path` cannot be written by this process (EACCES, EROFS, ...), or undefined when it can (or does not exist). */
function notWritable(path: string): string | undefined {
  try {
    accessSync(path, constants.W_OK);
    return undefined;
  } catch (e) {
    const code = codeOf(e);
    return code === "ENOENT" ? undefined : code || "EACCES";
  }
}

/**
 * UJR_TIDY_DATABASE_READ_ONLY when the SQLite database `file` (or its folder, where SQLite
 * creates its -wal and -shm, or the folder that would hold it) cannot be written by this
 * process; undefined when it can, as far as access(2) tells. Checked when a job is made, so
 * that `ujr validate` and the start of `ujr run` say it before any file is tried.
 */
export function databaseNotWritable(file: string): TidyError | undefined {
  // the folder is made and removed again (tryMakeFolders): a mkdir says what the store's own will meet
  const refused = tryMakeFolders(dirname(file));
  if (refused !== undefined) return databaseFolderError(file, refused, 0);
  const part = unwritablePart(file);
  return part === undefined ? undefined : new TidyError("UJR_TIDY_DATABASE_READ_ONLY", `cannot write SQLite database ${file}: ${part}`);
}

/** What in the file's place cannot be written, in words, or undefined when everything is writable. */
function unwritablePart(file: string): string | undefined {
  const dir = dirname(file);
  const name = basename(file);
  if (!existsSync(dir)) {
    // the store creates the folder: the nearest one that exists must be writable
    const up = nearestExisting(dir);
    const denied = notWritable(up);
    if (denied === "EROFS") return `its folder ${dir} cannot be created: the filesystem of ${up} is mounted read-only`;
    return denied === undefined ? undefined : `its folder ${dir} cannot be created: ${up} is not writable by ${runnerUser()}, the user the runner runs as`;
  }
  const parts = [file, `${file}-wal`, `${file}-shm`, dir].filter((p) => p === dir || existsSync(p));
  const denied = parts.map((p) => [p, notWritable(p)] as const).filter(([, why]) => why !== undefined);
  if (denied.length === 0) return undefined;
  if (denied.some(([, why]) => why === "EROFS")) return `the filesystem of ${dir} is mounted read-only`;
  const user = runnerUser();
  const [path] = denied.find(([p]) => p === dir) ?? denied[0]!;
  if (path === dir) return `its folder ${dir} is not writable by ${user}, the user the runner runs as (SQLite creates ${name}-wal and ${name}-shm there)`;
  return `${path} is not writable by ${user}, the user the runner runs as`;
}

/**
 * A full disk under the database `file`, in words: where, how full (its free space, the
 * database's and its WAL's sizes), and, when there is room now, what else says "full".
 */
export function diskFullDetail(file: string, cause: unknown, free = freeBytes(dirname(file))): string {
  const dir = dirname(file);
  const held = `the database takes ${formatBytes(sizeOf(file))} and its WAL ${formatBytes(sizeOf(`${file}-wal`))}`;
  if (free === undefined) return `${file}: the disk is full (${causeOf(cause)}; ${held})`;
  if (free < DISK_FULL_BELOW_BYTES) return `${file}: the disk is full (${causeOf(cause)}; ${formatBytes(free)} free on the filesystem of ${dir}, where ${held})`;
  // SQLITE_FULL with room on the disk: space freed since, or a limit other than the disk's
  return `${file}: SQLite found no room to write (${causeOf(cause)}), though ${formatBytes(free)} are free on the filesystem of ${dir} now: space freed since, or a limit on the size of files (a disk quota, \`ulimit -f\`) or of the database (max_page_count); ${held}`;
}

/** A full disk under the database `file`, as the catalogue's error: where, how full, and what to do. */
export function diskFullError(file: string, cause: unknown): TidyError {
  return new TidyError("UJR_TIDY_DISK_FULL", diskFullDetail(file, cause), { cause });
}

/**
 * The SQLite store's failures as the catalogue's errors, named by their real cause: the
 * write lock held past the busy timeout, a full disk (SQLITE_FULL; an I/O error or ENOSPC
 * with the disk found full), a database or folder the runner's user cannot write
 * (SQLITE_READONLY and its extended codes; SQLITE_CANTOPEN, EACCES or EROFS where the file
 * or its folder is not writable). Anything else is returned as it is.
 */
export function sqliteFailure(e: unknown, file: string, busyTimeoutMs: number): unknown {
  if (e instanceof TidyError || file === ":memory:") return e;
  const code = codeOf(e);
  if (code.startsWith("SQLITE_BUSY")) {
    const waited = busyTimeoutMs >= 1000 ? `${Math.round(busyTimeoutMs / 1000)} s` : `${busyTimeoutMs} ms`;
    return new TidyError("UJR_TIDY_DATABASE_BUSY", `${file} stayed locked by another connection for ${waited}`, { cause: e });
  }
  if (code === "SQLITE_FULL" || code === "ENOSPC") return diskFullError(file, e);
  if (code.startsWith("SQLITE_IOERR")) {
    const free = freeBytes(dirname(file));
    return free !== undefined && free < DISK_FULL_BELOW_BYTES ? diskFullError(file, e) : e;
  }
  // (a file moved or deleted while open is no matter of permissions)
  if ((code.startsWith("SQLITE_READONLY") && code !== "SQLITE_READONLY_DBMOVED") || code === "SQLITE_CANTOPEN" || code === "EACCES" || code === "EPERM" || code === "EROFS") {
    const part = unwritablePart(file);
    if (part !== undefined) return new TidyError("UJR_TIDY_DATABASE_READ_ONLY", `cannot write SQLite database ${file}: ${part} (${causeOf(e)})`, { cause: e });
    if (code.startsWith("SQLITE_READONLY")) return new TidyError("UJR_TIDY_DATABASE_READ_ONLY", `cannot write SQLite database ${file} (${causeOf(e)})`, { cause: e });
  }
  return e;
}

/**
 * Makes the folder of the SQLite database `file` (and those missing above it); a folder
 * that cannot be made is the catalogue's error, named by its real cause: a full disk or one
 * its user cannot write as sqliteFailure names them (UJR_TIDY_DISK_FULL,
 * UJR_TIDY_DATABASE_READ_ONLY), anything else (a kernel filesystem such as /proc or /sys, a
 * file in the way) UJR_TIDY_DATABASE naming the folder, the OS's refusal and the setting to change.
 */
export function makeDatabaseFolder(file: string, busyTimeoutMs: number): void {
  const dir = dirname(file);
  // one plain mkdir per level (makeFolders of @ujr/core): a recursive one spins for ever
  // where mkdir answers ENOENT under an existing folder (a kernel filesystem such as /proc)
  const made = makeFolders(dir);
  if ("refused" in made) throw databaseFolderError(file, made.refused, busyTimeoutMs);
}

/**
 * The folder of the SQLite database `file` could not be made: a full disk or a folder its
 * user cannot write as sqliteFailure names them, anything else UJR_TIDY_DATABASE naming the
 * folder, the OS's refusal and the setting to change.
 */
function databaseFolderError(file: string, refused: FolderRefusal, busyTimeoutMs: number): TidyError {
  const named = sqliteFailure(refused.error, file, busyTimeoutMs);
  if (named instanceof TidyError) return named;
  return new TidyError(
    "UJR_TIDY_DATABASE",
    `cannot create the folder ${dirname(file)} of SQLite database ${file}: ${refused.parent} ${refusalReason(refused)}; point the job's \`database\` setting at a file in a folder that can be created`,
    { cause: refused.error },
  );
}
