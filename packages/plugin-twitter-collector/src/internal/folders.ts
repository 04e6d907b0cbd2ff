import { dirname } from "node:path";
import { makeFolders, noSpaceCode, refusalReason } from "@ujr/core/task";
import { collectorError } from "../errors.js";

/** The folders a collector task writes, by what the message calls them and the setting that places them. */
export type CollectorFolder = "state" | "raw" | "archive";

const WHAT: Record<CollectorFolder, string> = {
  state: "the job's state folder",
  raw: "the folder of raw pages",
  archive: "the folder of archives",
};

/**
 * Makes `dir` (the task's state, raw or archive folder) and the folders missing above it,
 * one plain mkdir per level (makeFolders of @ujr/core). Never a recursive mkdir: Node 20's
 * spins for ever at 100% CPU, deaf to SIGTERM, where mkdir answers ENOENT under an existing
 * folder (a kernel filesystem such as /proc). A folder that cannot be made (a kernel
 * filesystem, a read-only one, a file in the way) is UJR_COLLECTOR_FOLDER_UNWRITABLE naming
 * it, the OS's refusal and the setting to change; a full disk or quota is thrown as the OS
 * said it, for the task's UJR_COLLECTOR_DISK_FULL (see writingTo).
 */
export function makeFolder(dir: string, folder: CollectorFolder): void {
  const made = makeFolders(dir);
  if (!("refused" in made)) return;
  const refused = made.refused;
  if (noSpaceCode(refused.error) !== undefined) throw refused.error;
  const setting =
    folder === "state"
      ? `runner.dataDir (the runner keeps each job's state in <runner.dataDir>/<job>, here ${dir})`
      : `the job's \`outputDir\` (where raw/ and archive/ go, now ${dirname(dir)})`;
  throw collectorError("UJR_COLLECTOR_FOLDER_UNWRITABLE", { what: WHAT[folder], dir, reason: `${refused.parent} ${refusalReason(refused)}`, setting }, { cause: refused.error });
}
