import { mkdtempSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, statSync, symlinkSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { needsProc } from "../__fixtures__/processes.js";
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
  /** A config file in a new folder, and its watch (closed after the test). */
  const setUp = () => {
    dir = mkdtempSync(join(tmpdir(), "ujr-watch-"));
    const file = join(dir, "ujr.yaml");
    writeFileSync(file, "jobs: {}\n");
    const w = watched(file);
    open = w.watch;
    return { file, w };
  };
  /** Writes the file and waits for the change to be reported. */
  const edit = async (file: string, w: ReturnType<typeof watched>, text: string) => {
    writeFileSync(file, text);
    await w.changed();
  };

  it("reports a write in place", async () => {
    const { file, w } = setUp();
    await edit(file, w, "jobs: { a: {} }\n");
    expect(w.errors).toEqual([]);
  });

  // the first file's watch is gone with it: the writes after reach a watch of the new one
  it.each([
    ["a save by rename (a new file renamed over it)", (file: string) => {
      writeFileSync(join(dir, ".ujr.yaml.swp"), "jobs: { b: {} }\n");
      renameSync(join(dir, ".ujr.yaml.swp"), file);
    }],
    ["a file removed (then written again)", (file: string) => unlinkSync(file)],
  ])("reports %s, and the writes to the new file after", async (_what, replace) => {
    const { file, w } = setUp();
    replace(file);
    await w.changed();
    await edit(file, w, "jobs: { c: {} }\n");
    await edit(file, w, "jobs: { d: {} }\n");
    expect(w.errors).toEqual([]);
  });

  it("reports a symbolic link pointed at another file, and the writes to that file after", async () => {
    const { file, w } = setUp();
    const first = join(dir, "first.yaml");
    const second = join(dir, "second.yaml");
    writeFileSync(first, "jobs: {}\n");
    writeFileSync(second, "jobs: { g: {} }\n");
    open?.close();
    unlinkSync(file);
    symlinkSync(first, file);
    const link = watched(file);
    open = link.watch;
    // as `ln -sfn second.yaml ujr.yaml` does: a new link renamed over the old one
    symlinkSync(second, join(dir, ".ujr.yaml.new"));
    renameSync(join(dir, ".ujr.yaml.new"), file);
    await link.changed();
    await edit(second, link, "jobs: { h: {} }\n");
    expect(link.errors).toEqual([]);
    expect(w.errors).toEqual([]);
  });

  it("watches the file, not its folder: writes beside it (a database, its WAL) do not wake the process", async ({ skip }) => {
    needsProc("the watched inodes", skip);
    const { file, w } = setUp();
    const watchedNow = inotifyInodes();
    expect(watchedNow.has(statSync(file).ino)).toBe(true);
    expect(watchedNow.has(statSync(dir).ino)).toBe(false);
    // while the file is gone, the folder is watched for its name; once back, the file again
    unlinkSync(file);
    await w.changed();
    expect(inotifyInodes().has(statSync(dir).ino)).toBe(true);
    await edit(file, w, "jobs: {}\n");
    // a watch closed from its own callback is removed once that callback has returned
    await new Promise((r) => setImmediate(r));
    const after = inotifyInodes();
    expect(after.has(statSync(file).ino)).toBe(true);
    expect(after.has(statSync(dir).ino)).toBe(false);
  });

  it("holds no watch once closed", async ({ skip }) => {
    needsProc("the watched inodes", skip);
    const { file, w } = setUp();
    w.watch.close();
    expect(inotifyInodes().has(statSync(file).ino)).toBe(false);
  });
});
