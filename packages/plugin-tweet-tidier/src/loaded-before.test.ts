import { copyFileSync, readFileSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeEach, describe, expect, it, vi } from "vitest";
import { fixture, pgSchema, postgresAvailable, tempDir, withIds } from "./__fixtures__/helpers.js";
import { ingestAll } from "./ingest.js";
import { loadedFrom, type LoadedBefore, type LoadedFile } from "./loaded-before.js";
import { hashBytes, hashFile } from "./read-raw.js";
import { PostgresTidyStore, pgLoadedBefore } from "./store/postgres.js";
import { SqliteTidyStore } from "./store/sqlite.js";
import type { IngestResult, TidyStore } from "./store/types.js";

// counts the files read for their hash
vi.mock("./read-raw.js", async (importOriginal) => {
  const original = await importOriginal<typeof import("./read-raw.js")>();
  return { ...original, hashFile: vi.fn(original.hashFile) };
});

const tmp = tempDir();
afterAll(() => tmp.cleanup());
let n = 0;
/** A raw file of one fixture page, its ids made distinct by `prefix`. */
function rawFile(prefix: string, name = `f${++n}.jsonl`): string {
  const p = join(tmp.dir, name);
  writeFileSync(p, withIds(prefix, readFileSync(fixture("brexit.jsonl"), "utf8").split("\n")[0]!) + "\n");
  return p;
}
const sha = (path: string) => hashBytes(readFileSync(path)).sha256;
const mtimeUs = (path: string) => Math.round(statSync(path).mtimeMs * 1000);
/** The row a load of `path` as it is now would have written (without its modification time unless given). */
const row = (path: string, fileId: number, over: Partial<LoadedFile> = {}): LoadedFile => ({
  fileId,
  path,
  sizeBytes: statSync(path).size,
  sha256: sha(path),
  mtimeUs: null,
  nothingLoaded: false,
  ...over,
});
const loaded = (path: string): IngestResult => ({ path, status: "loaded", fileId: 99, sha256: "", pages: 1, tweets: 1, errors: 0, nothingLoaded: false });

describe("ingestAll: files unchanged since they were loaded", () => {
  // a block: a function returned by a hook is taken for its cleanup
  beforeEach(() => {
    vi.mocked(hashFile).mockClear();
  });

  it("reports them already loaded without handing them to the loader; anything else is loaded", async () => {
    const same = rawFile("11");
    const rewritten = rawFile("12"); // same path and size as loaded, other bytes since
    const rows = [row(same, 7), row(rewritten, 8, { sha256: "0".repeat(64) })];
    const fresh = rawFile("13");
    const loadOne = vi.fn(async (feed: { path: string }) => loaded(feed.path));
    const logger = { debug: vi.fn(), info: vi.fn(), warn: vi.fn() };
    const out = await ingestAll([fresh, rewritten, same], { logger }, loadOne, { autoWorker: false, loadedBefore: loadedFrom(rows) });
    // one line for the skipped files, not one each (thousands, every run, on a long collection)
    expect(logger.info).toHaveBeenCalledWith({ files: 1, fromAnotherPath: 0 }, "tidy: 1 file(s) loaded before, skipped");
    expect(logger.debug).toHaveBeenCalledWith({ path: same, status: "already-loaded", loadedAs: same }, "tidy: file skipped (its content was loaded before)");
    expect(loadOne.mock.calls.map(([feed]) => feed.path)).toEqual([fresh, rewritten]);
    // reported first, before the loads
    expect(out.map((o) => [o.path, o.result?.status])).toEqual([
      [same, "already-loaded"],
      [fresh, "loaded"],
      [rewritten, "loaded"],
    ]);
    expect(out[0]!.result).toMatchObject({ fileId: 7, loadedAs: same, sha256: sha(same), pages: 0, nothingLoaded: false });
  });

  it("reads only files of a size some loaded file has (none, on a first load)", async () => {
    const grown = rawFile("21");
    const rows = [row(grown, 1, { sizeBytes: statSync(grown).size - 10 })];
    const fresh = rawFile("22");
    const loadOne = vi.fn(async (feed: { path: string }) => loaded(feed.path));
    await ingestAll([grown, fresh], {}, loadOne, { autoWorker: false, loadedBefore: loadedFrom(rows) });
    expect(hashFile).not.toHaveBeenCalled();
    expect(loadOne).toHaveBeenCalledTimes(2);
  });

  it("takes a file with a loaded file's path, size and recorded modification time for unchanged without reading it", async () => {
    const p = rawFile("33");
    const touched = rawFile("34");
    const rows = [row(p, 5, { mtimeUs: mtimeUs(p), sha256: "unread" }), row(touched, 6, { mtimeUs: mtimeUs(touched) - 1 })];
    const loadOne = vi.fn(async (feed: { path: string }) => loaded(feed.path));
    const out = await ingestAll([p, touched], {}, loadOne, { autoWorker: false, loadedBefore: loadedFrom(rows) });
    expect(loadOne).not.toHaveBeenCalled();
    // only the file whose modification time differs was read, and found the same content
    expect(vi.mocked(hashFile).mock.calls.map(([f]) => f)).toEqual([touched]);
    expect(out.map((o) => [o.path, o.result?.fileId, o.result?.sha256])).toEqual([
      [p, 5, "unread"],
      [touched, 6, sha(touched)],
    ]);
  });

  it("a look-up that fails changes nothing: every file goes to the loader, whose claim decides", async () => {
    const p = rawFile("35");
    const loadOne = vi.fn(async (feed: { path: string }) => loaded(feed.path));
    const debug = vi.fn();
    const out = await ingestAll([p], { logger: { debug, info() {}, warn() {} } }, loadOne, {
      autoWorker: false,
      loadedBefore: {
        ...loadedFrom([]),
        sizesLoaded: async () => {
          throw new Error('relation "source_files" does not exist');
        },
      },
    });
    expect(out.map((o) => o.result?.status)).toEqual(["loaded"]);
    expect(debug).toHaveBeenCalledWith({ cause: 'relation "source_files" does not exist' }, expect.stringContaining("each is claimed instead"));
  });

  it("reports a copy of a loaded file under another name a duplicate, without handing it to the loader", async () => {
    const original = rawFile("36");
    const moved = join(tmp.dir, `moved-${n}.jsonl`);
    copyFileSync(original, moved);
    const loadOne = vi.fn(async (feed: { path: string }) => loaded(feed.path));
    const info = vi.fn();
    const [o] = await ingestAll([moved], { logger: { info, warn() {} } }, loadOne, {
      autoWorker: false,
      loadedBefore: loadedFrom([row(original, 3, { mtimeUs: mtimeUs(moved) })]),
    });
    expect(info).toHaveBeenCalledWith({ files: 1, fromAnotherPath: 1 }, "tidy: 1 file(s) loaded before, skipped (1 of them from another path)");
    expect(loadOne).not.toHaveBeenCalled();
    // read for its hash: the same size and time from another path is not the same file
    expect(vi.mocked(hashFile).mock.calls.map(([f]) => f)).toEqual([moved]);
    expect(o!.result).toMatchObject({ status: "skipped-duplicate", fileId: 3, loadedAs: original });
  });

  it("matches any of a path's rows (a path loaded with other content before), and keeps a row's nothing-loaded mark", async () => {
    const p = rawFile("31");
    const rows = [row(p, 1, { sha256: "f".repeat(64) }), row(p, 2, { nothingLoaded: true })];
    const loadOne = vi.fn(async (feed: { path: string }) => loaded(feed.path));
    const [o] = await ingestAll([p], {}, loadOne, { autoWorker: false, loadedBefore: loadedFrom(rows) });
    expect(loadOne).not.toHaveBeenCalled();
    expect(o!.result).toMatchObject({ status: "already-loaded", fileId: 2, nothingLoaded: true });
  });
});

const pgUp = await postgresAvailable();
/** The store's look-ups of a batch's files in source_files. */
const lookUps = (store: TidyStore): LoadedBefore =>
  store instanceof SqliteTidyStore
    ? store.loadedBefore()
    : pgLoadedBefore({ query: (async (sql: string, params: unknown[]) => ({ rows: await store.query(sql, params) })) as never });

const backends: [string, boolean, () => { store: TidyStore; done: () => Promise<void> }][] = [
  ["SQLite", true, () => ({ store: new SqliteTidyStore(join(tmp.dir, `again-${++n}.sqlite`)), done: async () => {} })],
  [
    "PostgreSQL",
    pgUp,
    () => {
      const db = pgSchema();
      return { store: new PostgresTidyStore(db.url), done: db.drop };
    },
  ],
];

describe.each(backends)("%s: a second load of the same files", (_name, up, open) => {
  it.skipIf(!up)("records a settled file's modification time, and knows it unchanged next time without reading it", async () => {
    const { store, done } = open();
    try {
      const settled = rawFile("51");
      const hourAgo = new Date(Date.now() - 3_600_000);
      utimesSync(settled, hourAgo, hourAgo);
      const fresh = rawFile("52"); // modified just now: its time is not recorded (a later write could keep it)
      const touched = rawFile("53");
      utimesSync(touched, hourAgo, hourAgo);
      await store.ingestFiles([settled, fresh, touched]);
      const recorded = await store.query<{ path: string; mtime_us: unknown }>("SELECT path, mtime_us FROM source_files ORDER BY id");
      expect(recorded.map((r) => [r.path, r.mtime_us === null ? null : Number(r.mtime_us)])).toEqual([
        [settled, mtimeUs(settled)],
        [fresh, null],
        [touched, mtimeUs(touched)],
      ]);
      const halfHourAgo = new Date(Date.now() - 1_800_000);
      utimesSync(touched, halfHourAgo, halfHourAgo); // the same bytes, another modification time
      vi.mocked(hashFile).mockClear();
      const again = await store.ingestFiles([settled, fresh, touched]);
      expect(again.map((o) => o.result?.status)).toEqual(["already-loaded", "already-loaded", "already-loaded"]);
      expect(again.find((o) => o.path === settled)!.result!.sha256).toBe(sha(settled));
      // read: the file without a recorded time, and the one whose time changed; not the settled one
      expect(vi.mocked(hashFile).mock.calls.map(([f]) => f)).toEqual([fresh, touched]);
      // the touched file, found the same by its hash, has its new time recorded: not read a third time
      vi.mocked(hashFile).mockClear();
      await store.ingestFiles([settled, fresh, touched]);
      expect(vi.mocked(hashFile).mock.calls.map(([f]) => f)).toEqual([fresh]);
      expect(await store.count("source_files")).toBe(3);
    } finally {
      await store.close();
      await done();
    }
  });

  it.skipIf(!up)("skips the unchanged ones by their row and hash, and loads what changed under the same name", async () => {
    const { store, done } = open();
    try {
      const a = rawFile("41");
      const b = rawFile("42");
      const first = await store.ingestFiles([a, b]);
      expect(first.map((o) => o.result?.status)).toEqual(["loaded", "loaded"]);
      const tweets = await store.count("tweets");
      // b rewritten in place with other tweets, the same size; a copied under a new name; a new file
      writeFileSync(b, withIds("43", readFileSync(fixture("brexit.jsonl"), "utf8").split("\n")[0]!) + "\n");
      const copy = join(tmp.dir, `copy-of-a-${n}.jsonl`);
      copyFileSync(a, copy);
      const c = rawFile("44");
      vi.mocked(hashFile).mockClear();
      const again = await store.ingestFiles([b, copy, c, a]);
      const by = new Map(again.map((o) => [o.path, o.result]));
      expect(by.get(a)).toMatchObject({ status: "already-loaded", fileId: first[0]!.result!.fileId, loadedAs: a });
      expect(by.get(b)?.status).toBe("loaded");
      expect(by.get(copy)).toMatchObject({ status: "skipped-duplicate", loadedAs: a });
      expect(by.get(c)?.status).toBe("loaded");
      // read for its hash before the load: every file, as each has a loaded file's size (the
      // same fixture line); the two known ones are not loaded, so not read again
      expect(vi.mocked(hashFile).mock.calls.map(([p]) => p)).toEqual([b, copy, c, a, b, c]);
      expect(await store.count("source_files")).toBe(4);
      expect(await store.count("tweets")).toBeGreaterThan(tweets);
    } finally {
      await store.close();
      await done();
    }
  });

  it.skipIf(!up)("looks a batch's files up by their own paths and hashes, not by every loaded file of their size", async () => {
    // a collection of small pages has many files of one size: a batch read all their rows
    // (0.9 s a batch of 1,024 files with 100,000 loaded; a restart took a minute)
    const { store, done } = open();
    try {
      const files = Array.from({ length: 6 }, (_, i) => rawFile(String(61 + i)));
      expect(new Set(files.map((f) => statSync(f).size)).size).toBe(1);
      await store.ingestFiles(files);
      const size = statSync(files[0]!).size;
      const look = lookUps(store);
      expect((await look.atPaths([files[2]!, join(tmp.dir, "never-loaded.jsonl")])).map((r) => [r.path, r.sizeBytes])).toEqual([[files[2], size]]);
      expect((await look.withSha256([sha(files[4]!), "0".repeat(64)])).map((r) => r.path)).toEqual([files[4]]);
      expect(await look.sizesLoaded([size + 1, size, size])).toEqual([size]);
      // and a batch of them with one new file of the same size: the loaded ones skipped, the new one loaded
      const fresh = rawFile("67");
      const again = await store.ingestFiles([...files, fresh]);
      expect(again.map((o) => o.result?.status)).toEqual([...files.map(() => "already-loaded"), "loaded"]);
    } finally {
      await store.close();
      await done();
    }
  });
});
