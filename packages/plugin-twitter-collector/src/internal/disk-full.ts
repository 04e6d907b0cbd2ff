import { freeSpaceText, noSpaceCode } from "@ujr/core/task";
import { dirname } from "node:path";
import { collectorError, type CollectorError } from "../errors.js";

/**
 * UJR_COLLECTOR_DISK_FULL for a write that failed for want of space (ENOSPC, EDQUOT), naming
 * the folder (the failed file's when the error has one, else `dir`) and the space left
 * there; undefined for any other error.
 */
export function diskFullError(error: unknown, dir: string, what: string): CollectorError | undefined {
  const code = noSpaceCode(error);
  if (code === undefined) return undefined;
  const path = (error as NodeJS.ErrnoException).path;
  const where = typeof path === "string" ? dirname(path) : dir;
  return collectorError(
    "UJR_COLLECTOR_DISK_FULL",
    { what, dir: where, code, problem: code === "EDQUOT" ? "this user's disk quota there is used up" : "its disk is full", free: freeSpaceText(where) ?? "unknown" },
    { cause: error },
  );
}

/** Runs a write into `dir`; a full disk fails with UJR_COLLECTOR_DISK_FULL, other errors as they are. */
export async function writingTo<T>(dir: string, what: string, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (error) {
    throw diskFullError(error, dir, what) ?? error;
  }
}
