// WAL checkpoints in a thread of their own (BackgroundCheckpointer), off the loader's.
import Database from "better-sqlite3";
import { copyFileSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { dumpTables, fixture, tempDir, withIds } from "../__fixtures__/helpers.js";

// The checkpointer's thread runs the compiled code: these tests use the built package (dist/).
const built = existsSync(fileURLToPath(new URL("../../dist/internal/checkpoint-worker.js", import.meta.url)));
if (!built) console.warn("the tidier is not built: skipping the checkpointer tests (run `pnpm build`; under CI=true they run and fail).");
const tmp = tempDir();
afterAll(() => tmp.cleanup());
const groupBytes = process.env.UJR_TIDY_GROUP_COMMIT_BYTES;
afterEach(() => {
  if (groupBytes === undefined) delete process.env.UJR_TIDY_GROUP_COMMIT_BYTES;
  else process.env.UJR_TIDY_GROUP_COMMIT_BYTES = groupBytes;
});

/** Files of about 1.7 MB each, the fixtures' pages with ids rewritten per copy: `n` of them make a batch of n × 1.7 MB. */
function corpus(name: string, n: number): string[] {
  const base = ["brexit.jsonl", "withheld.jsonl", "timeline-observatoryteam.jsonl"].flatMap((f) =>
    readFileSync(fixture(f), "utf8")
      .split("\n")
      .filter((l) => l.startsWith("{") && l.endsWith("}")),
  );
  const dir = join(tmp.dir, name);
  mkdirSync(dir);
  return Array.from({ length: n }, (_, k) => {
    const path = join(dir, `raw-${k}.jsonl`);
    writeFileSync(path, base.map((l) => withIds(k + 1, l)).join("\n") + "\n");
    return path;
  });
}

describe.skipIf(!built && process.env.CI !== "true")("checkpoints in the background", async () => {
  const { BackgroundCheckpointer } = (await import(new URL("../../dist/store/checkpointer.js", import.meta.url).href)) as typeof import("./checkpointer.js");
  const { SqliteTidyStore } = (await import(new URL("../../dist/store/sqlite.js", import.meta.url).href)) as typeof import("./sqlite.js");

  it("copies what another connection committed into the database file, and removes the WAL when it closes last", async () => {
    const file = join(tmp.dir, "unit.sqlite");
    const db = new Database(file);
    db.pragma("journal_mode = WAL");
    db.pragma("wal_autocheckpoint = 0");
    db.exec("CREATE TABLE t (x TEXT)");
    const insert = db.prepare("INSERT INTO t VALUES (?)");
    db.transaction(() => {
      for (let i = 0; i < 1000; i++) insert.run(`row ${i}`);
    })();
    /** Rows of t in the database file alone, without its WAL. */
    const inFile = () => {
      const copy = join(tmp.dir, `copy-${Date.now()}-${Math.random()}.sqlite`);
      copyFileSync(file, copy);
      const c = new Database(copy);
      try {
        return (c.prepare("SELECT count(*) AS n FROM t").get() as { n: number }).n;
      } finally {
        c.close();
      }
    };
    expect(inFile).toThrow(/no such table/); // committed, in the WAL only
    const c = BackgroundCheckpointer.start(file)!;
    await c.request();
    expect(c.walFrames).toBeGreaterThan(0);
    expect(inFile()).toBe(1000);
    db.close();
    await c.close();
    expect(existsSync(`${file}-wal`)).toBe(false);
  });

  it("a batch of 16 MB or more: the rows of a load checkpointed by the writer, a WAL started over past its bound, none left after close", async () => {
    const files = corpus("batch", 10);
    expect(files.reduce((n, f) => n + statSync(f).size, 0)).toBeGreaterThan(16 << 20);
    process.env.UJR_TIDY_GROUP_COMMIT_BYTES = String(2 << 20);
    const load = async (name: string, opts: { checkpointInBackground?: boolean; walLimitMb?: number }) => {
      const file = join(tmp.dir, `${name}.sqlite`);
      const store = new SqliteTidyStore(file, opts);
      let maxWal = 0;
      const out = await store.ingestFiles(files, {}, () => (maxWal = Math.max(maxWal, existsSync(`${file}-wal`) ? statSync(`${file}-wal`).size : 0)));
      expect(out.every((o) => o.result?.status === "loaded")).toBe(true);
      const rows = await dumpTables(store);
      await store.close();
      expect(existsSync(`${file}-wal`)).toBe(false);
      return { rows, maxWal };
    };
    const writer = await load("by-writer", { checkpointInBackground: false });
    const background = await load("background", {});
    const bounded = await load("bounded", { walLimitMb: 1 });
    expect(background.rows).toEqual(writer.rows);
    expect(bounded.rows).toEqual(writer.rows);
    // never started over, the WAL holds every commit of the batch; past a 1 MiB bound it starts over at the next commit
    expect(background.maxWal).toBeGreaterThan(12 << 20);
    expect(bounded.maxWal).toBeLessThan(background.maxWal / 2);
  });

  it("a checkpointer thread that dies mid-batch: the batch loads the same rows, and no WAL is left after close", async () => {
    const files = corpus("dies", 10);
    process.env.UJR_TIDY_GROUP_COMMIT_BYTES = String(2 << 20);
    const ref = new SqliteTidyStore(join(tmp.dir, "dies-ref.sqlite"), { checkpointInBackground: false });
    await ref.ingestFiles(files);
    const file = join(tmp.dir, "dies.sqlite");
    const store = new SqliteTidyStore(file);
    let n = 0;
    const out = await store.ingestFiles(files, {}, () => {
      // fault injection: the thread of this store's checkpointer ends
      if (++n === 1) void (store as unknown as { checkpointer: { worker: { terminate(): Promise<number> } } }).checkpointer.worker.terminate();
    });
    expect(out.every((o) => o.result?.status === "loaded")).toBe(true);
    expect(await dumpTables(store)).toEqual(await dumpTables(ref));
    await Promise.all([store.close(), ref.close()]);
    expect(existsSync(`${file}-wal`)).toBe(false);
  });
});
