/**
 * The built-in reports on PostgreSQL: the same fixture data as builtin.test.ts, loaded into
 * a fresh schema with the documented PostgreSQL types; every report must give the same
 * rows as on SQLite (after normalising how the drivers return types) and match the
 * independent count. Needs PostgreSQL at 127.0.0.1:5432 (database `test`); under CI=true
 * a missing server fails the file.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectations, FILES, LIMIT, RESOLVED } from "./__fixtures__/expected.js";
import Database from "better-sqlite3";
import { buildTidyDb, buildTidyPostgres, DDL, PG_DDL } from "./__fixtures__/tidy-db.js";
import { createTestSchema, NO_POSTGRES, type TestSchema } from "./__fixtures__/postgres.js";
import type { Manifest, QuerySpec } from "./manifest.js";
import { BUILTIN_REPORTS } from "./queries/builtin.js";
import { runSummary } from "./run.js";

const exp = expectations();

let pgdb: TestSchema | undefined;
let dir: string;
let onSqlite: Manifest;
let onPostgres: Manifest;
let collation: string | undefined;

const spec = (name: string, builtin: (typeof BUILTIN_REPORTS)[number], options: QuerySpec["options"] = {}): QuerySpec => ({ name, builtin, options, timeoutMs: 30_000, maxRows: 100_000 });

/** Every built-in report, plus small limits where ties decide which rows make the cut. */
const SPECS: QuerySpec[] = [
  ...BUILTIN_REPORTS.map((b) => spec(b, b, { limit: LIMIT })),
  spec("tweets_per_hour", "tweets_over_time", { interval: "hour" }),
  spec("top_hashtags_5", "top_hashtags", { limit: 5 }),
  spec("top_mentions_5", "top_mentions", { limit: 5 }),
  spec("top_urls_5", "top_urls", { limit: 5 }),
  spec("top_domains_3", "top_domains", { limit: 3 }),
  spec("languages_3", "languages", { limit: 3 }),
  spec("most_retweeted_5", "most_retweeted", { limit: 5 }),
  spec("most_quoted_3", "most_quoted", { limit: 3 }),
];

beforeAll(async () => {
  pgdb = await createTestSchema("ujr_summary_builtin");
  if (!pgdb) return;
  const { admin, schema } = pgdb;
  // Sort text like a database created with an English locale (the test server's is C):
  // a report whose ORDER BY depends on the database's collation then differs from SQLite.
  const icu = await admin.query(`SELECT collname FROM pg_collation WHERE collname IN ('en-x-icu', 'en_US.utf8', 'en_US') ORDER BY collname = 'en-x-icu' DESC LIMIT 1`);
  collation = icu.rows[0]?.collname as string | undefined;
  if (process.env.CI === "true" && !collation) throw new Error("PostgreSQL has no English collation (ICU en-x-icu or libc en_US.utf8): the parity test needs one");
  await buildTidyPostgres(admin, schema, FILES, RESOLVED, { collation });
  dir = mkdtempSync(path.join(os.tmpdir(), "ujr-summary-pg-"));
  buildTidyDb(path.join(dir, "tidy.db"), FILES, RESOLVED);
  const base = { job: "parity", baseDir: dir, keep: 2, queries: SPECS };
  onSqlite = await runSummary({ ...base, database: "tidy.db", outDir: path.join(dir, "sqlite") });
  onPostgres = await runSummary({ ...base, database: pgdb.url, outDir: path.join(dir, "postgres") });
}, 120_000);

afterAll(async () => {
  await pgdb?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function stored(m: Manifest, name: string): { columns: string[]; rows: Record<string, unknown>[] } {
  const q = m.queries.find((x) => x.name === name)!;
  expect(q.error, `${m.database.dialect} ${name}: ${q.error?.message}`).toBeUndefined();
  const json = JSON.parse(readFileSync(path.join(m.dir, q.files!.json), "utf8")) as { rows: Record<string, unknown>[] };
  return { columns: q.columns, rows: json.rows };
}

const rowsOf = (m: Manifest, name: string) => stored(m, name).rows;

/** Driver differences that are not differences in meaning: "12" vs 12, true vs 1, timestamp spellings. */
function norm(v: unknown): unknown {
  if (v === null || v === undefined) return null;
  if (typeof v === "boolean") return v ? 1 : 0;
  if (typeof v === "string") {
    if (/^-?\d+(\.\d+)?$/.test(v)) return Number(v);
    if (/^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}(:?\d{2})?)$/.test(v)) return new Date(v.replace(" ", "T")).toISOString();
  }
  return v;
}
const normRows = (rows: Record<string, unknown>[]) => rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, norm(v)])));

describe("built-in reports on PostgreSQL", () => {
  it("connects (or fails under CI=true)", (ctx) => {
    if (!pgdb) return ctx.skip(NO_POSTGRES);
    expect(onPostgres.database.dialect).toBe("postgres");
    expect(onPostgres.database.location).not.toContain("search_path");
    expect(onPostgres.errors).toBe(0);
    expect(collation).toBeDefined();
  });

  it.for(SPECS.map((s) => s.name))("%s gives the same rows as on SQLite", (name, ctx) => {
    if (!pgdb) return ctx.skip(NO_POSTGRES);
    const a = stored(onSqlite, name);
    const b = stored(onPostgres, name);
    expect(b.columns).toEqual(a.columns);
    expect(a.rows.length).toBeGreaterThan(0);
    expect(normRows(b.rows)).toEqual(normRows(a.rows));
  });

  it("matches the independent count of the fixtures", (ctx) => {
    if (!pgdb) return ctx.skip(NO_POSTGRES);
    const days = [...exp.days].map(([d, s]) => ({ period: d, tweets: s.size })).sort((x, y) => (x.period < y.period ? -1 : 1));
    expect(rowsOf(onPostgres, "tweets_over_time")).toEqual(days);
    const hours = rowsOf(onPostgres, "tweets_per_hour");
    expect(hours.reduce((n, r) => n + (r.tweets as number), 0)).toBe(exp.collected.size);
    expect(hours.every((r) => /^\d{4}-\d{2}-\d{2}T\d{2}:00:00Z$/.test(r.period as string))).toBe(true);
    expect(rowsOf(onPostgres, "top_hashtags").map((r) => [r.hashtag, r.tweets])).toEqual(exp.tags);
    expect(rowsOf(onPostgres, "top_hashtags_5").map((r) => [r.hashtag, r.tweets])).toEqual(exp.tags.slice(0, 5));
    expect(rowsOf(onPostgres, "top_mentions").map((r) => [r.username, r.tweets])).toEqual(exp.mentions);
    expect(rowsOf(onPostgres, "languages").map((r) => [r.lang, r.tweets])).toEqual(exp.langs);
    expect(rowsOf(onPostgres, "languages_3").map((r) => [r.lang, r.tweets])).toEqual(exp.langs.slice(0, 3));
    expect(rowsOf(onPostgres, "top_urls").map((r) => [r.url, r.tweets])).toEqual(exp.urls);
    expect(rowsOf(onPostgres, "top_domains").map((r) => [r.domain, r.tweets])).toEqual(exp.domains);
    expect(rowsOf(onPostgres, "top_domains").some((r) => r.domain === "final.example.net")).toBe(true);
    expect(rowsOf(onPostgres, "most_retweeted").map((r) => [r.tweet_id, r.retweets])).toEqual(expect.arrayContaining(exp.retweeted));
    expect(rowsOf(onPostgres, "most_retweeted")).toHaveLength(exp.retweeted.length);
    expect(rowsOf(onPostgres, "most_quoted").map((r) => [r.tweet_id, r.quotes])).toEqual(expect.arrayContaining(exp.quoted));
    expect(rowsOf(onPostgres, "most_quoted")).toHaveLength(exp.quoted.length);
    const h = Object.fromEntries(rowsOf(onPostgres, "collection_health").map((r) => [r.metric, r.value]));
    expect(Number(h.files)).toBe(FILES.length);
    expect(Number(h.files_partial)).toBe(1);
    expect(Number(h.pages)).toBe(exp.pages);
    expect(Number(h.api_errors)).toBe(exp.apiErrors);
    expect(Number(h.ingest_errors)).toBe(exp.bad);
    expect(Number(h.tweets_collected)).toBe(exp.collected.size);
    expect(Number(h.tweets_total)).toBe(exp.byId.size);
    expect(h.first_loaded_at).toBe("2024-01-01T00:00:00.000Z");
  });

  it("has the same time range and new_tweets watermark, and counts no new tweets on the next run", async (ctx) => {
    if (!pgdb) return ctx.skip(NO_POSTGRES);
    expect(onPostgres.timeRange).toEqual(onSqlite.timeRange);
    expect(onPostgres.watermark).toBe(onSqlite.watermark);
    const first = rowsOf(onPostgres, "new_tweets")[0]!;
    expect(first).toMatchObject({ since: null, new_tweets: exp.collected.size });
    const next = await runSummary({ job: "parity-next", database: pgdb!.url, baseDir: dir, outDir: path.join(dir, "postgres"), keep: 2, since: onPostgres.watermark, queries: SPECS.filter((s) => s.builtin === "new_tweets") });
    expect(rowsOf(next, "new_tweets")[0]).toMatchObject({ since: onPostgres.watermark, new_tweets: 0 });
  });

  it("sorts a referenced tweet without metrics (not included) after the others on both backends", async (ctx) => {
    if (!pgdb) return ctx.skip(NO_POSTGRES);
    // "a" (retweet_count 5) and "z" (absent: NULL metric) are each retweeted twice.
    const inserts = [
      `INSERT INTO tweets (id, created_at, retweet_count, directly_collected) VALUES ('a', '2024-05-01T00:00:00.000Z', 5, false)`,
      ...["r1", "r2", "r3", "r4"].map((id) => `INSERT INTO tweets (id, created_at, directly_collected) VALUES ('${id}', '2024-05-01T01:00:00.000Z', ${"TRUE"})`),
      `INSERT INTO tweet_references VALUES ('r1', 'retweeted', 'z'), ('r2', 'retweeted', 'z'), ('r3', 'retweeted', 'a'), ('r4', 'retweeted', 'a')`,
    ];
    const tiny = (await createTestSchema("ujr_summary_nulls"))!;
    try {
      await tiny.admin.query(`SET search_path = "${tiny.schema}"`);
      for (const q of [...PG_DDL, ...inserts]) await tiny.admin.query(q);
      await tiny.admin.query("RESET search_path");
      const file = path.join(dir, "nulls.db");
      const db = new Database(file);
      for (const q of [...DDL, ...inserts]) db.exec(q.replace("TRUE", "1").replace(", false)", ", 0)"));
      db.close();
      const queries = [spec("most_retweeted", "most_retweeted")];
      const a = await runSummary({ job: "nulls", database: "nulls.db", baseDir: dir, outDir: path.join(dir, "nulls-sqlite"), keep: 1, queries });
      const b = await runSummary({ job: "nulls", database: tiny.url, baseDir: dir, outDir: path.join(dir, "nulls-postgres"), keep: 1, queries });
      expect(rowsOf(a, "most_retweeted").map((r) => [r.tweet_id, r.retweets, r.retweet_count])).toEqual([["a", 2, 5], ["z", 2, null]]);
      expect(normRows(rowsOf(b, "most_retweeted"))).toEqual(normRows(rowsOf(a, "most_retweeted")));
    } finally {
      await tiny.drop();
    }
  });
});
