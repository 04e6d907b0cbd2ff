// A database's first big load runs without the secondary indexes and builds them at its end.
import Database from "better-sqlite3";
import { copyFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { dumpTables, fixture, indexNames, tempDir } from "../__fixtures__/helpers.js";
import { DEFERRABLE_INDEXES, DeferredIndexes } from "./deferred-indexes.js";
import { SqliteTidyStore } from "./sqlite.js";

const tmp = tempDir();
afterAll(() => tmp.cleanup());
let n = 0;
const dbFile = () => join(tmp.dir, `t${n++}.sqlite`);
const FILES = ["brexit.jsonl", "timeline-observatoryteam.jsonl", "many_urls.jsonl", "media_tweet.jsonl"].map(fixture);

const envBefore = process.env.UJR_TIDY_DEFER_INDEXES_BYTES;
// the fixtures are small: every batch is big enough
beforeEach(() => {
  process.env.UJR_TIDY_DEFER_INDEXES_BYTES = "0";
});
afterEach(() => {
  if (envBefore === undefined) delete process.env.UJR_TIDY_DEFER_INDEXES_BYTES;
  else process.env.UJR_TIDY_DEFER_INDEXES_BYTES = envBefore;
});

describe("secondary indexes of a first load", () => {
  it("are the query indexes of the page tables, never a unique one", () => {
    expect(DEFERRABLE_INDEXES.map((ix) => ix.name).sort()).toEqual([
      "tweet_media_media_key",
      "tweet_references_referenced",
      "tweets_author_id",
      "tweets_conversation_id",
      "urls_expanded_url",
      "urls_url",
      "users_username",
    ]);
  });

  it("are dropped while the first load writes and built at its end; the rows are those of a load with them", async () => {
    const withIndexes = new SqliteTidyStore(dbFile(), { deferIndexes: false });
    const deferred = new SqliteTidyStore(dbFile());
    const all = indexNames(deferred.db);
    const seen: string[][] = [];
    try {
      await withIndexes.ingestFiles(FILES, { parseInWorker: false });
      const debug: { obj: Record<string, unknown>; msg?: string | undefined }[] = [];
      const logger = { debug: (obj: object, msg?: string) => void debug.push({ obj: obj as Record<string, unknown>, msg }), info: () => {}, warn: () => {} };
      const out = await deferred.ingestFiles(FILES, { parseInWorker: false, logger, onPage: () => void seen.push(indexNames(deferred.db)) });
      // how long the build after the load took, for whoever times a load (bench/tidy.mjs)
      expect(debug).toEqual([{ obj: { indexes: DEFERRABLE_INDEXES.length, ms: expect.any(Number) }, msg: "tidy: secondary indexes built after the load" }]);
      expect(out.every((o) => o.result?.status === "loaded")).toBe(true);
      expect(seen.length).toBeGreaterThan(0);
      for (const during of seen) expect(during).toEqual(all.filter((name) => !DEFERRABLE_INDEXES.some((ix) => ix.name === name)));
      expect(indexNames(deferred.db)).toEqual(all);
      expect(indexNames(withIndexes.db)).toEqual(all);
      expect(await dumpTables(deferred)).toEqual(await dumpTables(withIndexes));
      // the query planner uses them again
      const plan = deferred.db.prepare("EXPLAIN QUERY PLAN SELECT * FROM tweets WHERE author_id = ?").all("1") as { detail: string }[];
      expect(plan.map((p) => p.detail).join(" ")).toContain("tweets_author_id");
    } finally {
      await withIndexes.close();
      await deferred.close();
    }
  });

  it("stay in place for a load into a database that holds rows, and for a batch under the size", async () => {
    const store = new SqliteTidyStore(dbFile());
    const all = indexNames(store.db);
    const seen: string[][] = [];
    try {
      await store.ingestFiles(FILES.slice(0, 1), { parseInWorker: false });
      const debug: unknown[] = [];
      const logger = { debug: (obj: object) => void debug.push(obj), info: () => {}, warn: () => {} };
      await store.ingestFiles(FILES.slice(1), { parseInWorker: false, logger, onPage: () => void seen.push(indexNames(store.db)) });
      expect(debug).toEqual([]); // nothing was built
      expect(seen.length).toBeGreaterThan(0);
      for (const during of seen) expect(during).toEqual(all);
    } finally {
      await store.close();
    }
    process.env.UJR_TIDY_DEFER_INDEXES_BYTES = String(64 << 20);
    const small = new SqliteTidyStore(dbFile());
    seen.length = 0;
    try {
      await small.ingestFiles(FILES, { parseInWorker: false, onPage: () => void seen.push(indexNames(small.db)) });
      for (const during of seen) expect(during).toEqual(all);
    } finally {
      await small.close();
    }
  });

  it("a URL sidecar in the same first load fills urls.final_url", async () => {
    const raw = join(tmp.dir, "u.jsonl");
    copyFileSync(fixture("many_urls.jsonl"), raw);
    const probe = new SqliteTidyStore(":memory:", { deferIndexes: false });
    await probe.ingestFile(raw, { parseInWorker: false });
    const [u] = await probe.query<{ url: string }>("SELECT url FROM urls LIMIT 1");
    await probe.close();
    const sidecar = join(tmp.dir, "u.jsonl.urls.jsonl");
    writeFileSync(sidecar, JSON.stringify({ url: u!.url, final_url: "https://resolved.example/a", status: 200, hops: 1 }) + "\n");
    const store = new SqliteTidyStore(dbFile());
    try {
      const out = await store.ingestFiles([raw, sidecar], { parseInWorker: false });
      expect(out.map((o) => o.result?.status)).toEqual(["loaded", "loaded"]);
      expect(await store.count("urls", "final_url = 'https://resolved.example/a'")).toBe(1);
      expect(indexNames(store.db)).toEqual(expect.arrayContaining(DEFERRABLE_INDEXES.map((ix) => ix.name)));
    } finally {
      await store.close();
    }
  });

  it("left out by a load that stopped before building them are built when a store next opens the database", async () => {
    const file = dbFile();
    const first = new SqliteTidyStore(file);
    const all = indexNames(first.db);
    await first.ingestFiles(FILES.slice(0, 2), { parseInWorker: false });
    // what a kill between the drop and the build leaves: the rows committed, the indexes gone
    new DeferredIndexes(first.db).drop();
    await first.close();
    const raw = new Database(file);
    expect(indexNames(raw)).not.toContain("tweets_author_id");
    raw.close();
    const again = new SqliteTidyStore(file);
    try {
      expect(indexNames(again.db)).toEqual(all);
      expect(await again.count("tweets", "author_id IS NOT NULL")).toBeGreaterThan(0);
    } finally {
      await again.close();
    }
  });

  it("that cannot be built at the load's end (another writer holds the database) are reported with UJR_TIDY_INDEXES, and built at the next open", async () => {
    const file = dbFile();
    const store = new SqliteTidyStore(file, { busyTimeoutMs: 20 });
    const all = indexNames(store.db);
    const other = new Database(file);
    const warnings: { obj: Record<string, unknown>; msg?: string }[] = [];
    const logger = { info: () => {}, warn: (obj: object, msg?: string) => void warnings.push({ obj: obj as Record<string, unknown>, msg }) };
    try {
      // once the last file is committed, another connection takes the write lock before the build
      const out = await store.ingestFiles(FILES.slice(0, 2), { parseInWorker: false, logger }, (o) => {
        if (o.path === FILES[1]) other.exec("BEGIN IMMEDIATE");
      });
      expect(out.every((o) => o.result?.status === "loaded")).toBe(true);
      expect(warnings).toHaveLength(1);
      expect(warnings[0]!.obj.code).toBe("UJR_TIDY_INDEXES");
      expect(warnings[0]!.msg).toContain(file);
      expect(warnings[0]!.msg).toMatch(/Every loaded file is committed.*next opens the database/);
      expect(String(warnings[0]!.obj.cause)).toMatch(/locked|busy/i);
      expect(indexNames(store.db)).not.toContain("tweets_author_id");
    } finally {
      other.exec("ROLLBACK");
      other.close();
      await store.close();
    }
    const again = new SqliteTidyStore(file);
    expect(indexNames(again.db)).toEqual(all);
    await again.close();
  });
});
