import { existsSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { createLogger } from "@ujr/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectations, FILES, LIMIT, RESOLVED } from "./__fixtures__/expected.js";
import { buildTidyDb } from "./__fixtures__/tidy-db.js";
import type { Manifest, QuerySpec } from "./manifest.js";
import { BUILTIN_REPORTS } from "./queries/builtin.js";
import { runSummary } from "./run.js";

let dir: string;
let dbFile: string;
let manifest: Manifest;
const exp = expectations();

function rowsOf(m: Manifest, name: string): Record<string, unknown>[] {
  const q = m.queries.find((x) => x.name === name)!;
  expect(q.error, `${name}: ${q.error?.message}`).toBeUndefined();
  return (JSON.parse(readFileSync(path.join(m.dir, q.files!.json), "utf8")) as { rows: Record<string, unknown>[] }).rows;
}

const specs = (extra: QuerySpec[] = []): QuerySpec[] => [
  ...BUILTIN_REPORTS.map((b) => ({ name: b, builtin: b, options: { limit: LIMIT }, timeoutMs: 30_000, maxRows: 100_000 })),
  { name: "tweets_per_hour", builtin: "tweets_over_time", options: { interval: "hour" }, timeoutMs: 30_000, maxRows: 100_000 },
  ...extra,
];

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), "ujr-summary-"));
  dbFile = path.join(dir, "tidy.db");
  buildTidyDb(dbFile, FILES, RESOLVED);
  manifest = await runSummary({
    job: "fixtures",
    database: "tidy.db",
    baseDir: dir,
    outDir: path.join(dir, "out"),
    keep: 2,
    queries: specs([
      { name: "bad_syntax", sql: "SELEC nonsense FROM", timeoutMs: 5000, maxRows: 10 },
      { name: "missing_table", sql: "SELECT * FROM no_such_table", timeoutMs: 5000, maxRows: 10 },
      { name: "sneaky_write", sql: "DELETE FROM tweets", timeoutMs: 5000, maxRows: 10 },
      { name: "returning_write", sql: "INSERT INTO users (id, username) VALUES ('x', 'x') RETURNING id", timeoutMs: 5000, maxRows: 10 },
      { name: "by_lang", sql: "SELECT count(*) AS n FROM tweets WHERE lang = :lang AND directly_collected = 1", params: { lang: "en" }, timeoutMs: 5000, maxRows: 10 },
      { name: "slow", sql: "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x FROM c", timeoutMs: 300, maxRows: 100_000_000 },
    ]),
  });
}, 60_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("built-in reports on the fixture database", () => {
  it("tweets_over_time counts collected tweets per UTC day and hour", () => {
    const rows = rowsOf(manifest, "tweets_over_time");
    const expected = [...exp.days].map(([d, s]) => ({ period: d, tweets: s.size })).sort((a, b) => (a.period < b.period ? -1 : 1));
    expect(rows).toEqual(expected);
    const hours = rowsOf(manifest, "tweets_per_hour");
    expect(hours.reduce((n, r) => n + (r.tweets as number), 0)).toBe(exp.collected.size);
    expect(hours.every((r) => /^\d{4}-\d{2}-\d{2}T\d{2}:00:00Z$/.test(r.period as string))).toBe(true);
  });

  it("top_hashtags, top_mentions and languages match an independent count", () => {
    expect(rowsOf(manifest, "top_hashtags").map((r) => [r.hashtag, r.tweets])).toEqual(exp.tags);
    expect(rowsOf(manifest, "top_mentions").map((r) => [r.username, r.tweets])).toEqual(exp.mentions);
    expect(rowsOf(manifest, "languages").map((r) => [r.lang, r.tweets])).toEqual(exp.langs);
    expect(exp.tags.length).toBeGreaterThan(5);
  });

  it("top_urls and top_domains use the resolved URL where the collector resolved it", () => {
    const urls = rowsOf(manifest, "top_urls").map((r) => [r.url, r.tweets]);
    expect(urls).toEqual(exp.urls);
    expect(urls.some(([u]) => u === RESOLVED["https://t.co/C73mC2F5nY"])).toBe(true);
    const domains = rowsOf(manifest, "top_domains").map((r) => [r.domain, r.tweets]);
    expect(domains).toEqual(exp.domains);
    expect(domains.some(([d]) => d === "final.example.net")).toBe(true);
  });

  it("most_retweeted and most_quoted count references among collected tweets", () => {
    expect(rowsOf(manifest, "most_retweeted").map((r) => [r.tweet_id, r.retweets])).toEqual(
      // ties broken by the API's retweet_count, then id: compare as multisets of counts and the top entry
      expect.arrayContaining(exp.retweeted.map(([id, n]) => [id, n])),
    );
    expect(rowsOf(manifest, "most_retweeted")).toHaveLength(exp.retweeted.length);
    expect(rowsOf(manifest, "most_retweeted")[0]!.retweets).toBe(exp.retweeted[0]![1]);
    expect(rowsOf(manifest, "most_quoted").map((r) => [r.tweet_id, r.quotes])).toEqual(expect.arrayContaining(exp.quoted));
    expect(rowsOf(manifest, "most_quoted")).toHaveLength(exp.quoted.length);
  });

  it("new_tweets counts every collected tweet on the first run, none on the next", async () => {
    const first = rowsOf(manifest, "new_tweets")[0]!;
    expect(first.since).toBeNull();
    expect(first.new_tweets).toBe(exp.collected.size);
    expect(manifest.watermark).toBe(first.watermark);
    const second = await runSummary({ job: "fixtures", database: dbFile, baseDir: dir, outDir: path.join(dir, "out2"), keep: 5, since: manifest.watermark, queries: specs().filter((q) => q.builtin === "new_tweets") });
    expect(rowsOf(second, "new_tweets")[0]!.new_tweets).toBe(0);
  });

  it("collection_health reports files, pages, API errors and ingest errors", () => {
    const h = Object.fromEntries(rowsOf(manifest, "collection_health").map((r) => [r.metric, r.value]));
    expect(Number(h.files)).toBe(FILES.length);
    expect(Number(h.files_partial)).toBe(1); // streaming_output_with_error.jsonl: a truncated line
    expect(Number(h.pages)).toBe(exp.pages);
    expect(Number(h.api_errors)).toBe(exp.apiErrors);
    expect(Number(h.ingest_errors)).toBe(exp.bad);
    expect(Number(h.tweets_collected)).toBe(exp.collected.size);
    expect(Number(h.tweets_total)).toBe(exp.byId.size);
  });

  it("reports a bad query by name while the other queries still run", () => {
    const byName = new Map(manifest.queries.map((q) => [q.name, q]));
    expect(byName.get("bad_syntax")!.error!.code).toBe("UJR_SUMMARY_QUERY_FAILED");
    expect(byName.get("bad_syntax")!.error!.message).toContain('"bad_syntax"');
    expect(byName.get("missing_table")!.error!.message).toMatch(/no_such_table/);
    expect(byName.get("by_lang")!.error).toBeUndefined();
    expect(rowsOf(manifest, "by_lang")[0]!.n).toBe([...exp.collected].filter((id) => exp.byId.get(id)!.lang === "en").length);
    expect(manifest.errors).toBe(5);
    expect(manifest.ok).toBe(false);
    const html = readFileSync(manifest.report, "utf8");
    expect(html).toContain("bad_syntax");
    expect(html).toContain("UJR_SUMMARY_QUERY_FAILED");
  });

  it("refuses writes with a clear error and changes nothing", () => {
    const byName = new Map(manifest.queries.map((q) => [q.name, q]));
    expect(byName.get("sneaky_write")!.error!.code).toBe("UJR_SUMMARY_READ_ONLY");
    expect(byName.get("returning_write")!.error!.code).toBe("UJR_SUMMARY_READ_ONLY");
    expect(byName.get("sneaky_write")!.error!.message).toMatch(/read-only/);
    const db = new Database(dbFile, { readonly: true });
    expect((db.prepare("SELECT count(*) AS n FROM tweets").get() as { n: number }).n).toBe(exp.byId.size);
    expect((db.prepare("SELECT count(*) AS n FROM users WHERE id = 'x'").get() as { n: number }).n).toBe(0);
    db.close();
  });

  it("stops a query that runs past its timeout", () => {
    const slow = manifest.queries.find((q) => q.name === "slow")!;
    expect(slow.error!.code).toBe("UJR_SUMMARY_QUERY_TIMEOUT");
    expect(slow.durationMs).toBeLessThan(5000);
  });

  it("writes CSV, JSON, summary.json, report.html and points latest at the run", () => {
    const jobDir = path.join(dir, "out", "fixtures");
    expect(path.basename(manifest.dir)).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}Z$/);
    const stored = JSON.parse(readFileSync(path.join(manifest.dir, "summary.json"), "utf8")) as Manifest;
    expect(stored.queries.map((q) => q.name)).toEqual(manifest.queries.map((q) => q.name));
    expect(stored.database).toEqual({ dialect: "sqlite", location: dbFile });
    expect(stored.timeRange.firstTweetAt).toBe([...exp.collected].map((id) => exp.byId.get(id)!.created_at!).sort()[0]);
    const csv = readFileSync(path.join(manifest.dir, "top_hashtags.csv"), "utf8").split("\r\n");
    expect(csv[0]).toBe("hashtag,tweets");
    expect(csv[1]).toBe(`${exp.tags[0]![0]},${exp.tags[0]![1]}`);
    expect(JSON.parse(readFileSync(path.join(jobDir, "latest.json"), "utf8")).runId).toBe(manifest.runId);
    expect(readlinkSync(path.join(jobDir, "latest"))).toBe(manifest.runId);
    const html = readFileSync(manifest.report, "utf8");
    expect(html).not.toMatch(/<script|https?:\/\/(?!www\.w3\.org\/2000\/svg)[^"]*"(?=[^>]*(src|href)=)/i);
    expect(html).toContain("<svg");
    expect(statSync(manifest.report).size).toBeGreaterThan(1000);
  });

  it("times the run and its queries by running time: a wall clock that jumps an hour (a laptop waking, NTP) shows in the times, not in the durations", async () => {
    const q = specs().filter((s) => s.builtin === "languages" || s.builtin === "top_hashtags");
    let wall = Date.parse("2024-01-01T00:00:00Z");
    let running = 0;
    const m = await runSummary(
      { job: "jump", database: dbFile, baseDir: dir, outDir: path.join(dir, "jump"), keep: 2, queries: q },
      { now: () => (wall += 3_600_000), elapsed: () => (running += 5) },
    );
    expect(Date.parse(m.finishedAt) - Date.parse(m.startedAt)).toBeGreaterThanOrEqual(3_600_000);
    expect(m.durationMs).toBeGreaterThan(0);
    expect(m.durationMs).toBeLessThan(100);
    expect(m.queries.map((x) => x.durationMs)).toEqual([5, 5]);
  });

  it("logs the stored run under summaryRun, keeping the task's job and runId (one of each key in the JSON line)", async () => {
    const lines: string[] = [];
    const logger = createLogger({ level: "info", destination: { write: (chunk: string) => void lines.push(...chunk.split("\n").filter(Boolean)) } });
    const q = specs().filter((s) => s.builtin === "languages");
    const m = await runSummary({ job: "logged", database: dbFile, baseDir: dir, outDir: path.join(dir, "logged"), keep: 2, queries: q }, { logger: logger.child({ job: "logged", runId: "task-7" }) });
    const line = lines.find((l) => l.includes("stored ("))!;
    expect(JSON.parse(line)).toMatchObject({ job: "logged", runId: "task-7", summaryRun: m.runId, msg: `summary run ${m.runId} stored (1 queries, 0 failed)` });
    expect(line.match(/"runId":/g)).toHaveLength(1);
    expect(line.match(/"job":/g)).toHaveLength(1);
  });

  it("keeps only the last N runs", async () => {
    const out = path.join(dir, "retention");
    const q = specs().filter((s) => s.builtin === "languages");
    const ids: string[] = [];
    let t = Date.parse("2024-01-01T00:00:00Z");
    for (let i = 0; i < 4; i++) {
      const m = await runSummary({ job: "r", database: dbFile, baseDir: dir, outDir: out, keep: 2, queries: q }, { now: () => (t += 1000) });
      ids.push(m.runId);
    }
    expect(existsSync(path.join(out, "r", ids[0]!))).toBe(false);
    expect(existsSync(path.join(out, "r", ids[1]!))).toBe(false);
    expect(existsSync(path.join(out, "r", ids[2]!))).toBe(true);
    expect(readlinkSync(path.join(out, "r", "latest"))).toBe(ids[3]);
  });
});
