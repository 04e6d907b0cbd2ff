import { formatBytes, freeBytes } from "@ujr/core/task";
import { dirname } from "node:path";
import { collectorError, type CollectorError } from "../errors.js";

/** Error codes of a write that failed for want of space: the disk, or the user's quota on it. */
const NO_SPACE = new Set(["ENOSPC", "EDQUOT"]);

const freeText = (dir: string): string => {
  const bytes = freeBytes(dir);
  return bytes === undefined ? "unknown" : formatBytes(bytes);
};

/**
 * UJR_COLLECTOR_DISK_FULL for a write that failed for want of space (ENOSPC, EDQUOT), naming
 * the folder (the failed file's when the error has one, else `dir`) and the space left
 * there; undefined for any other error.
 */
export async function diskFullError(error: unknown, dir: string, what: string): Promise<CollectorError | undefined> {
  const e = error as NodeJS.ErrnoException | null;
  if (typeof e?.code !== "string" || !NO_SPACE.has(e.code)) return undefined;
  const where = typeof e.path === "string" ? dirname(e.path) : dir;
  return collectorError(
    "UJR_COLLECTOR_DISK_FULL",
    { what, dir: where, code: e.code, problem: e.code === "EDQUOT" ? "this user's disk quota there is used up" : "its disk is full", free: freeText(where) },
    { cause: error },
  );
}

/** Runs a write into `dir`; a full disk fails with UJR_COLLECTOR_DISK_FULL, other errors as they are. */
export async function writingTo<T>(dir: string, what: string, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (error) {
    throw (await diskFullError(error, dir, what)) ?? error;
  }
}
