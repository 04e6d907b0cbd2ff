/**
 * The output folder: `<outDir>/<job>/<UTC timestamp>/`, written under a temporary name and
 * renamed into place when complete (a reader never sees half a run), the last `keep`
 * runs kept, and `latest` pointing at the newest: a relative symlink where the file
 * system allows it, and always a `latest.json` pointer.
 */
import { mkdir, readdir, readFile, rename, rm, symlink, writeFile, unlink } from "node:fs/promises";
import path from "node:path";
import { noSpaceCode, processAlive, writeFileDurable } from "@ujr/core/task";
import { FolderRefused, folderRefusal } from "./internal/folders.js";

const RUN_DIR = /^\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}Z(-\d+)?$/;

/** `2024-05-01T10:00:00.123Z` -> `2024-05-01T10-00-00Z`. */
export function runIdFor(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, "Z").replaceAll(":", "-");
}

export function isRunDirName(name: string): boolean {
  return RUN_DIR.test(name);
}


/**
 * The pid of the process that wrote a temporary run folder (`.tmp-<run id>-<pid>`), or
 * undefined for a name that is not one.
 */
export function tempDirOwner(name: string): number | undefined {
  const m = /^\.tmp-(.+)-(\d+)$/.exec(name);
  return m && RUN_DIR.test(m[1]!) ? Number(m[2]) : undefined;
}

/**
 * Removes the temporary run folders left by runs that can no longer finish: those of
 * processes that are gone (killed, crashed) and this process's own (the runs of one job
 * never overlap, so an own one is from an earlier run that failed before its cleanup).
 * A folder of another live process is a run in progress and stays. Returns the names removed.
 */
export async function sweepStaleTempDirs(jobDir: string): Promise<string[]> {
  const removed: string[] = [];
  for (const name of await readdir(jobDir).catch(() => [] as string[])) {
    const pid = tempDirOwner(name);
    if (pid === undefined || (pid !== process.pid && processAlive(pid))) continue;
    await rm(path.join(jobDir, name), { recursive: true, force: true }).then(
      () => removed.push(name),
      () => {},
    );
  }
  return removed;
}

/**
 * Creates a fresh temporary folder for a run; returns it and the final run id. `jobDir` and
 * the folders missing above it are made one plain mkdir per level (a recursive mkdir spins
 * for ever under /proc: see folderRefusal); one that cannot be made is a FolderRefused (a
 * full disk or quota: the OS's own error, for outputError to say so).
 */
export async function prepareRunDir(jobDir: string, runId: string): Promise<{ tmpDir: string; runId: string }> {
  const refused = folderRefusal(jobDir);
  if (refused !== undefined) throw noSpaceCode(refused.error) !== undefined ? refused.error : new FolderRefused(refused);
  // before anything is written: the leftovers may be what filled the disk
  await sweepStaleTempDirs(jobDir);
  const existing = new Set(await readdir(jobDir));
  let id = runId;
  for (let n = 2; existing.has(id); n++) id = `${runId}-${n}`;
  const tmpDir = path.join(jobDir, `.tmp-${id}-${process.pid}`);
  await rm(tmpDir, { recursive: true, force: true });
  // in jobDir, made above: one level, never a recursive mkdir
  await mkdir(tmpDir);
  return { tmpDir, runId: id };
}

export async function commitRunDir(jobDir: string, tmpDir: string, runId: string): Promise<string> {
  const final = path.join(jobDir, runId);
  await rename(tmpDir, final);
  await pointLatest(jobDir, runId);
  return final;
}

export async function pointLatest(jobDir: string, runId: string): Promise<void> {
  await writeFileDurable(
    path.join(jobDir, "latest.json"),
    JSON.stringify({ runId, dir: runId, report: `${runId}/report.html`, summary: `${runId}/summary.json` }, null, 2) + "\n",
  );
  const link = path.join(jobDir, "latest");
  const tmpLink = `${link}.tmp-${process.pid}`;
  try {
    await unlink(tmpLink).catch(() => {});
    await symlink(runId, tmpLink, "dir");
    await rename(tmpLink, link);
  } catch {
    // Symlinks unavailable (e.g. Windows without privilege): latest.json is the pointer.
    await unlink(tmpLink).catch(() => {});
  }
}

/** The newest run's folder name, from latest.json. */
export async function latestRunId(jobDir: string): Promise<string | undefined> {
  try {
    const j = JSON.parse(await readFile(path.join(jobDir, "latest.json"), "utf8")) as { runId?: string };
    return j.runId;
  } catch {
    return undefined;
  }
}

/** Deletes all but the newest `keep` run folders (temporary ones: `sweepStaleTempDirs`). */
export async function pruneRuns(jobDir: string, keep: number, protect: readonly string[] = []): Promise<string[]> {
  const names = await readdir(jobDir).catch(() => [] as string[]);
  const runs = names.filter(isRunDirName).sort();
  const removed: string[] = [];
  const excess = runs.slice(0, Math.max(0, runs.length - Math.max(1, keep)));
  for (const name of excess) {
    if (protect.includes(name)) continue;
    await rm(path.join(jobDir, name), { recursive: true, force: true });
    removed.push(name);
  }
  return removed;
}

export { writeFile };
