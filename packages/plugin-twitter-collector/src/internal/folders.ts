import { dirname } from "node:path";
import { makeFolders, noSpaceCode, refusalReason, tryMakeFolders, type FolderRefusal, type Logger } from "@ujr/core/task";
import { collectorError, type CollectorError } from "../errors.js";

/** The folders a collector task writes, by what the message calls them and the setting that places them. */
export type CollectorFolder = "state" | "raw" | "archive";

const WHAT: Record<CollectorFolder, string> = {
  state: "the job's state folder",
  raw: "the folder of raw pages",
  archive: "the folder of archives",
};

/**
 * What follows the advice, by when the folder was found unusable: a task's failure is
 * tried again after the job's pauses; the check when the job is made stops it first.
 */
const THEN = {
  task: "nothing stored is lost, and the job tries again after its pauses",
  create: "no task has run",
} as const;

/**
 * UJR_COLLECTOR_FOLDER_UNWRITABLE for `dir` (the state, raw or archive folder) that could
 * not be made: the folder, the folder above it that refused and why (with the OS's error),
 * and the setting to change. The one wording of a task's failure (makeFolder) and of the
 * check when the job is made (checkOutputFolders).
 */
export function folderError(dir: string, folder: CollectorFolder, refused: FolderRefusal, when: keyof typeof THEN = "task"): CollectorError {
  const setting =
    folder === "state"
      ? `runner.dataDir (the runner keeps each job's state in <runner.dataDir>/<job>, here ${dir})`
      : `the job's \`outputDir\` (where raw/ and archive/ go, now ${dirname(dir)})`;
  return collectorError(
    "UJR_COLLECTOR_FOLDER_UNWRITABLE",
    { what: WHAT[folder], dir, reason: `${refused.parent} ${refusalReason(refused)}`, setting, then: THEN[when] },
    { cause: refused.error },
  );
}

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
  if (noSpaceCode(made.refused.error) !== undefined) throw made.refused.error;
  throw folderError(dir, folder, made.refused);
}

/**
 * The check when a job is made (`ujr validate`, the start of `ujr run`): makes the raw and
 * the archive folder as the tasks will (makeFolders, one plain mkdir per level) and removes
 * what it made again (tryMakeFolders), so that a check leaves nothing behind and a folder that was there is
 * left alone. One that cannot be made (a kernel filesystem such as /proc or /sys, a
 * read-only one, a file in the way) is thrown as the task's UJR_COLLECTOR_FOLDER_UNWRITABLE,
 * before any task runs. A full disk or quota is no reason not to make the job (space may be
 * freed before its first write; its tasks then say UJR_COLLECTOR_DISK_FULL and the job's
 * pauses try again): it is logged as a warning.
 */
export function checkOutputFolders(
  folders: ReadonlyArray<readonly [dir: string, folder: CollectorFolder]>,
  logger: Pick<Logger, "warn">,
  make: typeof makeFolders = makeFolders,
): void {
  for (const [dir, folder] of folders) {
    const refused = tryMakeFolders(dir, make);
    if (refused === undefined) continue;
    const full = noSpaceCode(refused.error);
    if (full === undefined) throw folderError(dir, folder, refused, "create");
    logger.warn(
      { dir, code: full },
      `${WHAT[folder]} ${dir} cannot be made now: ${refused.parent} ${refusalReason(refused)}. The job is made all the same: its tasks fail with UJR_COLLECTOR_DISK_FULL and the job's pauses try again until there is space.`,
    );
  }
}
