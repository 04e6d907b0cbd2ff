import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { execFile } from "node:child_process";
import { readdir } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { promisify } from "node:util";
import { startEmulator, type Emulator } from "@ujr/x-api-emulator";
import { readRawPages, tempDir, TOKEN } from "./__fixtures__/helpers.js";

const child = fileURLToPath(new URL("./__fixtures__/fetch-once-child.mjs", import.meta.url));

let emulator: Emulator;
let tmp: { dir: string; cleanup: () => Promise<void> };
beforeEach(async () => {
  tmp = await tempDir("ujr-collector-disk-");
});
afterEach(async () => {
  await emulator?.close();
  await tmp.cleanup();
});

/** Runs one fetch task in a child whose files may not grow beyond `kb` KiB (a full disk, as the write sees it). */
async function fetchWithFileLimit(kb: number | undefined): Promise<{ ok: boolean; code?: string; message?: string }> {
  const limit = kb === undefined ? "" : `trap '' XFSZ; ulimit -f ${kb}; `;
  const { stdout } = await promisify(execFile)("bash", ["-c", `${limit}exec "$0" "$@"`, process.execPath, child, emulator.url, tmp.dir, "#brexit"], {
    env: { ...process.env, X_BEARER_TOKEN: TOKEN },
  });
  return JSON.parse(stdout.trim()) as { ok: boolean; code?: string; message?: string };
}

describe("a page write that fails (disk full)", () => {
  it("leaves no .tmp-page-* file and no cursor step; the next try stores the page", async () => {
    emulator = await startEmulator({ port: 0 });
    // The state file (about 1 KiB) fits; a page of 100 tweets (about 200 KiB) does not.
    const failed = await fetchWithFileLimit(32);
    expect(failed.ok).toBe(false);
    expect(failed.code).toBe("EFBIG");
    expect((await readdir(join(tmp.dir, "raw"))).filter((name) => name.startsWith(".tmp-"))).toEqual([]);
    expect(await readRawPages(join(tmp.dir, "raw"))).toEqual([]);
    const stored = await fetchWithFileLimit(undefined);
    expect(stored.ok).toBe(true);
    const pages = await readRawPages(join(tmp.dir, "raw"));
    expect(pages).toHaveLength(1);
    expect(pages[0]!.page.__twarc.ujr.seq).toBe(1);
  });
});
