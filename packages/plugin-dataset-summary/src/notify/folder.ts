/**
 * Folder target: copies the report (and, if asked, summary.json and the CSV/JSON files)
 * into a folder such as a shared drive, as `<job>/<runId>/...`, written under a temporary
 * name and renamed (a reader never sees a half-copied report). `latest.html` is replaced
 * with the newest report.
 */
import { copyFile, rename, rm } from "node:fs/promises";
import path from "node:path";
import { refusalReason, type FolderRefusal } from "@ujr/core/task";
import { SummaryErrorCode, summaryError, type SummaryError } from "../errors.js";
import { folderRefusal } from "../internal/folders.js";
import type { Manifest } from "../manifest.js";
import type { NotifyLogger } from "./webhook.js";

export interface FolderTarget {
  path: string;
  /** Also copy summary.json and every query's CSV and JSON file. */
  includeData: boolean;
}

/**
 * UJR_SUMMARY_FOLDER_FAILED for a folder in the target's `path` that could not be made
 * (`dest`: the run's copy, or `<path>/<job>` when the job is made): the folder above it that
 * refused and why, with the OS's error, and the setting to change. The one wording of a
 * notification's failure and of the check when the job is made (see checkFolders).
 */
export function folderTargetError(targetPath: string, dest: string, refused: FolderRefusal): SummaryError {
  return summaryError(
    SummaryErrorCode.FOLDER_FAILED,
    `folder target "${targetPath}": the report could not be copied to ${dest}: ${refused.parent} ${refusalReason(refused)}. ` +
      `Set the folder target's "path" (under "notify") to a folder that can be made, on a writable disk where the user running ujr may write.`,
    { cause: refused.error },
  );
}

export async function copyToFolder(target: FolderTarget, manifest: Manifest, options: { logger?: NotifyLogger | undefined } = {}): Promise<{ dir: string }> {
  const dest = path.join(target.path, manifest.job, manifest.runId);
  const tmp = `${dest}.tmp-${process.pid}`;
  try {
    // a file in the way answers ENOTDIR here: the mkdir below names it in full
    await rm(tmp, { recursive: true, force: true }).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== "ENOTDIR") throw e;
    });
    // one plain mkdir per level: a recursive one spins for ever under /proc (see folderRefusal)
    const refused = folderRefusal(tmp);
    if (refused !== undefined) throw folderTargetError(target.path, dest, refused);
    const files = ["report.html"];
    if (target.includeData) {
      files.push("summary.json");
      for (const q of manifest.queries) if (q.files) files.push(q.files.csv, q.files.json);
    }
    for (const f of files) await copyFile(path.join(manifest.dir, f), path.join(tmp, f));
    await rm(dest, { recursive: true, force: true });
    await rename(tmp, dest);
    const latestTmp = path.join(target.path, manifest.job, `.latest.html.tmp-${process.pid}`);
    await copyFile(path.join(dest, "report.html"), latestTmp);
    await rename(latestTmp, path.join(target.path, manifest.job, "latest.html"));
  } catch (err) {
    await rm(tmp, { recursive: true, force: true }).catch(() => {});
    // the folder's own refusal, said in full (folderTargetError)
    if ((err as { code?: unknown }).code === SummaryErrorCode.FOLDER_FAILED) throw err;
    const code = (err as NodeJS.ErrnoException).code ?? "error";
    throw summaryError(SummaryErrorCode.FOLDER_FAILED, `folder target "${target.path}": copying the report failed (${code}); check that the folder exists and is writable.`);
  }
  options.logger?.info({ target: target.path, dir: dest }, `report copied to ${dest}`);
  return { dir: dest };
}
