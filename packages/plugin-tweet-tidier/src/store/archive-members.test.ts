// A collector archives the raw files it wrote (raw/<file> members of a .tar.gz), often after
// a tidier loaded them: the archive's members of bytes loaded before are skipped, and a file
// of bytes loaded as a member is skipped too, so that no page is loaded twice (pages and
// api_errors are log tables: a second load would add their rows again).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { capturingLogger } from "@ujr/core/testing";
import { afterAll, describe, expect, it } from "vitest";
import { fixture, pgSchema, postgresAvailable, tempDir, withIds } from "../__fixtures__/helpers.js";
import { makeTarGz } from "../__fixtures__/tar.js";
import { tables } from "../schema.js";
import { PostgresTidyStore } from "./postgres.js";
import { SqliteTidyStore } from "./sqlite.js";
import type { TidyStore } from "./types.js";

const available = await postgresAvailable();
const tmp = tempDir();
afterAll(() => tmp.cleanup());
const COUNTED = tables.map((t) => t.name).filter((n) => n !== "schema_migrations" && n !== "source_files" && n !== "archive_members");

/** Three raw page files of distinct rows (one with API errors), as a collector writes them. */
function rawFiles(dir: string): { name: string; data: Buffer }[] {
  const pages = readFileSync(fixture("timeline-observatoryteam.jsonl"), "utf8").trimEnd().split("\n");
  mkdirSync(join(dir, "raw"), { recursive: true });
  return pages.slice(0, 3).map((line, i) => {
    const name = `raw/2024050${i + 1}T000000000Z-0000000${i + 1}.jsonl`;
    const data = Buffer.from(`${withIds(`${i}`, line)}\n`);
    writeFileSync(join(dir, name), data);
    return { name, data };
  });
}

async function counts(store: TidyStore): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const t of COUNTED) out[t] = Number(await store.count(t));
  return out;
}

const backends: [string, boolean, (name: string) => { open: () => TidyStore; drop: () => Promise<void> }][] = [
  ["SQLite", true, (name) => ({ open: () => new SqliteTidyStore(join(tmp.dir, `${name}.sqlite`)), drop: async () => {} })],
  [
    "PostgreSQL",
    available,
    () => {
      const db = pgSchema();
      return { open: () => new PostgresTidyStore(db.url), drop: db.drop };
    },
  ],
];

describe.each(backends)("archive members already loaded (%s)", (backend, runs, make) => {
  /** A fresh store of this backend and a collector's three raw files in a folder of their own. */
  const withCollection = async (name: string, test: (dir: string, files: { name: string; data: Buffer }[], store: TidyStore) => Promise<void>) => {
    const dir = join(tmp.dir, `${backend}-${name}`);
    const db = make(`${backend}-${name}`);
    const store = db.open();
    try {
      await test(dir, rawFiles(dir), store);
    } finally {
      await store.close();
      await db.drop();
    }
  };

  it.skipIf(!runs)("the archive of loaded files loads none of their pages again; its new member loads", () =>
    withCollection("files-first", async (dir, files, store) => {
      for (const f of files) await store.ingestFile(join(dir, f.name));
      const once = await counts(store);
      // the collector's archive of them, with one page it wrote since
      const newer = { name: "raw/20240504T000000000Z-00000004.jsonl", data: Buffer.from(`${withIds("9", readFileSync(fixture("brexit.jsonl"), "utf8").split("\n")[0]!)}\n`) };
      const tgz = join(dir, "raw-1-4.tar.gz");
      writeFileSync(tgz, await makeTarGz([...files, newer, { name: "manifest.json", data: Buffer.from('{"files":[]}') }]));
      const { logger, logs } = capturingLogger("info");
      const r = await store.ingestFile(tgz, { logger });
      expect(r).toMatchObject({ status: "loaded", pages: 1, skippedMembers: 3 });
      expect(logs.find((l) => l.path === tgz)).toMatchObject({ skippedMembers: 3, msg: "tidy: file loaded (3 archive member(s) skipped: their bytes were loaded before)" });
      const members = await store.query<{ entry: string; status: string; loaded_as: string | null }>(
        'SELECT "entry", "status", "loaded_as" FROM "archive_members" ORDER BY "entry"',
      );
      expect(members).toEqual([
        ...files.map((f) => ({ entry: f.name, status: "skipped-duplicate", loaded_as: join(dir, f.name) })),
        { entry: newer.name, status: "loaded", loaded_as: null },
      ]);
      // what the files loaded is there once; the new page added its rows (of ids of its own)
      const after = await counts(store);
      const alone = await onlyThe(backend, newer);
      for (const t of COUNTED) expect(after[t], t).toBe(once[t]! + alone[t]!);
      expect(after.pages).toBe(once.pages! + 1);
      // its page is the archive's first loaded page, whether or not the skipped members were parsed
      const pages = await store.query<{ page_no: number | string; entry: string }>('SELECT p."page_no", p."entry" FROM "pages" p JOIN "source_files" f ON f."id" = p."source_file_id" WHERE f."path" = ?', [tgz]);
      expect(pages.map((p) => ({ ...p, page_no: Number(p.page_no) }))).toEqual([{ page_no: 1, entry: newer.name }]);
    }));

  it.skipIf(!runs)("a name twice in one archive (tar -r): each copy loads or is skipped on its bytes, the later one labelled by its occurrence", () =>
    withCollection("same-name", async (dir, files, store) => {
      const [first, second] = files as [{ name: string; data: Buffer }, { name: string; data: Buffer }];
      // the first name again with new bytes, then again with the bytes it first had
      const tgz = join(dir, "appended.tar.gz");
      writeFileSync(tgz, await makeTarGz([first, { name: first.name, data: second.data }, { name: first.name, data: first.data }]));
      expect(await store.ingestFile(tgz)).toMatchObject({ status: "loaded", pages: 2, skippedMembers: 1 });
      const members = await store.query<{ entry: string; status: string; loaded_as: string | null }>('SELECT "entry", "status", "loaded_as" FROM "archive_members" ORDER BY "entry"');
      expect(members).toEqual([
        { entry: first.name, status: "loaded", loaded_as: null },
        { entry: `${first.name} (occurrence 2)`, status: "loaded", loaded_as: null },
        { entry: `${first.name} (occurrence 3)`, status: "skipped-duplicate", loaded_as: `${tgz}#${first.name}` },
      ]);
      expect((await store.query<{ entry: string }>('SELECT "entry" FROM "pages" ORDER BY "page_no"')).map((p) => p.entry)).toEqual([first.name, `${first.name} (occurrence 2)`]);
      // the file of the second copy's bytes was loaded as that member
      expect(await store.ingestFile(join(dir, second.name))).toMatchObject({ status: "skipped-duplicate", loadedAs: `${tgz}#${first.name} (occurrence 2)` });
    }));

  it.skipIf(!runs)("an archive cut short after a skipped member is still recorded as partial, with its read error", () =>
    withCollection("cut-short", async (dir, files, store) => {
      await store.ingestFile(join(dir, files[0]!.name));
      const whole = await makeTarGz([files[0]!, files[1]!]);
      const tgz = join(dir, "cut.tar.gz");
      // the first member whole (skipped: loaded before), the archive's gzip stream cut inside the second
      writeFileSync(tgz, whole.subarray(0, Math.floor(whole.length * 0.8)));
      const r = await store.ingestFile(tgz);
      expect(r).toMatchObject({ status: "partial", skippedMembers: 1, errors: 1 });
      expect(await store.query('SELECT "code" FROM "ingest_errors" WHERE "path" = ?', [tgz])).toEqual([{ code: "UJR_TIDY_READ_FAILED" }]);
    }));

  it.skipIf(!runs)("files of bytes loaded as an archive's members are skipped, naming the member; a member twice in one archive loads once", () =>
    withCollection("archive-first", async (dir, files, store) => {
      const tgz = join(dir, "raw-1-3.tar.gz");
      // the first file twice, under another member name (an archive made twice over the same folder, say)
      writeFileSync(tgz, await makeTarGz([...files, { name: "again/first.jsonl", data: files[0]!.data }]));
      expect(await store.ingestFile(tgz)).toMatchObject({ status: "loaded", pages: 3, skippedMembers: 1 });
      expect(await store.query('SELECT "status", "loaded_as" FROM "archive_members" WHERE "entry" = \'again/first.jsonl\'')).toEqual([
        { status: "skipped-duplicate", loaded_as: `${tgz}#${files[0]!.name}` },
      ]);
      const once = await counts(store);
      for (const f of files) {
        expect(await store.ingestFile(join(dir, f.name))).toMatchObject({ status: "skipped-duplicate", pages: 0, loadedAs: `${tgz}#${f.name}` });
      }
      expect(await counts(store)).toEqual(once);
    }));
});

/** The rows one page file adds to an empty SQLite database. */
async function onlyThe(backend: string, file: { name: string; data: Buffer }): Promise<Record<string, number>> {
  const dir = join(tmp.dir, `${backend}-alone`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "alone.jsonl"), file.data);
  const lite = new SqliteTidyStore(join(dir, "alone.sqlite"));
  try {
    await lite.ingestFile(join(dir, "alone.jsonl"));
    return await counts(lite);
  } finally {
    await lite.close();
  }
}

// the parse thread runs the compiled code (dist/); it looks members up in the database and
// passes over, unparsed, those the loader will skip
const built = existsSync(fileURLToPath(new URL("../../dist/internal/parse-worker.js", import.meta.url)));
if (!built) console.warn("the tidier is not built: skipping the archive-member test through the parse worker (run `pnpm build`; under CI=true it runs and fails).");
describe.skipIf(!built && process.env.CI !== "true")("archive members already loaded, parsed in a worker thread (SQLite)", () => {
  // the compiled store: from the sources, no parse thread can start (it runs dist/ only) and
  // parseInWorker would quietly load in this thread
  const builtStore = async () => ((await import(new URL("../../dist/store/sqlite.js", import.meta.url).href)) as typeof import("./sqlite.js")).SqliteTidyStore;

  it("skips them as the loading thread does, and loads the new one", async () => {
    const dir = join(tmp.dir, "worker");
    const files = rawFiles(dir);
    const store = new (await builtStore())(join(dir, "tidy.sqlite"));
    try {
      for (const f of files) await store.ingestFile(join(dir, f.name), { parseInWorker: false });
      const once = await counts(store);
      const newer = { name: "raw/new.jsonl", data: Buffer.from(`${withIds("8", readFileSync(fixture("brexit.jsonl"), "utf8").split("\n")[0]!)}\n`) };
      const tgz = join(dir, "all.tar.gz");
      writeFileSync(tgz, await makeTarGz([...files, newer]));
      expect(await store.ingestFile(tgz, { parseInWorker: true })).toMatchObject({ status: "loaded", pages: 1, skippedMembers: 3 });
      const alone = await onlyThe("worker", newer);
      const after = await counts(store);
      for (const t of COUNTED) expect(after[t], t).toBe(once[t]! + alone[t]!);
    } finally {
      await store.close();
    }
    // the parse thread's look-ups hold no connection past its file: the store's close is the
    // last one, which checkpoints and removes the WAL (a database copied alone is whole)
    expect(existsSync(join(dir, "tidy.sqlite-wal"))).toBe(false);
  });

  it("numbers pages among those loaded: a member the parse thread parsed and the loader skipped leaves no gap", async () => {
    const dir = join(tmp.dir, "worker-numbering");
    const [a, b] = rawFiles(dir) as [{ name: string; data: Buffer }, { name: string; data: Buffer }];
    const tgz = join(dir, "after-the-file.tar.gz");
    writeFileSync(tgz, await makeTarGz([a, b]));
    // in memory, the parse thread has no database to look members up in: it parses the
    // archive's copy of the file, which the loader then skips (as it does whenever the file's
    // commit comes after the parse thread's look-up)
    const store = new (await builtStore())(":memory:");
    try {
      const outcomes = await store.ingestFiles([join(dir, a.name), tgz], { parseInWorker: true }, () => {});
      expect(outcomes.map((o) => o.result)).toMatchObject([{ status: "loaded", pages: 1 }, { status: "loaded", pages: 1, skippedMembers: 1 }]);
      expect(await store.query('SELECT p."page_no", p."entry" FROM "pages" p JOIN "source_files" f ON f."id" = p."source_file_id" WHERE f."path" = ?', [tgz])).toEqual([{ page_no: 1, entry: b.name }]);
      // every row of the page carries the same number
      expect(await store.query('SELECT DISTINCT t."page_no" FROM "tweets" t JOIN "source_files" f ON f."id" = t."source_file_id" WHERE f."path" = ?', [tgz])).toEqual([{ page_no: 1 }]);
    } finally {
      await store.close();
    }
  });
});
