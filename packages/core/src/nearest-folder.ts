import { existsSync } from "node:fs";
import { dirname } from "node:path";

/**
 * `path` itself when it exists, else the nearest folder above it that does: where a
 * recursive mkdir of `path` would begin, so the one whose permissions and filesystem
 * decide whether it can be made (a read-only mount answers ENOENT to the mkdir itself).
 */
export function nearestExisting(path: string): string {
  let folder = path;
  while (!existsSync(folder) && dirname(folder) !== folder) folder = dirname(folder);
  return folder;
}
