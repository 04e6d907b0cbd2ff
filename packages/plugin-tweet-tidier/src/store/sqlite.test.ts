import { copyFileSync, readFileSync, writeFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import Database from "better-sqlite3";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ALL_FIXTURES, fixture, tempDir, withIds } from "../__fixtures__/helpers.js";
import { SqliteTidyStore } from "./sqlite.js";
import { makeTarGz } from "../__fixtures__/tar.js";

let dir: string;
let cleanup: () => void;
let store: SqliteTidyStore;
beforeEach(() => {
  ({ dir, cleanup } = tempDir());
  store = new SqliteTidyStore(join(dir, "tidy.sqlite"));
});
afterEach(async () => {
  await store.close();
  cleanup();
});

describe("SQLite: real fixtures", () => {
  it("loads timeline-observatoryteam.jsonl with exact counts", async () => {
    const r = await store.ingestFile(fixture("timeline-observatoryteam.jsonl"));
    expect(r).toMatchObject({ status: "loaded", pages: 3, tweets: 218, errors: 0 });
    expect(await store.count("tweets")).toBe(381);
    expect(await store.count("users")).toBe(82);
    // 14 tweets are in both data and includes.tweets: they stay directly collected
    expect(await store.count("tweets", "directly_collected = 1")).toBe(218);
    expect(await store.count("api_errors")).toBe(11);
    expect(await store.count("media")).toBe(19);
    expect(await store.count("pages")).toBe(3);
    expect(await store.count("tweet_with_author")).toBe(381);
    const [page] = await store.query<{ request_url: string; retrieved_at: string; next_token: string }>(
      "SELECT request_url, retrieved_at, next_token FROM pages WHERE page_no = 1",
    );
    expect(page!.request_url).toMatch(/^https:\/\/api\.twitter\.com\/2\/users\/1022360009961656321\/tweets/);
    expect(page!.retrieved_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(page!.next_token).toBeTruthy();
    const [file] = await store.query<Record<string, unknown>>("SELECT * FROM source_files");
    expect(file).toMatchObject({ status: "loaded", kind: "pages", pages: 3, data_tweets: 218, api_errors: 11, ingest_errors: 0 });
    expect(file!.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it("loads brexit, withheld and the streaming file with exact counts", async () => {
    expect((await store.ingestFile(fixture("brexit.jsonl"))).status).toBe("loaded");
    expect(await store.count("tweets")).toBe(155);
    expect(await store.count("users")).toBe(177);
    expect(await store.count("polls")).toBe(1);
    expect(await store.count("poll_options")).toBeGreaterThan(1);
    expect(await store.count("tweet_polls")).toBeGreaterThanOrEqual(1);

    const s2 = new SqliteTidyStore(join(dir, "withheld.sqlite"));
    expect((await s2.ingestFile(fixture("withheld.jsonl"))).tweets).toBe(215);
    expect(await s2.count("tweets")).toBe(284);
    expect(await s2.count("users")).toBe(591);
    expect(await s2.count("tweets", "withheld_country_codes IS NOT NULL")).toBeGreaterThan(0);
    expect(await s2.count("places")).toBeGreaterThan(0);
    await s2.close();

    const s3 = new SqliteTidyStore(join(dir, "stream.sqlite"));
    const r = await s3.ingestFile(fixture("streaming_output_with_error.jsonl"));
    expect(r).toMatchObject({ status: "partial", pages: 7, tweets: 7, errors: 1 });
    expect(await s3.count("tweets", "directly_collected = 1")).toBe(7);
    const errs = await s3.query<{ line_no: number; code: string; path: string }>("SELECT * FROM ingest_errors");
    expect(errs).toEqual([expect.objectContaining({ line_no: 8, code: "UJR_TIDY_BAD_JSON" })]);
    expect(errs[0]!.path).toContain("streaming_output_with_error.jsonl");
    expect((await s3.query<{ status: string }>("SELECT status FROM source_files"))[0]!.status).toBe("partial");
    const [mr] = await s3.query<{ matching_rules: string }>("SELECT matching_rules FROM pages WHERE page_no = 1");
    expect(JSON.parse(mr!.matching_rules)).toHaveLength(1);
    await s3.close();
  });

  it("loads every fixture file", async () => {
    for (const f of ALL_FIXTURES) {
      const r = await store.ingestFile(fixture(f));
      expect(r.status, f).toBe(f.startsWith("streaming") ? "partial" : "loaded");
      expect(r.tweets, f).toBeGreaterThan(0);
    }
    expect(await store.count("source_files")).toBe(ALL_FIXTURES.length);
    // edited tweet, verified_type, cashtags, unwound urls, geo
    expect(await store.count("tweets", "edit_history_tweet_ids IS NOT NULL AND is_edit_eligible IS NOT NULL")).toBeGreaterThan(0);
    expect(await store.count("users", "verified_type IS NOT NULL")).toBeGreaterThan(0);
    expect(await store.count("cashtags")).toBeGreaterThan(0);
    expect(await store.count("urls", "unwound_url IS NOT NULL")).toBeGreaterThan(0);
    expect(await store.count("tweets", "geo_place_id IS NOT NULL")).toBeGreaterThan(0);
    expect(await store.count("hashtags", "tag_lower = lower(tag)")).toBe(await store.count("hashtags"));
    expect(await store.count("mentions", "user_id IS NOT NULL")).toBeGreaterThan(0);
    expect(await store.count("context_annotations")).toBeGreaterThan(0);
    expect(await store.count("entity_annotations")).toBeGreaterThan(0);
    expect(await store.count("user_entities")).toBeGreaterThan(0);
    expect(await store.count("tweet_references", "reference_type = 'retweeted'")).toBeGreaterThan(0);
    expect(await store.count("url_with_domain", "domain IS NOT NULL AND domain <> ''")).toBe(await store.count("urls"));
  });
});

describe("SQLite: exactly once", () => {
  it("re-loading the same file is a no-op; the same content under another path is skipped", async () => {
    const f = fixture("brexit.jsonl");
    expect((await store.ingestFile(f)).status).toBe("loaded");
    const before = await store.count("tweets");
    const again = await store.ingestFile(f);
    expect(again.status).toBe("already-loaded");
    const copy = join(dir, "renamed.jsonl");
    copyFileSync(f, copy);
    const dup = await store.ingestFile(copy);
    expect(dup).toMatchObject({ status: "skipped-duplicate", loadedAs: f });
    expect(await store.count("tweets")).toBe(before);
    expect(await store.count("source_files")).toBe(1);
    expect(await store.count("pages")).toBe(1);
  });

  it("a file that fails mid-way in a shared commit is rolled back alone (its savepoint): the files before and after it stay whole", async () => {
    const lines = ["brexit.jsonl", "timeline-observatoryteam.jsonl"].flatMap((f) => readFileSync(fixture(f), "utf8").trimEnd().split("\n"));
    const [a, b, c] = [1, 2, 3].map((k) => {
      const p = join(dir, `group-${k}.jsonl`);
      // the same tweets and users in every file (their pages change rows the others wrote), and new ones
      writeFileSync(p, lines.map((l, i) => (i % 2 === 0 ? l : withIds(k, l))).join("\n") + "\n");
      return p;
    });
    let file = 0;
    const out = await store.ingestFiles([a!, b!, c!], {
      // the second file fails after some of its pages were written into the shared transaction
      onPage: async (n) => {
        if (n === 1) file++;
        if (file === 2 && n === 3) throw new Error("the second file fails here");
      },
    });
    expect(Object.fromEntries(out.map((o) => [o.path, o.result?.status ?? (o.error as Error).message]))).toEqual({
      [a!]: "loaded",
      [b!]: "the second file fails here",
      [c!]: "loaded",
    });
    const ref = new SqliteTidyStore(join(dir, "ref.sqlite"));
    try {
      await ref.ingestFiles([a!, c!]);
      const all = (st: SqliteTidyStore, t: string) => st.query(`SELECT * FROM "${t}" ORDER BY 1, 2`);
      for (const t of ["tweets", "users", "urls", "tweet_references", "pages", "hashtags", "context_annotations"])
        expect((await all(store, t)).map((r) => JSON.stringify(Object.values(r).filter((v) => typeof v !== "number" || v < 1e12))), t).toEqual(
          (await all(ref, t)).map((r) => JSON.stringify(Object.values(r).filter((v) => typeof v !== "number" || v < 1e12))),
        );
      expect((await store.query<{ path: string }>("SELECT path FROM source_files ORDER BY path")).map((r) => r.path)).toEqual([a, c]);
    } finally {
      await ref.close();
    }
  });

  it("a truncated or malformed line: good pages load, the bad line is recorded, the file is partial", async () => {
    const lines = readFileSync(fixture("timeline-observatoryteam.jsonl"), "utf8").trimEnd().split("\n");
    const bad = join(dir, "bad.jsonl");
    writeFileSync(bad, [lines[0], lines[1]!.slice(0, 5000), "[1,2,3]", lines[2]].join("\n") + "\n");
    const r = await store.ingestFile(bad);
    expect(r).toMatchObject({ status: "partial", pages: 2, errors: 2 });
    const errs = await store.query<{ line_no: number; code: string }>("SELECT line_no, code FROM ingest_errors ORDER BY line_no");
    expect(errs).toEqual([
      { line_no: 2, code: "UJR_TIDY_BAD_JSON" },
      { line_no: 3, code: "UJR_TIDY_NOT_A_PAGE" },
    ]);
    expect(await store.count("pages")).toBe(2);
  });

  it("keeps the latest metrics of a tweet seen several times, with first/last seen", async () => {
    const page = (retrievedAt: string, likes: number, where: "data" | "includes") => {
      const t = { id: "42", text: "hi", author_id: "7", public_metrics: { like_count: likes, retweet_count: 1 } };
      const body = where === "data" ? { data: [t] } : { data: [], includes: { tweets: [t] } };
      return JSON.stringify({ ...body, __twarc: { url: "https://api.twitter.com/2/tweets", retrieved_at: retrievedAt } });
    };
    writeFileSync(join(dir, "a.jsonl"), page("2024-01-02T00:00:00+00:00", 20, "includes") + "\n");
    writeFileSync(join(dir, "b.jsonl"), page("2024-01-01T00:00:00+00:00", 10, "data") + "\n");
    writeFileSync(join(dir, "c.jsonl"), page("2024-01-03T00:00:00+00:00", 30, "includes").replace('"text":"hi",', "") + "\n");
    await store.ingestFile(join(dir, "a.jsonl"));
    await store.ingestFile(join(dir, "b.jsonl")); // older: does not overwrite metrics
    let [t] = await store.query<Record<string, unknown>>("SELECT * FROM tweets");
    expect(t).toMatchObject({
      like_count: 20,
      directly_collected: 1,
      first_seen_at: "2024-01-01T00:00:00.000Z",
      last_seen_at: "2024-01-02T00:00:00.000Z",
      retrieved_at: "2024-01-02T00:00:00.000Z",
    });
    await store.ingestFile(join(dir, "c.jsonl")); // newer, lacks text: metrics updated, text kept
    [t] = await store.query<Record<string, unknown>>("SELECT * FROM tweets");
    expect(t).toMatchObject({ like_count: 30, text: "hi", directly_collected: 1, last_seen_at: "2024-01-03T00:00:00.000Z" });
  });

  it("objects lacking fields load, unknown fields are kept in extra", async () => {
    const p = {
      data: [{ id: "1", text: "x", brand_new_field: { a: 1 }, public_metrics: { like_count: 1, future_count: 5 } }, { id: "2" }],
      includes: { users: [{ id: "9", username: "u" }, { id: "10", username: "v", name: "V", shiny: true }], topics: [{ id: "t" }] },
      surprise: 1,
    };
    writeFileSync(join(dir, "min.jsonl"), JSON.stringify(p) + "\n");
    const r = await store.ingestFile(join(dir, "min.jsonl"));
    expect(r).toMatchObject({ status: "loaded", tweets: 2 });
    const [t] = await store.query<{ extra: string }>("SELECT extra FROM tweets WHERE id = '1'");
    expect(JSON.parse(t!.extra)).toEqual({ brand_new_field: { a: 1 }, public_metrics: { future_count: 5 } });
    const [u] = await store.query<{ extra: string }>("SELECT extra FROM users WHERE id = '10'");
    expect(JSON.parse(u!.extra)).toEqual({ shiny: true });
    const [pg] = await store.query<{ extra: string; retrieved_at: string | null }>("SELECT extra, retrieved_at FROM pages");
    expect(JSON.parse(pg!.extra)).toEqual({ surprise: 1, includes: { topics: [{ id: "t" }] } });
    expect(pg!.retrieved_at).toBeNull();
  });
});

describe("SQLite: input formats", () => {
  it("loads .jsonl.gz", async () => {
    const gz = join(dir, "brexit.jsonl.gz");
    writeFileSync(gz, gzipSync(readFileSync(fixture("brexit.jsonl"))));
    expect(await store.ingestFile(gz)).toMatchObject({ status: "loaded", tweets: 100 });
    expect(await store.count("tweets")).toBe(155);
  });

  it("a truncated .gz loads what it can and is marked partial", async () => {
    const gz = join(dir, "cut.jsonl.gz");
    const data = Buffer.concat([readFileSync(fixture("brexit.jsonl")), readFileSync(fixture("withheld.jsonl"))]);
    const z = gzipSync(data);
    writeFileSync(gz, z.subarray(0, Math.floor(z.length * 0.8)));
    const r = await store.ingestFile(gz);
    expect(r.status).toBe("partial");
    expect(r.pages).toBeGreaterThanOrEqual(1);
    expect(await store.count("ingest_errors", "code = 'UJR_TIDY_READ_FAILED' OR code = 'UJR_TIDY_BAD_JSON'")).toBeGreaterThan(0);
  });

  it("loads the collector's .tar.gz archives with URL sidecars joined to urls", async () => {
    const brexit = readFileSync(fixture("brexit.jsonl"));
    const first = JSON.parse(brexit.toString("utf8").split("\n")[0]!);
    const withUrl = first.data.find((t: any) => t.entities?.urls?.length);
    const u = withUrl.entities.urls[0];
    const sidecar =
      JSON.stringify({ url: u.expanded_url, expanded_url: u.expanded_url, final_url: "https://Final.Example.org:8443/page?x=1", status: 200, hops: 2, error: null }) +
      "\n";
    const tgz = join(dir, "archive-1.tar.gz");
    writeFileSync(
      tgz,
      await makeTarGz([
        { name: "raw/20240101-1.jsonl", data: brexit },
        { name: "raw/20240101-1.jsonl.urls.jsonl", data: Buffer.from(sidecar) },
        { name: "raw/20240101-2.jsonl", data: readFileSync(fixture("geo_tweets.jsonl")) },
        { name: "manifest.json", data: Buffer.from('{"files":[]}') },
      ]),
    );
    const r = await store.ingestFile(tgz);
    expect(r).toMatchObject({ status: "loaded", pages: 3, tweets: 102 });
    expect(await store.count("resolved_urls")).toBe(1);
    const rows = await store.query<{ final_url: string; domain: string; effective_url: string; entry: string }>(
      "SELECT final_url, domain, effective_url FROM url_with_domain WHERE final_url IS NOT NULL",
    );
    expect(rows.length).toBeGreaterThan(0);
    expect(rows[0]).toMatchObject({ final_url: "https://Final.Example.org:8443/page?x=1", domain: "final.example.org" });
    expect(await store.count("pages", "entry = 'raw/20240101-2.jsonl'")).toBe(2);
    expect(await store.count("source_files", "kind = 'archive'")).toBe(1);
  });

  it("a sidecar loaded after its raw file fills urls.final_url", async () => {
    const raw = join(dir, "x.jsonl");
    copyFileSync(fixture("many_urls.jsonl"), raw);
    await store.ingestFile(raw);
    const [u] = await store.query<{ url: string }>("SELECT url FROM urls LIMIT 1");
    writeFileSync(join(dir, "x.jsonl.urls.jsonl"), JSON.stringify({ url: u!.url, final_url: "https://resolved.example/a", status: 200, hops: 1 }) + "\n");
    const r = await store.ingestFile(join(dir, "x.jsonl.urls.jsonl"));
    expect(r.status).toBe("loaded");
    expect(await store.count("urls", "final_url = 'https://resolved.example/a'")).toBe(1);
    expect(await store.count("url_with_domain", "domain = 'resolved.example'")).toBe(1);
  });
});

describe("SQLite: a database another connection keeps locked", () => {
  it("says so, and what to do, when the lock outlasts the busy timeout: opening, and claiming a file", async () => {
    const file = join(dir, "locked.sqlite");
    const raw = join(dir, "a.jsonl");
    writeFileSync(raw, readFileSync(fixture("two_tweets.jsonl")));
    const open = new SqliteTidyStore(file, { busyTimeoutMs: 50 });
    // another writer (a second run, or a database browser's unsaved edits) holds the write lock
    const other = new Database(file);
    other.exec("BEGIN IMMEDIATE");
    try {
      const cause = "stayed locked by another connection for 50 ms: Another connection held the SQLite database's write lock for the whole busy timeout";
      let thrown: unknown;
      try {
        new SqliteTidyStore(file, { busyTimeoutMs: 50 });
      } catch (e) {
        thrown = e;
      }
      expect(thrown).toMatchObject({ code: "UJR_TIDY_DATABASE_BUSY", message: expect.stringContaining(`${file} ${cause}`) });
      const [o] = await open.ingestFiles([raw]);
      expect(o!.error).toMatchObject({ code: "UJR_TIDY_DATABASE_BUSY", message: expect.stringContaining(`${file} ${cause}`) });
    } finally {
      other.exec("ROLLBACK");
      other.close();
    }
    // the lock gone, the file loads
    expect(await open.ingestFile(raw)).toMatchObject({ status: "loaded" });
    await open.close();
  });
});

describe("SQLite: a database setting that is not a database", () => {
  it("says the file is not a SQLite database, and what to do", () => {
    const notes = join(dir, "notes.txt");
    writeFileSync(notes, "not a database, but notes taken during the collection\n");
    let thrown: unknown;
    try {
      new SqliteTidyStore(notes);
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toMatchObject({
      code: "UJR_TIDY_DATABASE",
      message: expect.stringContaining(`${notes} is not a SQLite database (its first bytes are not SQLite's header): point \`database\` at a new file or at a tidy database`),
    });
    expect(readFileSync(notes, "utf8")).toBe("not a database, but notes taken during the collection\n");
  });
});
