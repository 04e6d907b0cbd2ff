import { accessSync, constants, statSync } from "node:fs";
import { nearestExisting } from "@ujr/core";
import { localError } from "../errors.js";

/**
 * Why the runner could not keep its state in `dataDir`, or undefined: the folder, or the
 * nearest existing folder above it (where it would be made), must be a folder this user
 * may write. access(2) answers EROFS for a read-only filesystem even to root, so a
 * read-only mount is found before any job runs (`ujr run`, `ujr validate`), not as the
 * ENOENT a recursive mkdir reports for it.
 */
export function dataDirProblem(dataDir: string, source = "the config"): Error | undefined {
  const folder = nearestExisting(dataDir);
  const where = folder === dataDir ? "it" : `${folder}, where it would be created,`;
  try {
    if (!statSync(folder).isDirectory()) return localError("UJR_DATA_DIR_UNWRITABLE", { dataDir, source, reason: `${where === "it" ? "it" : folder} is a file, not a folder` });
    accessSync(folder, constants.W_OK | constants.X_OK);
    return undefined;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === "EROFS" ? "is on a read-only filesystem" : code === "EACCES" || code === "EPERM" ? "may not be written by this user" : `cannot be written (${(error as Error).message})`;
    return localError("UJR_DATA_DIR_UNWRITABLE", { dataDir, source, reason: `${where} ${why}${code ? ` (${code})` : ""}` });
  }
}
