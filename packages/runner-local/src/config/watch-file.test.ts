import { mkdtempSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { watchFile, type FileWatch } from "./watch-file.js";

/** A watch whose changes a test awaits one at a time. */
function watched(path: string) {
  let wake: (() => void) | undefined;
  let pending = 0;
  const errors: Error[] = [];
  const watch = watchFile(
    path,
    () => {
      pending++;
      wake?.();
    },
    (e) => errors.push(e),
  );
  return {
    watch,
    errors,
    /** Resolves at the next change reported (or at once if one came since the last call). */
    async changed(): Promise<void> {
      while (pending === 0) await new Promise<void>((r) => (wake = r));
      pending = 0;
    },
  };
}

/**
 * Tests that read what the kernel watches need Linux's /proc: elsewhere they are skipped,
 * except under CI=true, where that fails them.
 */
function needsProc(skip: (note: string) => never): void {
  if (process.platform === "linux") return;
  if (process.env.CI === "true") throw new Error(`this test reads the watched inodes in /proc, which ${process.platform} has not`);
  skip(`the watched inodes are read in /proc, which ${process.platform} has not`);
}

/** The inodes this process's inotify instances watch (Linux: /proc/self/fdinfo). */
function inotifyInodes(): Set<number> {
  const out = new Set<number>();
  for (const fd of readdirSync("/proc/self/fd")) {
    let target: string;
    try {
      target = readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      continue;
    }
    if (target !== "anon_inode:inotify") continue;
    for (const m of readFileSync(`/proc/self/fdinfo/${fd}`, "utf8").matchAll(/^inotify wd:\S+ ino:([0-9a-f]+)/gm)) out.add(parseInt(m[1]!, 16));
  }
  return out;
}

describe("watchFile", () => {
  let dir: string;
  let open: FileWatch | undefined;
  afterEach(() => {
    open?.close();
    open = undefined;
    rmSync(dir, { recursive: true, force: true });
  });
  const setUp = () => {
    dir = mkdtempSync(join(tmpdir(), "ujr-watch-"));
    const file = join(dir, "ujr.yaml");
    writeFileSync(file, "jobs: {}\n");
    return file;
  };

  it("reports a write in place", async () => {
    const file = setUp();
    const w = watched(file);
    open = w.watch;
    writeFileSync(file, "jobs: { a: {} }\n");
    await w.changed();
    expect(w.errors).toEqual([]);
  });

  it("reports a save by rename (a new file renamed over it), and the writes to that new file after", async () => {
    const file = setUp();
    const w = watched(file);
    open = w.watch;
    writeFileSync(join(dir, ".ujr.yaml.swp"), "jobs: { b: {} }\n");
    renameSync(join(dir, ".ujr.yaml.swp"), file);
    await w.changed();
    // the first file's watch is gone with it: this write reaches the watch of the new one
    writeFileSync(file, "jobs: { c: {} }\n");
    await w.changed();
    writeFileSync(file, "jobs: { d: {} }\n");
    await w.changed();
    expect(w.errors).toEqual([]);
  });

  it("reports a file removed and written again, and its writes after", async () => {
    const file = setUp();
    const w = watched(file);
    open = w.watch;
    unlinkSync(file);
    await w.changed();
    writeFileSync(file, "jobs: { e: {} }\n");
    await w.changed();
    writeFileSync(file, "jobs: { f: {} }\n");
    await w.changed();
    expect(w.errors).toEqual([]);
  });

  it("watches the file, not its folder: writes beside it (a database, its WAL) do not wake the process", async ({ skip }) => {
    needsProc(skip);
    const file = setUp();
    const w = watched(file);
    open = w.watch;
    const watchedNow = inotifyInodes();
    expect(watchedNow.has(statSync(file).ino)).toBe(true);
    expect(watchedNow.has(statSync(dir).ino)).toBe(false);
    // while the file is gone, the folder is watched for its name; once back, the file again
    unlinkSync(file);
    await w.changed();
    expect(inotifyInodes().has(statSync(dir).ino)).toBe(true);
    writeFileSync(file, "jobs: {}\n");
    await w.changed();
    // a watch closed from its own callback is removed once that callback has returned
    await new Promise((r) => setImmediate(r));
    const after = inotifyInodes();
    expect(after.has(statSync(file).ino)).toBe(true);
    expect(after.has(statSync(dir).ino)).toBe(false);
  });

  it("holds no watch once closed", async ({ skip }) => {
    needsProc(skip);
    const file = setUp();
    const w = watched(file);
    w.watch.close();
    expect(inotifyInodes().has(statSync(file).ino)).toBe(false);
  });
});
