import { lstatSync, mkdirSync, readlinkSync, rmdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { nearestExisting } from "./nearest-folder.js";

/** A folder that could not be made: the mkdir that failed, in the folder that exists. */
export interface FolderRefusal {
  /** The folder whose mkdir failed. */
  folder: string;
  /** Its parent, which exists (or a file, when one is in the way). */
  parent: string;
  /** The OS error of that mkdir (its message names the call and the path). */
  error: NodeJS.ErrnoException;
}

/**
 * Makes `path` and the folders missing above it, one level at a time from the nearest
 * existing one, with a plain (non-recursive) mkdir each. Node 20's recursive mkdir never
 * returns on a kernel filesystem such as /proc, where mkdir answers ENOENT although the
 * parent exists: it retries the parent for ever at 100% CPU, deaf to SIGTERM. One mkdir
 * per level cannot loop, and its refusal names the real folder and the OS's own error.
 * Returns the folders made (outermost first), or the refusal; the ones made before a
 * refusal are removed again, so a failed attempt leaves nothing behind. A file (or anything
 * else not a folder) at `path` itself is refused as mkdir refuses it (EEXIST), not taken for
 * the folder.
 */
export function makeFolders(path: string): { made: string[] } | { refused: FolderRefusal } {
  const base = nearestExisting(path);
  if (base === path && !isFolder(path)) return notAFolder(path);
  const missing: string[] = [];
  for (let folder = path; folder !== base; folder = dirname(folder)) missing.unshift(folder);
  const made: string[] = [];
  for (const folder of missing) {
    try {
      mkdirSync(folder);
      made.push(folder);
    } catch (error) {
      // Made meanwhile (another runner, a job's own mkdir): fine when it is a folder.
      if ((error as NodeJS.ErrnoException).code === "EEXIST" && isFolder(folder)) continue;
      removeFolders(made);
      return { refused: { folder, parent: dirname(folder), error: error as NodeJS.ErrnoException } };
    }
  }
  return { made };
}

/**
 * Whether `path` can be made, found by making it as makeFolders does and removing what was
 * made again: a check (`ujr validate`, a job's create()) that leaves nothing behind and a
 * folder that was there alone. access(2) of the folder above answers for neither a kernel
 * filesystem (/proc says EACCES, /sys says yes to root) nor a file in the way; a mkdir says
 * what the real one will meet. `make`: makeFolders, or a stand-in that refuses (tests).
 */
export function tryMakeFolders(path: string, make: typeof makeFolders = makeFolders): FolderRefusal | undefined {
  const result = make(path);
  if ("refused" in result) return result.refused;
  removeFolders(result.made);
  return undefined;
}

/** `path` exists and is no folder (or could not be looked at): one plain mkdir says why in the OS's words. */
function notAFolder(path: string): { made: string[] } | { refused: FolderRefusal } {
  try {
    mkdirSync(path);
    // removed between the look and the mkdir: made now
    return { made: [path] };
  } catch (error) {
    if (isFolder(path)) return { made: [] };
    return { refused: { folder: path, parent: dirname(path), error: error as NodeJS.ErrnoException } };
  }
}

/**
 * Whether a new folder can be made in the existing folder `dir`: makes `dir/<probe>` and
 * removes it. access(2) is not enough: it says yes to root on /sys, whose mkdir says EPERM.
 */
export function probeFolder(dir: string): FolderRefusal | undefined {
  const probe = join(dir, `.ujr-write-check-${process.pid}`);
  for (let attempt = 1; ; attempt++) {
    try {
      mkdirSync(probe);
      break;
    } catch (error) {
      // left by a process of the same pid that was killed mid-check: remove it, try again
      if ((error as NodeJS.ErrnoException).code === "EEXIST" && attempt === 1 && isFolder(probe)) {
        removeFolders([probe]);
        continue;
      }
      return { folder: probe, parent: dir, error: error as NodeJS.ErrnoException };
    }
  }
  removeFolders([probe]);
  return undefined;
}

/** Removes folders made by makeFolders, innermost first: one that is no longer empty stays. */
export function removeFolders(made: string[]): void {
  for (const folder of [...made].reverse()) {
    try {
      rmdirSync(folder);
    } catch {
      // another process (a second runner on the same dataDir) put something in it: theirs now
    }
  }
}

function isFolder(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Why `refusal.parent` would not take the new folder, for a message that goes on to say
 * what to do: the cause in words, then the OS error as the OS said it.
 */
export function refusalReason(refusal: FolderRefusal): string {
  const { parent, error } = refusal;
  const os = error.message;
  switch (error.code) {
    case "EROFS":
      return `is on a read-only filesystem (${os})`;
    case "EACCES":
      return `may not be written by this user (${os})`;
    case "EPERM":
      // even for root: a filesystem of the kernel (sysfs), or an immutable folder (chattr +i)
      return `does not allow new folders, as on a filesystem of the kernel such as /sys or in a folder marked immutable (${os})`;
    case "ENOSPC":
      return `is on a disk with no space left (${os}); free some space there`;
    case "EDQUOT":
      return `is on a disk where this user's quota is used up (${os})`;
    case "ENOTDIR":
      return `is not a folder (${os})`;
    case "EEXIST":
      // only when it is not a folder (see makeFolders): a file, or a symbolic link to nothing
      return `already has ${refusal.folder} there, which is ${describeNonFolder(refusal.folder)} (${os})`;
    case "ENOENT":
      // The parent was there a moment ago: either the kernel's own filesystem (/proc)
      // refuses new entries with ENOENT, or the parent was removed meanwhile.
      return isFolder(parent)
        ? `is on a filesystem of the kernel (such as /proc) that does not allow new folders (${os})`
        : `was removed while the folder was being made (${os})`;
    default:
      return `does not allow new folders (${os})`;
  }
}

/** What is at `path` instead of a folder: usually a symbolic link whose target is gone. */
function describeNonFolder(path: string): string {
  try {
    if (lstatSync(path).isSymbolicLink()) return `a symbolic link to ${readlinkSync(path)}, which does not exist`;
  } catch {
    // gone meanwhile: say no more than that it is not a folder
  }
  return "not a folder";
}
