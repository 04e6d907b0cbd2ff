import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type Database from "better-sqlite3";
import pg from "pg";
import { tables } from "../schema.js";
import type { TidyStore } from "../store/types.js";

/** `<repo>/fixtures/twitter/`, or UJR_FIXTURES_DIR. */
export const FIXTURES =
  process.env.UJR_FIXTURES_DIR ?? fileURLToPath(new URL("../../../../fixtures/twitter/", import.meta.url));
export const fixture = (name: string) => join(FIXTURES, name);

/**
 * A fixture line (or lines) with every id prefixed by `prefix`: the same pages as content of
 * their own (another hash, other rows), for tests that need many distinct files.
 */
export const withIds = (prefix: string | number, text: string): string => text.replace(/(?<=["_])(\d{6,20})(?=")/g, (id) => `${prefix}${id}`);

export const ALL_FIXTURES = [
  "brexit.jsonl",
  "cashtags.jsonl",
  "edited.jsonl",
  "geo_tweets.jsonl",
  "many_urls.jsonl",
  "media_tweet.jsonl",
  "streaming_output_with_error.jsonl",
  "timeline-observatoryteam.jsonl",
  "two_tweets.jsonl",
  "verified_type.jsonl",
  "withheld.jsonl",
];

export function tempDir(prefix = "ujr-tidy-test-"): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export const PG_BASE = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";

/** True when PostgreSQL answers; under CI=true a missing server throws (a failure, never a skip). */
export async function postgresAvailable(): Promise<boolean> {
  const c = new pg.Client({ connectionString: PG_BASE, connectionTimeoutMillis: 3000 });
  try {
    await c.connect();
    await c.query("SELECT 1");
    return true;
  } catch (e) {
    if (process.env.CI === "true") throw new Error(`PostgreSQL is required under CI=true (${PG_BASE}): ${(e as Error).message}`);
    console.warn(`PostgreSQL does not answer at ${PG_BASE}: skipping the tests that need it (start it or set DATABASE_URL; under CI=true this fails).`);
    return false;
  } finally {
    await c.end().catch(() => {});
  }
}

let n = 0;
/** A fresh schema name and URL for one test; `drop()` removes it. */
export function pgSchema(): { url: string; schema: string; drop: () => Promise<void> } {
  const schema = `tidy_test_${process.pid}_${Date.now().toString(36)}_${n++}`;
  const u = new URL(PG_BASE);
  u.searchParams.set("schema", schema);
  return {
    url: u.toString(),
    schema,
    drop: async () => {
      const c = new pg.Client({ connectionString: PG_BASE });
      await c.connect();
      try {
        await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      } finally {
        await c.end();
      }
    },
  };
}

/** Every data table of the documented schema. */
const DATA_TABLES = tables.map((t) => t.name).filter((name) => name !== "schema_migrations");
/** Columns that differ between two loads of the same file (wall-clock times, the file's modification time). */
const VOLATILE = new Set(["loaded_at", "occurred_at", "mtime_us"]);

/** Every row of every table, without wall-clock columns, in a stable order: what two loads of the same files must agree on. */
export async function dumpTables(store: Pick<TidyStore, "query">): Promise<Record<string, unknown[]>> {
  const out: Record<string, unknown[]> = {};
  for (const t of DATA_TABLES) {
    const rows = await store.query<Record<string, unknown>>(`SELECT * FROM "${t}"`);
    out[t] = rows.map((r) => JSON.stringify(Object.entries(r).filter(([k]) => !VOLATILE.has(k)))).sort();
  }
  return out;
}

/** A SQLite database's own indexes by name (not SQLite's automatic ones). */
export const indexNames = (db: Database.Database): string[] =>
  (db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_%' ORDER BY name").all() as { name: string }[]).map((r) => r.name);
