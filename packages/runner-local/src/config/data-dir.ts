import { statSync } from "node:fs";
import { makeFolders, nearestExisting, probeFolder, refusalReason, removeFolders, type FolderRefusal } from "@ujr/core";
import { localError } from "../errors.js";

/**
 * Why the runner could not keep its state in `dataDir`, or undefined. The check is the
 * real thing, not access(2), which says yes to root on /proc and /sys: the folders missing
 * down to `dataDir` are made one level at a time (a plain mkdir each, see makeFolders),
 * or, when `dataDir` exists, a probe folder is made in it; then all of it is removed, so
 * `ujr validate` leaves nothing behind. Any refusal (a read-only filesystem, permissions,
 * a kernel filesystem, a full disk, a file in the way) is UJR_DATA_DIR_UNWRITABLE naming
 * the folder and the OS error, found before any job or the run history makes a folder.
 */
export function dataDirProblem(dataDir: string, source = "the config"): Error | undefined {
  const result = tryDataDir(dataDir, source);
  if ("made" in result) removeFolders(result.made);
  return "problem" in result ? result.problem : undefined;
}

/**
 * Makes `dataDir` (and the folders missing above it) for a run, and keeps them; throws
 * UJR_DATA_DIR_UNWRITABLE as dataDirProblem describes it.
 */
export function makeDataDir(dataDir: string, source = "the config"): void {
  const result = tryDataDir(dataDir, source);
  if ("problem" in result) throw result.problem;
}

function tryDataDir(dataDir: string, source: string): { made: string[] } | { problem: Error } {
  const base = nearestExisting(dataDir);
  if (!isFolder(base)) return { problem: localError("UJR_DATA_DIR_UNWRITABLE", { dataDir, source, reason: `${base === dataDir ? "it" : base} is a file, not a folder` }) };
  const attempt = makeFolders(dataDir);
  if ("made" in attempt && attempt.made.length > 0) return attempt;
  // Nothing was missing: whether a job's state folder could be made in it.
  const refused = "refused" in attempt ? attempt.refused : probeFolder(dataDir);
  if (!refused) return { made: [] };
  return { problem: localError("UJR_DATA_DIR_UNWRITABLE", { dataDir, source, reason: `${where(refused, dataDir, base)} ${refusalReason(refused)}` }) };
}

/** The folder that refused, as the message names it: `dataDir` itself is "it". */
function where(refused: FolderRefusal, dataDir: string, base: string): string {
  if (refused.parent === dataDir) return "it";
  if (refused.parent === base) return `${base}, where it would be created,`;
  return `${refused.parent}, just made,`;
}

function isFolder(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    // it exists (nearestExisting) but cannot be looked at: the mkdir below says why
    return true;
  }
}
