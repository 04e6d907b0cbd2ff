// The store a task loads into: a PostgreSQL store stays open in the worker between batches
// (its opening cost every batch 130–200 ms), is opened anew after a failure, and never keeps
// the worker process alive; a SQLite store is opened and closed by each task.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runTask } from "@ujr/core/testing";
import { afterAll, describe, expect, it } from "vitest";
import { fixture, pgSchema, postgresAvailable, tempDir, withIds } from "../__fixtures__/helpers.js";
import { tidyBatch } from "../tasks.js";
import { taskStore } from "./task-store.js";

const available = await postgresAvailable();
const tmp = tempDir();
afterAll(() => tmp.cleanup());

const page = readFileSync(fixture("brexit.jsonl"), "utf8").trimEnd();
/** A raw file of its own content (the fixture's ids prefixed by `k`). */
function rawFile(k: number): string {
  const f = join(tmp.dir, `raw-${k}.jsonl`);
  writeFileSync(f, withIds(k, page) + "\n");
  return f;
}

/** The files' outcomes of one tidyBatch task, run as a worker runs it. */
const batch = async (database: string, files: string[]) => (await runTask(tidyBatch, { database, files })).result.files;

describe("a task's store, SQLite", () => {
  it("is opened and closed by each task (its close builds the deferred indexes and checkpoints)", async () => {
    const db = join(tmp.dir, "task.sqlite");
    const a = await taskStore(db);
    const b = await taskStore(db);
    expect(a.store).not.toBe(b.store);
    expect(await a.release(false)).toBe(true);
    expect(await b.release(false)).toBe(true);
  });
});

describe.skipIf(!available)("a task's store, PostgreSQL (real server)", () => {
  it("stays open for the next task, and is opened anew after a task that failed", async () => {
    const s = pgSchema();
    try {
      const first = await taskStore(s.url);
      expect(await first.release(false)).toBe(false);
      const second = await taskStore(s.url);
      expect(second.store).toBe(first.store);
      // a task using it while another fails: closed once both are done, not under the other
      const third = await taskStore(s.url);
      expect(await second.release(true)).toBe(false);
      expect(await third.store.count("tweets")).toBe(0);
      expect(await third.release(false)).toBe(true);
      const fresh = await taskStore(s.url);
      expect(fresh.store).not.toBe(first.store);
      await fresh.release(true);
    } finally {
      await s.drop();
    }
  });

  it("a schema dropped between batches: the batch that finds it gone fails, the next one creates it again and loads", async () => {
    const s = pgSchema();
    try {
      const [a, b] = [rawFile(1), rawFile(2)];
      expect((await batch(s.url, [a])).map((f) => f.ok)).toEqual([true]);
      await s.drop();
      expect(await batch(s.url, [b])).toMatchObject([{ ok: false, error: { message: expect.stringContaining("does not exist") } }]);
      expect(await batch(s.url, [b])).toMatchObject([{ ok: true, result: { status: "loaded" } }]);
    } finally {
      const last = await taskStore(s.url);
      await last.release(true);
      await s.drop();
    }
  });

  it("does not keep the worker process alive once its task is done", { timeout: 8000 }, async () => {
    // a child that loads a file the way a worker does and then has nothing left to do: it
    // exits at once (an idle connection kept it alive 10 s, till the pool's idle timeout)
    const s = pgSchema();
    try {
      const script = `
        const { tidyBatch } = await import(${JSON.stringify(new URL("../../dist/tasks.js", import.meta.url).href)});
        const ctx = { signal: new AbortController().signal, logger: { debug() {}, info() {}, warn() {}, error() {} }, progress() {} };
        const r = await tidyBatch.run({ database: ${JSON.stringify(s.url)}, files: [${JSON.stringify(rawFile(3))}] }, ctx);
        process.stdout.write(JSON.stringify(r.files.map((f) => f.ok)));`;
      const child = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "inherit"] });
      let out = "";
      child.stdout.on("data", (d: Buffer) => (out += d.toString()));
      const [code] = await once(child, "exit");
      expect({ code, out }).toEqual({ code: 0, out: "[true]" });
    } finally {
      await s.drop();
    }
  });
});
