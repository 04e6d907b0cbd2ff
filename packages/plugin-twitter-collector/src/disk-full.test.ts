/**
 * The collector on a full disk: the failure is injected into core's durable write (what
 * the page, state and sidecar writes go through), as ENOSPC or EDQUOT, by the kind of
 * file it writes; write-failure.test.ts covers a real failed write (a file size limit).
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { startEmulator, type Emulator } from "@ujr/x-api-emulator";
import { dataIds, drive, readRawPages, searchJob, tempDir } from "./__fixtures__/helpers.js";
import { diskFullError } from "./internal/disk-full.js";

const inject = vi.hoisted(() => ({ fail: undefined as undefined | ((path: string, kind: string) => string | undefined) }));

// the task modules import @ujr/core/task (see task-module-load.test.ts)
vi.mock("@ujr/core/task", async (importOriginal) => {
  const core = await importOriginal<typeof import("@ujr/core/task")>();
  return {
    ...core,
    writeFileDurable: async (path: string, data: string | Uint8Array, kind?: string) => {
      const code = inject.fail?.(path, kind ?? "write");
      // as fs reports a failed write: the code first, no path
      if (code) throw Object.assign(new Error(`${code}: ${code === "EDQUOT" ? "disk quota exceeded" : "no space left on device"}, write`), { code, errno: -28, syscall: "write" });
      return core.writeFileDurable(path, data, kind);
    },
  };
});

let emulator: Emulator;
let tmp: { dir: string; cleanup: () => Promise<void> };
beforeEach(async () => {
  tmp = await tempDir("ujr-collector-full-");
  emulator = await startEmulator({ port: 0 });
});
afterEach(async () => {
  inject.fail = undefined;
  await emulator.close();
  await tmp.cleanup();
});

const FREE = /\d+(\.\d)? ([KMGT]B|B) free there/;

describe("a collector whose disk is full", () => {
  it("fails the fetch with UJR_COLLECTOR_DISK_FULL naming the folder and its free space, at once (no retry), and resumes from the saved position once there is room", async () => {
    const rawDir = join(tmp.dir, "raw");
    inject.fail = (_path, kind) => (kind === "page" ? "ENOSPC" : undefined);
    const job = searchJob({ query: "#brexit", baseUrl: emulator.url, mode: "continuous", maxResults: 10, pagesPerTask: 2, retry: { attempts: 3, baseMs: 1, maxMs: 1, jitter: 0 } }, tmp.dir);
    const full = await drive(job, { maxRounds: 1 });
    expect(full.tasks.map((t) => [t.export, t.ok, t.attempt])).toEqual([["fetchPages", false, 1]]);
    const error = full.tasks[0]!.error!;
    expect(error).toMatchObject({ code: "UJR_COLLECTOR_DISK_FULL", retryable: false });
    expect(error.message).toMatch(
      new RegExp(
        `^Could not write raw page \\d{8}T\\d{9}Z-0*1\\.jsonl in ${rawDir.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: its disk is full \\(ENOSPC; ${FREE.source}\\)\\. Free space there; nothing stored is lost, and the collection resumes from its saved position\\.$`,
      ),
    );
    expect(await readRawPages(rawDir)).toEqual([]);
    expect((await readdir(rawDir)).filter((name) => name.startsWith(".tmp-"))).toEqual([]);

    // room again (a restart of the same job): the fetch starts where the saved position is, at the first page
    inject.fail = undefined;
    const restarted = searchJob({ query: "#brexit", baseUrl: emulator.url, mode: "continuous", maxResults: 10, pagesPerTask: 2 }, tmp.dir);
    const resumed = await drive(restarted, { maxRounds: 1 });
    expect(resumed.tasks.map((t) => [t.export, t.ok])).toEqual([["fetchPages", true]]);
    const pages = await readRawPages(rawDir);
    expect(pages.map(({ page }) => page.__twarc.ujr.seq)).toEqual([1, 2]);
    const ids = dataIds(pages);
    expect(ids).toHaveLength(20);
    expect(new Set(ids).size).toBe(20);
  });

  it("a used-up quota at the saved position names the state folder; a once job that gives up says to free space, not to raise failureLimit", async () => {
    inject.fail = (path, kind) => (kind === "state" && path.endsWith("collector-state.json") ? "EDQUOT" : undefined);
    const job = searchJob({ query: "#brexit", baseUrl: emulator.url, mode: "once", maxResults: 10, failureLimit: 1 }, tmp.dir);
    const result = await drive(job);
    expect(result.outcome).toBe("failed");
    const failure = result.tasks[0]!.error!;
    expect(failure.code).toBe("UJR_COLLECTOR_DISK_FULL");
    expect(failure.message).toMatch(new RegExp(`^Could not write the saved position \\(collector-state\\.json\\) in ${tmp.dir.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: this user's disk quota there is used up \\(EDQUOT; ${FREE.source}\\)\\.`));
    expect(result.error!.message).toBe(
      `Job "test-search" gave up: 1 fetch tasks in a row failed after their retries (last: UJR_COLLECTOR_DISK_FULL: ${failure.message}). What is stored is kept: free space on that disk, and a new run resumes from the saved position.`,
    );
    // by code: what it gave up after
    expect(result.error!.causes).toEqual(["UJR_COLLECTOR_DISK_FULL"]);
  });

  it("an ENOSPC without a file (a stream's write) names the task's folder; one with a file names that file's folder; other errors pass as they are", async () => {
    const stream = Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC", syscall: "write" });
    expect((diskFullError(stream, tmp.dir, "an archive"))!.message).toMatch(new RegExp(`^Could not write an archive in ${tmp.dir.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: its disk is full \\(ENOSPC; `));
    const opened = Object.assign(new Error("ENOSPC: no space left on device, open"), { code: "ENOSPC", syscall: "open", path: join(tmp.dir, "archive", "x.tar.gz") });
    expect((diskFullError(opened, tmp.dir, "an archive"))!.message).toContain(`in ${join(tmp.dir, "archive")}: its disk is full (ENOSPC; unknown free there)`);
    expect(diskFullError(Object.assign(new Error("EACCES: permission denied"), { code: "EACCES" }), tmp.dir, "x")).toBeUndefined();
  });
});
