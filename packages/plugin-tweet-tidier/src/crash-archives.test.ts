// kill -9 of a running `ujr run` over a collection that mixes plain raw files and a
// collector's .tar.gz archives of them (the archives' members byte-identical to plain files
// loaded before or after them, a member twice in one archive, members shared by two
// archives, an archive copied), then a run to the end: every page loaded exactly once,
// whatever was committed at the kill. The data rows must be those of a clean load of the
// same inputs into a new database, and archive_members must account for every member, once:
// loaded, or skipped pointing at the one place its bytes were loaded. Bounded in CI
// (UJR_TIDY_CRASH_ARCHIVE_TRIALS, default 5 on SQLite; UJR_TIDY_CRASH_ARCHIVE_PG_TRIALS,
// default 4 on PostgreSQL); the seed is printed (UJR_TIDY_CRASH_SEED replays its draws).
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { gzipSync } from "node:zlib";
import Database from "better-sqlite3";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { crashSeed, random, runConfig, tidierBuilt, tidyConfig, type RunOutcome } from "./__fixtures__/crash-run.js";
import { dumpTables, fixture, PG_BASE, pgSchema, postgresAvailable, tempDir, withIds } from "./__fixtures__/helpers.js";
import { makeTarGz } from "./__fixtures__/tar.js";
import { tables } from "./schema.js";
import { PostgresTidyStore } from "./store/postgres.js";
import { SqliteTidyStore } from "./store/sqlite.js";
import type { TidyStore } from "./store/types.js";

const built = tidierBuilt();
if (!built) console.warn("the tidier is not built: skipping the kill -9 test of archives (run `pnpm build`; under CI=true it runs and fails).");
const trials = Number(process.env.UJR_TIDY_CRASH_ARCHIVE_TRIALS ?? "5");
const pgTrials = Number(process.env.UJR_TIDY_CRASH_ARCHIVE_PG_TRIALS ?? "4");
const seed = crashSeed("crash-archives");

const tmp = tempDir();
afterAll(() => tmp.cleanup());

const sha256 = (b: Buffer): string => createHash("sha256").update(b).digest("hex");

interface Inputs {
  /** The job's one input folder. */
  dir: string;
  /** Plain raw files: path → SHA-256 of their bytes. */
  plain: Map<string, string>;
  /** Archives: path → their SHA-256 and their raw members (entry → SHA-256). */
  archives: Map<string, { sha: string; members: Map<string, string> }>;
}

/**
 * A collection in load order (paths sorted): `1-raw/` (plain files, loaded before the
 * archives of them), `2-archive/` (the collector's archives), `3-raw/` (plain files whose
 * bytes the archives loaded first). Ids are rewritten per content (distinct rows); one
 * plain file and one member have a bad line.
 */
async function collection(): Promise<Inputs> {
  const base = ["timeline-observatoryteam.jsonl", "withheld.jsonl", "brexit.jsonl"].flatMap((f) =>
    readFileSync(fixture(f), "utf8").trimEnd().split("\n").filter((l) => l.endsWith("}")),
  );
  const page = (content: number, k: number) => withIds(String(content).padStart(3, "0"), base[(content + k) % base.length]!);
  const bytesOf = (content: number, pages: number, badLine: boolean): Buffer => {
    const lines = Array.from({ length: pages }, (_, k) => page(content, k));
    if (badLine) lines.splice(1, 0, '{"truncated": ');
    return Buffer.from(lines.join("\n") + "\n");
  };
  const dir = join(tmp.dir, "collection");
  const plain = new Map<string, string>();
  const raw: Buffer[] = [];
  for (let k = 0; k < 14; k++) {
    // one plain file gzipped (its member too: the same bytes)
    const data = k === 6 ? gzipSync(bytesOf(k, 2, false)) : bytesOf(k, 1 + (k % 3), k === 5);
    raw.push(data);
    const p = join(dir, k < 8 ? "1-raw" : "3-raw", `r${String(k).padStart(2, "0")}.jsonl${k === 6 ? ".gz" : ""}`);
    mkdirSync(join(p, ".."), { recursive: true });
    writeFileSync(p, data);
    plain.set(p, sha256(data));
  }
  // contents only in archives (one with a bad line)
  const only = [bytesOf(100, 2, false), bytesOf(101, 1, false), bytesOf(102, 2, true), bytesOf(103, 1, false)];
  const member = (name: string, data: Buffer) => ({ name, data });
  const archives = new Map<string, { sha: string; members: Map<string, string> }>();
  // besides the raw members, what the reader passes over: a manifest, and bytes that do not
  // compress, so that each archive is over the group commit size (crash-run.ts) and is
  // committed alone (a kill may fall between the two archives' commits)
  const incompressible = (n: number) => Buffer.concat(Array.from({ length: Math.ceil(n / 32) }, (_, i) => createHash("sha256").update(String(i)).digest())).subarray(0, n);
  const archive = async (name: string, members: { name: string; data: Buffer }[]) => {
    const tgz = await makeTarGz([...members, member("manifest.json", Buffer.from('{"files":[]}')), member("preview.bin", incompressible(450_000))]);
    const p = join(dir, "2-archive", name);
    mkdirSync(join(p, ".."), { recursive: true });
    writeFileSync(p, tgz);
    archives.set(p, { sha: sha256(tgz), members: new Map(members.map((m) => [m.name, sha256(m.data)])) });
    return tgz;
  };
  const a = await archive("raw-a.tar.gz", [
    member("raw/r02.jsonl", raw[2]!), // (a) loaded before, as a plain file
    member("raw/r03.jsonl", raw[3]!),
    member("raw/r05.jsonl", raw[5]!), // its bad line was recorded with the plain file
    member("raw/n100.jsonl", only[0]!),
    member("raw/n101.jsonl", only[1]!), // (c) in raw-b too
    member("again/n100.jsonl", only[0]!), // (b) twice in this archive
    member("raw/r09.jsonl", raw[9]!), // 3-raw/r09.jsonl, later: skipped as this member
  ]);
  await archive("raw-b.tar.gz", [
    member("raw/r04.jsonl", raw[4]!),
    member("raw/r06.jsonl.gz", raw[6]!),
    member("raw/n101.jsonl", only[1]!), // (c) in raw-a too
    member("raw/n102.jsonl", only[2]!),
    member("raw/r09.jsonl", raw[9]!), // (c) and in raw-a and 3-raw
    member("raw/r10.jsonl", raw[10]!), // 3-raw/r10.jsonl, later
    member("raw/n103.jsonl", only[3]!),
    member("raw/r11.jsonl", raw[11]!),
  ]);
  // raw-a copied (another file of the same bytes: skipped whole, no members of its own)
  const copy = join(dir, "2-archive", "z-copy", "raw-a.tar.gz");
  mkdirSync(join(copy, ".."), { recursive: true });
  writeFileSync(copy, a);
  archives.set(copy, { sha: sha256(a), members: archives.get(join(dir, "2-archive", "raw-a.tar.gz"))!.members });
  return { dir, plain, archives };
}

/** A progress line as a report shows it: its message and file (and member). */
function describeLine(line: string | undefined): string {
  if (line === undefined) return "no progress line";
  const l = JSON.parse(line) as { msg?: string; path?: string; entry?: string };
  return `"${(l.msg ?? "").replace(/^tidy: /, "").replace(/ \(.*/, "")}" ${l.path ? basename(l.path) : ""}${l.entry ? `#${l.entry}` : ""}`;
}

/** Log lines a kill point may follow: a file loaded or skipped, an archive member skipped (debug), each inside or right after its transaction. */
const progress = (line: string): boolean => /"msg":"tidy: (file loaded|file skipped|archive member skipped)/.test(line);

const DATA_TABLES = tables.map((t) => t.name).filter((n) => n !== "schema_migrations" && n !== "source_files" && n !== "archive_members");
/** Tables (not views) of rows that name a file. */
const WITH_FILE = tables.filter((t) => t.packedIn === undefined && t.columns.some((c) => c.name === "source_file_id")).map((t) => t.name);
/**
 * Wall-clock columns, and what names the file (and its page) a row came from: which copy of
 * its bytes loaded them may differ between two loads (see contentRows).
 */
const NOT_COMPARED = new Set(["loaded_at", "occurred_at", "mtime_us", "source_file_id", "page_no"]);
/** The same, of the tables whose rows name their file by more (replaced by the bytes' SHA-256 and the line). */
const NOT_COMPARED_IN: Record<string, Set<string>> = {
  pages: new Set([...NOT_COMPARED, "entry"]),
  ingest_errors: new Set([...NOT_COMPARED, "id", "path", "entry"]),
};
/** The bytes a page or error came from: the member's SHA-256 (in an archive), else the file's. */
const CONTENT = `COALESCE(m."sha256", f."sha256")`;
const FROM_CONTENT = `JOIN "source_files" f ON f."id" = x."source_file_id" LEFT JOIN "archive_members" m ON m."source_file_id" = x."source_file_id" AND m."entry" = x."entry" AND x."entry" <> ''`;

/**
 * Every data row, its file named by the SHA-256 of the bytes it came from (the file's, or
 * the archive member's) instead of by the file's id and path: which copy of the same bytes
 * loaded them (a plain file, or an archive's member) depends on the load order, which
 * parallel loaders (PostgreSQL) do not fix. A page is (content, line_no); loaded twice, its
 * row is there twice; lost, it is missing.
 */
async function contentRows(store: TidyStore): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const t of DATA_TABLES) {
    const sql =
      t === "pages" || t === "ingest_errors"
        ? `SELECT x.*, ${CONTENT} AS "content" FROM "${t}" x ${FROM_CONTENT}`
        : t === "api_errors"
          ? `SELECT x.*, ${CONTENT} AS "content", x2."line_no" AS "line_no" FROM "api_errors" x JOIN "pages" x2 ON x2."source_file_id" = x."source_file_id" AND x2."page_no" = x."page_no" JOIN "source_files" f ON f."id" = x."source_file_id" LEFT JOIN "archive_members" m ON m."source_file_id" = x."source_file_id" AND m."entry" = x2."entry" AND x2."entry" <> ''`
          : `SELECT * FROM "${t}"`;
    const rows = await store.query<Record<string, unknown>>(sql);
    const dropped = NOT_COMPARED_IN[t] ?? NOT_COMPARED;
    out[t] = rows.map((r) => JSON.stringify(Object.entries(r).filter(([k]) => !dropped.has(k)))).sort();
  }
  return out;
}

/**
 * The rows of each table that are not in both (as a multiset): lost (in `want` only) and
 * extra (in `got` only); a lost and an extra row of the same first column (a key) as the
 * columns that differ.
 */
function rowDiff(got: Record<string, string[]>, want: Record<string, string[]>): Record<string, { lost: string[]; extra: string[]; changed: string[] }> {
  const out: Record<string, { lost: string[]; extra: string[]; changed: string[] }> = {};
  const cut = (r: string) => r.slice(0, 300);
  for (const t of new Set([...Object.keys(got), ...Object.keys(want)])) {
    const left = new Map<string, number>();
    for (const r of want[t] ?? []) left.set(r, (left.get(r) ?? 0) + 1);
    let extra: string[] = [];
    for (const r of got[t] ?? []) {
      const n = left.get(r) ?? 0;
      if (n > 0) left.set(r, n - 1);
      else extra.push(r);
    }
    let lost = [...left].flatMap(([r, n]) => Array<string>(n).fill(r));
    const key = (r: string) => JSON.stringify((JSON.parse(r) as [string, unknown][])[0]);
    const lostByKey = new Map(lost.map((r) => [key(r), r]));
    const changed: string[] = [];
    for (const r of extra) {
      const w = lostByKey.get(key(r));
      if (w === undefined) continue;
      const g = new Map(JSON.parse(r) as [string, unknown][]);
      const diffs = (JSON.parse(w) as [string, unknown][]).filter(([k, v]) => JSON.stringify(g.get(k)) !== JSON.stringify(v)).map(([k, v]) => `${k}: ${cut(JSON.stringify(g.get(k)))} (want ${cut(JSON.stringify(v))})`);
      changed.push(`${key(r)}: ${diffs.join("; ")}`);
      lostByKey.delete(key(r));
      extra = extra.filter((x) => x !== r);
      lost = lost.filter((x) => x !== w);
    }
    if (lost.length > 0 || extra.length > 0 || changed.length > 0) out[t] = { lost: lost.map(cut), extra: extra.map(cut), changed };
  }
  return out;
}

/**
 * What a user relies on after any number of kills, whatever the load order: every file
 * recorded at most once and finished, every archive's members recorded once each, every
 * content (a plain file's bytes, a member's) loaded in exactly one place, every skipped
 * member and file pointing at that place, no page twice, no row of a file not committed.
 */
async function checkInvariants(store: TidyStore, inputs: Inputs, what: string): Promise<{ files: number; skippedMembers: number }> {
  const files = await store.query<{ id: number | string; path: string; sha256: string; kind: string; status: string; lines: unknown; pages: unknown; ingest_errors: unknown }>(
    'SELECT "id", "path", "sha256", "kind", "status", "lines", "pages", "ingest_errors" FROM "source_files"',
  );
  const members = await store.query<{ source_file_id: number | string; entry: string; sha256: string; status: string; loaded_as: string | null }>(
    'SELECT "source_file_id", "entry", "sha256", "status", "loaded_as" FROM "archive_members"',
  );
  const pagesOf = new Map<string, number>();
  for (const r of await store.query<{ id: number | string; n: number | string }>('SELECT "source_file_id" AS "id", count(*) AS "n" FROM "pages" GROUP BY "source_file_id"'))
    pagesOf.set(String(r.id), Number(r.n));
  const errorsOf = new Map<string, number>();
  for (const r of await store.query<{ id: number | string; n: number | string }>('SELECT "source_file_id" AS "id", count(*) AS "n" FROM "ingest_errors" GROUP BY "source_file_id"'))
    errorsOf.set(String(r.id), Number(r.n));

  const byId = new Map(files.map((f) => [String(f.id), f]));
  const seenPaths = new Set<string>();
  /** Where each content was loaded: a file's path, or `<archive path>#<member>`. */
  const loadedAt = new Map<string, string[]>();
  const at = (sha: string, where: string) => loadedAt.set(sha, [...(loadedAt.get(sha) ?? []), where]);
  for (const f of files) {
    const ctx = `${what}: source_files ${f.path}`;
    expect(seenPaths.has(f.path), `${ctx} recorded twice`).toBe(false);
    seenPaths.add(f.path);
    const input = inputs.plain.get(f.path) ?? inputs.archives.get(f.path)?.sha;
    expect(input, `${ctx} is not an input`).toBeDefined();
    expect(f.sha256, ctx).toBe(input);
    expect(f.kind, ctx).toBe(inputs.plain.has(f.path) ? "pages" : "archive");
    // finished in the transaction that claimed it (its counts written), its counts those of its rows
    expect(f.lines, `${ctx}: claimed but never finished`).not.toBeNull();
    const errors = errorsOf.get(String(f.id)) ?? 0;
    expect(f.status, ctx).toBe(errors > 0 ? "partial" : "loaded");
    expect(Number(f.ingest_errors), ctx).toBe(errors);
    expect(Number(f.pages), ctx).toBe(pagesOf.get(String(f.id)) ?? 0);
    if (f.kind === "pages") at(f.sha256, f.path);
  }
  const membersOf = new Map<string, typeof members>();
  for (const m of members) membersOf.set(String(m.source_file_id), [...(membersOf.get(String(m.source_file_id)) ?? []), m]);
  for (const id of membersOf.keys()) expect(byId.get(id)?.kind, `${what}: archive_members of file ${id}, not a committed archive`).toBe("archive");
  for (const f of files.filter((x) => x.kind === "archive")) {
    const ms = membersOf.get(String(f.id)) ?? [];
    // each raw member once (the manifest is not one), with its bytes' hash
    expect(new Map(ms.map((m) => [m.entry, m.sha256])), `${what}: members of ${f.path}`).toEqual(inputs.archives.get(f.path)!.members);
    expect(ms.length, `${what}: members of ${f.path}`).toBe(inputs.archives.get(f.path)!.members.size);
    for (const m of ms) {
      expect(["loaded", "skipped-duplicate"], `${what}: ${f.path}#${m.entry}`).toContain(m.status);
      if (m.status === "loaded") at(m.sha256, `${f.path}#${m.entry}`);
    }
  }
  // every content of the inputs loaded in exactly one place, and no other
  const contents = new Set([...inputs.plain.values(), ...[...inputs.archives.values()].flatMap((a) => [...a.members.values()])]);
  for (const sha of contents) expect(loadedAt.get(sha) ?? [], `${what}: the places content ${sha.slice(0, 12)} was loaded`).toHaveLength(1);
  expect([...loadedAt.keys()].filter((sha) => !contents.has(sha)), what).toEqual([]);
  // each archive's bytes recorded once (an archive copied is skipped whole)
  for (const a of new Set([...inputs.archives.values()].map((x) => x.sha)))
    expect(files.filter((f) => f.sha256 === a), `${what}: archive ${a.slice(0, 12)}`).toHaveLength(1);
  // a skipped member points at where its bytes were loaded
  let skippedMembers = 0;
  for (const m of members) {
    const where = loadedAt.get(m.sha256)![0];
    const name = `${byId.get(String(m.source_file_id))!.path}#${m.entry}`;
    if (m.status === "loaded") expect(m.loaded_as, `${what}: ${name}`).toBeNull();
    else {
      skippedMembers++;
      expect(m.loaded_as, `${what}: ${name} skipped`).toBe(where);
      expect(where, `${what}: ${name} skipped as itself`).not.toBe(name);
    }
  }
  // no page twice (a page is its bytes' content and line), no row of a file not committed
  const twice = await store.query(
    `SELECT ${CONTENT} AS "content", x."line_no", count(*) AS "n" FROM "pages" x ${FROM_CONTENT} GROUP BY ${CONTENT}, x."line_no" HAVING count(*) > 1`,
  );
  expect(twice, `${what}: pages loaded twice`).toEqual([]);
  for (const t of WITH_FILE) {
    const orphans = await store.query(`SELECT count(*) AS "n" FROM "${t}" x WHERE x."source_file_id" IS NOT NULL AND NOT EXISTS (SELECT 1 FROM "source_files" f WHERE f."id" = x."source_file_id")`);
    expect(Number((orphans[0] as { n: unknown }).n), `${what}: rows of ${t} naming no committed file`).toBe(0);
  }
  return { files: files.length, skippedMembers };
}

/** After a kill: the files and archive members committed (a SQLite database killed before its schema: none). */
function sqliteCommitted(db: string): { files: number; members: number } {
  const d = new Database(db, { readonly: true });
  try {
    expect(d.pragma("integrity_check", { simple: true })).toBe("ok");
    const exists = new Set((d.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map((r) => r.name));
    const n = (t: string) => (exists.has(t) ? (d.prepare(`SELECT count(*) AS n FROM "${t}"`).get() as { n: number }).n : 0);
    return { files: n("source_files"), members: n("archive_members") };
  } finally {
    d.close();
  }
}

/** After a kill: the files and archive members committed in a PostgreSQL schema (killed before its tables: none). */
async function pgCommitted(schema: string): Promise<{ files: number; members: number }> {
  const c = new pg.Client({ connectionString: PG_BASE });
  await c.connect();
  try {
    const n = async (t: string) => {
      const exists = (await c.query("SELECT to_regclass($1) AS r", [`"${schema}"."${t}"`])).rows[0].r !== null;
      return exists ? Number((await c.query(`SELECT count(*) AS n FROM "${schema}"."${t}"`)).rows[0].n) : 0;
    };
    return { files: await n("source_files"), members: await n("archive_members") };
  } finally {
    await c.end();
  }
}

async function withStore<T>(store: TidyStore, use: (s: TidyStore) => Promise<T>): Promise<T> {
  try {
    return await use(store);
  } finally {
    await store.close();
  }
}

describe.skipIf(!built && process.env.CI !== "true")("kill -9 of ujr run over plain files and archives of them", async () => {
  const inputs = await collection();
  const config = (name: string, database: string, isolation: "process" | "thread") =>
    // two loaders on PostgreSQL: plain files and archives of the same bytes load at once
    tidyConfig(tmp.dir, name, { inputs: [inputs.dir], database, isolation, parallel: 2 });

  /**
   * The kill phase of a trial: a run killed at `at(0)`'s point, then as many more runs
   * killed at `at(k)` as `kills` says (a run that ends before its kill point is not killed
   * and ends the phase). Returns each run, and each kill as what it followed and what was
   * committed then.
   */
  const killed = async (
    cfg: string,
    kills: number,
    at: (k: number) => { line?: number; wal?: { walOf: string; killAtWrite: number } },
    committed: () => Promise<{ files: number; members: number }>,
  ) => {
    const runs: RunOutcome[] = [];
    const told: string[] = [];
    let first: { files: number; members: number } | undefined;
    for (let k = 0; k < kills; k++) {
      const p = at(k);
      const r = await runConfig(cfg, { logLevel: "debug", killAtLine: { counts: progress, at: p.line }, wal: p.wal });
      runs.push(r);
      if (r.signal !== "SIGKILL") {
        expect(r.code, `${cfg}: a run not killed ends well`).toBe(0);
        break;
      }
      const c = await committed();
      first ??= c;
      const point = p.wal ? `WAL write ${p.wal.killAtWrite}` : `progress line ${p.line}`;
      told.push(`killed at ${point} (after ${describeLine(r.lastLine)}): ${c.files} files, ${c.members} archive members committed`);
    }
    return { runs, told, first };
  };

  it(`SQLite: every page once, every member accounted for, after ${trials} trials of kills at random points (seed ${seed})`, { timeout: 60_000 + trials * 30_000 }, async () => {
    // the clean reference: one run to the end into a new database; it also counts the
    // kill points a whole run passes (WAL writes, progress lines)
    const refDb = join(tmp.dir, "ref.sqlite");
    const whole = await runConfig(config("ref", refDb, "thread"), { logLevel: "debug", killAtLine: { counts: progress }, wal: { walOf: refDb } });
    expect(whole.code).toBe(0);
    const want = await withStore(new SqliteTidyStore(refDb, { readonly: true }), async (s) => {
      const inv = await checkInvariants(s, inputs, "reference");
      // the collection's cases all met: members loaded before as files, files loaded as members, a member twice, shared members
      expect(inv.skippedMembers).toBe(8);
      expect(await s.query('SELECT "loaded_as" FROM "archive_members" WHERE "entry" = \'again/n100.jsonl\'')).toEqual([
        { loaded_as: `${join(inputs.dir, "2-archive", "raw-a.tar.gz")}#raw/n100.jsonl` },
      ]);
      return { rows: await contentRows(s), tables: await dumpTables(s) };
    });
    console.log(`SQLite reference: ${whole.walWrites} WAL writes, ${whole.lines} progress lines`);
    const rnd = random(seed);
    for (let t = 0; t < trials; t++) {
      // even trials kill at a WAL write (commits, checkpoints), odd ones at a progress line
      // (also inside an archive's transaction, right after a member was skipped)
      const byWal = t % 2 === 0;
      // one or two runs killed before the run to the end
      const kills = 1 + Math.floor(rnd() * 2);
      const draw = (scale: number) => 1 + Math.floor(rnd() * (byWal ? whole.walWrites : whole.lines) * 0.9 * scale);
      let first = draw(1);
      let db = "";
      let cfg = "";
      let phase: Awaited<ReturnType<typeof killed>> = { runs: [], told: [], first: undefined };
      // a run that ended, or was killed, after its last commit (events coalesce, log lines
      // arrive late) is done again on a new database, killed sooner
      for (let again = 0; ; again++, first = Math.max(1, Math.floor(first / 2))) {
        db = join(tmp.dir, `trial-${t}-${again}.sqlite`);
        cfg = config(`trial-${t}-${again}`, db, t % 4 < 2 ? "process" : "thread");
        const [point, file] = [first, db];
        phase = await killed(
          cfg,
          kills,
          (k) => {
            const n = k === 0 ? point : draw(0.5);
            return byWal ? { wal: { walOf: file, killAtWrite: n } } : { line: n };
          },
          async () => sqliteCommitted(file),
        );
        if (phase.first !== undefined && phase.first.files < want.tables.source_files!.length) break;
        expect(again, `trial ${t}: never killed before its last commit (last kill point: ${first})`).toBeLessThan(6);
      }
      const what = `trial ${t}, ${t % 4 < 2 ? "process" : "thread"} isolation: ${phase.told.join("; then ")}`;
      console.log(what);
      const finished = await runConfig(cfg);
      expect(finished.code, what).toBe(0);
      await withStore(new SqliteTidyStore(db, { readonly: true }), async (s) => {
        await checkInvariants(s, inputs, what);
        expect(rowDiff(await contentRows(s), want.rows), what).toEqual({});
        // one loader in path order: the same files load the same bytes as in the reference,
        // under the same ids (a file rolled back by the kill took its ids with it)
        expect(await dumpTables(s), what).toEqual(want.tables);
      });
      expect(sqliteCommitted(db).files, what).toBe(want.tables.source_files!.length);
    }
  });

  it(`PostgreSQL: every page once, every member accounted for, after ${pgTrials} trials of kills at random points (seed ${seed})`, { timeout: 60_000 + pgTrials * 30_000 }, async (ctx) => {
    if (!(await postgresAvailable())) return ctx.skip(`PostgreSQL does not answer at ${PG_BASE} (start it or set DATABASE_URL; under CI=true this fails)`);
    const rnd = random(seed + 1);
    const ref = pgSchema();
    try {
      const whole = await runConfig(config("pg-ref", ref.url, "thread"), { logLevel: "debug", killAtLine: { counts: progress } });
      expect(whole.code).toBe(0);
      const want = await withStore(new PostgresTidyStore(ref.url), async (s) => {
        await checkInvariants(s, inputs, "reference");
        return contentRows(s);
      });
      console.log(`PostgreSQL reference: ${whole.lines} progress lines`);
      for (let t = 0; t < Math.max(1, pgTrials); t++) {
        const kills = 1 + Math.floor(rnd() * 2);
        let first = 1 + Math.floor(rnd() * whole.lines * 0.9);
        // a worker's log lines may reach this process late (process isolation): a run that
        // ended before its kill point is done again on a fresh schema, killed sooner
        for (let again = 0; ; again++, first = Math.max(1, Math.floor(first / 2))) {
          const s = pgSchema();
          try {
            const cfg = config(`pg-trial-${t}-${again}`, s.url, t % 2 === 0 ? "process" : "thread");
            const point = first;
            const phase = await killed(
              cfg,
              kills,
              (k) => ({ line: k === 0 ? point : 1 + Math.floor(rnd() * whole.lines * 0.45) }),
              () => pgCommitted(s.schema),
            );
            if (phase.first === undefined) {
              expect(again, `trial ${t}: never killed`).toBeLessThan(6);
              continue;
            }
            const what = `PostgreSQL trial ${t}, ${t % 2 === 0 ? "process" : "thread"} isolation: ${phase.told.join("; then ")}`;
            console.log(what);
            const finished = await runConfig(cfg);
            expect(finished.code, what).toBe(0);
            await withStore(new PostgresTidyStore(s.url), async (st) => {
              await checkInvariants(st, inputs, what);
              expect(rowDiff(await contentRows(st), want), what).toEqual({});
            });
            break;
          } finally {
            await s.drop();
          }
        }
      }
    } finally {
      await ref.drop();
    }
  });
});
