// Crash-safe file writes for plugins' state and outputs: after a crash (or a power loss)
// a file written here is either absent, or whole; never half-written.
import { mkdir, open, readdir, rename, unlink } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import { basename, dirname, join } from "node:path";

/** fsyncs a directory so that a rename or unlink in it survives a power loss. */
export async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Writes a file so that after a crash it is either absent or complete: temp file in the
 * same folder (named `.tmp-<kind>-...`), fsync, rename over the target, fsync the folder.
 * Creates the folder (and its parents) when missing.
 */
export async function writeFileDurable(path: string, data: string | Uint8Array, kind = "write"): Promise<void> {
  const dir = dirname(path);
  // A folder made here must itself survive a crash: fsync the parent of each new level.
  const created = await mkdir(dir, { recursive: true });
  if (created !== undefined) {
    for (let folder = dir; ; folder = dirname(folder)) {
      await fsyncDir(dirname(folder));
      if (folder === created || dirname(folder) === folder) break;
    }
  }
  const tmp = join(dir, `.tmp-${kind}-${basename(path)}-${process.pid}-${randomBytes(4).toString("hex")}`);
  try {
    await writeSynced(tmp, "wx", data);
    await rename(tmp, path);
  } catch (error) {
    // A write that failed (disk full, quota, I/O error) must not leave its partial temp
    // file taking space until the next start; the original error is what the caller sees.
    await unlink(tmp).catch(() => undefined);
    throw error;
  }
  await fsyncDir(dir);
}

/** Removes temp files of one kind that a crashed writer left behind. */
export async function removeTemps(dir: string, kind: string): Promise<number> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return 0;
  }
  let removed = 0;
  for (const name of names) {
    if (!name.startsWith(`.tmp-${kind}-`)) continue;
    await unlink(join(dir, name)).catch(() => undefined);
    removed++;
  }
  return removed;
}

/** Appends text and fsyncs (for append-only logs such as the URL cache). */
export async function appendDurable(path: string, text: string): Promise<void> {
  await writeSynced(path, "a", text);
}

/** Writes through a file opened with `flags` and fsyncs it before closing. */
async function writeSynced(path: string, flags: "wx" | "a", data: string | Uint8Array): Promise<void> {
  const handle = await open(path, flags);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
}
