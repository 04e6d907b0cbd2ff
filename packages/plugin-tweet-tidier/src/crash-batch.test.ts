import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { crashSeed, fileLoaded, random, runConfig, tidierBuilt, tidyConfig } from "./__fixtures__/crash-run.js";
import { fixture, indexNames, PG_BASE, pgSchema, postgresAvailable, tempDir, withIds } from "./__fixtures__/helpers.js";
import { tables } from "./schema.js";
import { SqliteTidyStore } from "./store/sqlite.js";

// kill -9 of a running `ujr run` (its whole process group: the runner and its worker
// processes) at a random point of a once tidy of many files, then a run to the end: no row
// lost or duplicated, whatever was committed before the kill. Bounded in CI
// (UJR_TIDY_CRASH_TRIALS, default 3 on SQLite; UJR_TIDY_CRASH_PG_TRIALS, default 2 on
// PostgreSQL); the seed is printed (UJR_TIDY_CRASH_SEED replays its draws).
const built = tidierBuilt();
if (!built) console.warn("the tidier is not built: skipping the kill -9 batch test (run `pnpm build`; under CI=true it runs and fails).");
const trials = Number(process.env.UJR_TIDY_CRASH_TRIALS ?? "3");
const pgTrials = Number(process.env.UJR_TIDY_CRASH_PG_TRIALS ?? "2");
const seed = crashSeed("crash-batch");

const tmp = tempDir();
afterAll(() => tmp.cleanup());
const COUNTED = tables.map((t) => t.name).filter((n) => n !== "schema_migrations");

/** 32 raw files of 1 to 4 pages, ids rewritten per file (distinct rows), one with a bad line. */
function corpus(): string[] {
  const base = ["timeline-observatoryteam.jsonl", "withheld.jsonl", "brexit.jsonl"].flatMap((f) =>
    readFileSync(fixture(f), "utf8").trimEnd().split("\n").filter((l) => l.endsWith("}")),
  );
  const dir = join(tmp.dir, "raw");
  mkdirSync(dir, { recursive: true });
  const files: string[] = [];
  for (let k = 0; k < 32; k++) {
    const lines = base.slice(0, 1 + (k % 4)).map((l) => withIds(String(k).padStart(3, "0"), l));
    if (k === 5) lines.splice(1, 0, '{"truncated": ');
    const p = join(dir, `${String(k).padStart(2, "0")}.jsonl`);
    writeFileSync(p, lines.join("\n") + "\n");
    files.push(p);
  }
  return files;
}

const config = (name: string, database: string, isolation: "process" | "thread"): string =>
  tidyConfig(tmp.dir, name, { inputs: [join(tmp.dir, "raw")], database, isolation });

/**
 * Runs the config; with `killAt`, SIGKILLs the process group when the killAt-th file was
 * loaded (in its open transaction, as a worker logs it); with `killAtWrite`, at the
 * killAtWrite-th write to the SQLite database's WAL (`walOf`) that this process is told of.
 */
async function run(
  cfg: string,
  killAt?: number,
  wal?: { walOf: string; killAtWrite?: number },
): Promise<{ code: number | null; signal: string | null; loaded: number; walWrites: number }> {
  const r = await runConfig(cfg, { killAtLine: { counts: fileLoaded, at: killAt }, wal });
  return { code: r.code, signal: r.signal, loaded: r.lines, walWrites: r.walWrites };
}

/** The database's indexes by name. */
function sqliteIndexes(db: string): string[] {
  const d = new Database(db, { readonly: true });
  try {
    return indexNames(d);
  } finally {
    d.close();
  }
}

async function sqliteCounts(db: string): Promise<Record<string, number>> {
  const d = new Database(db, { readonly: true });
  try {
    expect(d.pragma("integrity_check", { simple: true })).toBe("ok");
    // killed before the schema was created (the first migration rolled back): no table yet
    const exists = new Set((d.prepare("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')").all() as { name: string }[]).map((r) => r.name));
    return Object.fromEntries(
      COUNTED.map((t) => [t, exists.has(t) ? (d.prepare(`SELECT count(*) AS n FROM "${t}"`).get() as { n: number }).n : 0]),
    );
  } finally {
    d.close();
  }
}

describe.skipIf(!built && process.env.CI !== "true")("kill -9 of ujr run in the middle of a batch", () => {
  const files = corpus();

  it(`SQLite: no lost or duplicated rows after ${trials} kills at random points (seed ${seed})`, { timeout: 240_000 }, async () => {
    const ref = new SqliteTidyStore(join(tmp.dir, "ref.sqlite"));
    await ref.ingestFiles(files, { parseInWorker: false });
    await ref.close();
    const want = await sqliteCounts(join(tmp.dir, "ref.sqlite"));
    // how many WAL writes this process sees in a whole run: the kill points are drawn among them
    const whole = await run(config("whole", join(tmp.dir, "whole.sqlite"), "thread"), undefined, { walOf: join(tmp.dir, "whole.sqlite") });
    expect(whole.code).toBe(0);
    expect(await sqliteCounts(join(tmp.dir, "whole.sqlite"))).toEqual(want);
    const rnd = random(seed);
    for (let t = 0; t < trials; t++) {
      let db = "";
      let cfg = "";
      let killAt = 1 + Math.floor(rnd() * whole.walWrites * 0.9);
      let mid: Record<string, number> = {};
      // the watcher may be told of fewer writes than in the calibration run (events coalesce
      // under load), and the WAL is touched after the last commit too (the checkpoints at
      // the end): a run that ended, or was killed, after its last commit is done again,
      // killed sooner
      for (let again = 0; ; again++, killAt = Math.max(1, Math.floor(killAt / 2))) {
        db = join(tmp.dir, `trial-${t}-${again}.sqlite`);
        cfg = config(`trial-${t}-${again}`, db, t % 2 === 0 ? "process" : "thread");
        const killed = await run(cfg, undefined, { walOf: db, killAtWrite: killAt });
        if (killed.signal === "SIGKILL") {
          mid = await sqliteCounts(db);
          if (mid.source_files! < files.length) break;
        }
        expect(again, `trial ${t}: never killed before its last commit (last kill point: WAL write ${killAt})`).toBeLessThan(6);
      }
      console.log(`trial ${t}: killed at WAL write ${killAt} of ~${whole.walWrites}: ${mid.source_files} of ${files.length} files were committed`);
      const finished = await run(cfg);
      expect(finished.code, `trial ${t}`).toBe(0);
      expect(await sqliteCounts(db), `trial ${t} (killed at WAL write ${killAt}, ${mid.source_files} files committed)`).toEqual(want);
      // a kill while the first load ran without its secondary indexes: the next run built them
      expect(sqliteIndexes(db), `trial ${t}`).toEqual(sqliteIndexes(join(tmp.dir, "ref.sqlite")));
    }
  });

  it(`PostgreSQL: no lost or duplicated rows after ${pgTrials} kills at random points (seed ${seed})`, { timeout: 240_000 }, async (ctx) => {
    if (!(await postgresAvailable())) return ctx.skip(`PostgreSQL does not answer at ${PG_BASE} (start it or set DATABASE_URL; under CI=true this fails)`);
    const rnd = random(seed + 1);
    const ref = pgSchema();
    const counts = async (schema: string) => {
      const c = new pg.Client({ connectionString: ref.url.replace(/\?.*$/, "") });
      await c.connect();
      try {
        const out: Record<string, number> = {};
        for (const t of COUNTED) out[t] = Number((await c.query(`SELECT count(*) AS n FROM "${schema}"."${t}"`)).rows[0].n);
        return out;
      } finally {
        await c.end();
      }
    };
    try {
      expect((await run(config("pg-ref", ref.url, "thread"))).code).toBe(0);
      const want = await counts(ref.schema);
      expect(want.source_files).toBe(files.length);
      for (let t = 0; t < Math.max(1, pgTrials); t++) {
        let killAt = 1 + Math.floor(rnd() * (files.length / 2));
        // a worker's log lines may reach this process late (process isolation): a run that
        // ended before its kill point is done again on a fresh schema, killed sooner
        for (let again = 0; ; again++, killAt = Math.max(1, Math.floor(killAt / 2))) {
          const s = pgSchema();
          try {
            const cfg = config(`pg-trial-${t}-${again}`, s.url, t % 2 === 0 ? "process" : "thread");
            const killed = await run(cfg, killAt);
            if (killed.signal !== "SIGKILL") {
              expect(again, `trial ${t}: never killed`).toBeLessThan(6);
              continue;
            }
            const mid = await counts(s.schema);
            console.log(`PostgreSQL trial ${t}: killed after ${killAt} files loaded: ${mid.source_files} of ${files.length} files were committed`);
            expect((await run(cfg)).code).toBe(0);
            expect(await counts(s.schema), `trial ${t} (killed after ${killAt} files)`).toEqual(want);
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
