import { copyFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ALL_FIXTURES, fixture, pgSchema, postgresAvailable, tempDir, withIds } from "../__fixtures__/helpers.js";
import { PostgresTidyStore } from "./postgres.js";
import { SqliteTidyStore } from "./sqlite.js";
import { tidyFiles } from "../tidy-files.js";
import { tables, views } from "../schema.js";

const available = await postgresAvailable();
const tmp = tempDir();
afterAll(() => tmp.cleanup());

// Every data table and view of the documented schema.
const TABLES = [...tables.map((table) => table.name).filter((name) => name !== "schema_migrations"), ...views.map((view) => view.name)];

describe.skipIf(!available)("PostgreSQL store (real server)", () => {
  const db = pgSchema();
  let store: PostgresTidyStore;
  beforeAll(async () => {
    store = new PostgresTidyStore(db.url);
    await store.migrate();
  });
  afterAll(async () => {
    await store?.close();
    await db.drop();
  });

  it("gives the same counts as SQLite for every fixture (loaded in parallel)", async () => {
    const files = ALL_FIXTURES.map(fixture);
    const results = await tidyFiles({ database: db.url, files, concurrency: 4 });
    expect(results.map((r) => r.status).sort()).toEqual([...Array(10).fill("loaded"), "partial"].sort());
    const lite = new SqliteTidyStore(join(tmp.dir, "parity.sqlite"));
    for (const f of files) await lite.ingestFile(f);
    for (const t of TABLES) expect(await store.count(t), t).toBe(await lite.count(t));
    expect(await store.count("tweets", "directly_collected")).toBe(await lite.count("tweets", "directly_collected = 1"));
    const q = "SELECT domain, count(*) AS n FROM url_with_domain GROUP BY domain ORDER BY domain";
    const a = (await store.query<{ domain: string; n: unknown }>(q)).map((r) => [r.domain, Number(r.n)]);
    const b = (await lite.query<{ domain: string; n: unknown }>(q)).map((r) => [r.domain, Number(r.n)]);
    expect(a).toEqual(b);
    const m = "SELECT id, like_count, retweet_count, text FROM tweets ORDER BY id";
    expect((await store.query<Record<string, unknown>>(m)).map((r) => ({ ...r, like_count: r.like_count == null ? null : Number(r.like_count), retweet_count: r.retweet_count == null ? null : Number(r.retweet_count) }))).toEqual(
      await lite.query(m),
    );
    await lite.close();
  });

  it("text with backslashes, tabs, CR and LF (and a literal \\N) is stored exactly, as on SQLite", async () => {
    const s = pgSchema();
    const st = new PostgresTidyStore(s.url);
    const lite = new SqliteTidyStore(join(tmp.dir, "escapes.sqlite"));
    try {
      const page = JSON.parse(readFileSync(fixture("brexit.jsonl"), "utf8").split("\n")[0]!);
      page.data[0].text = "a\\b\tc\r\nd \\N e\\\\";
      page.data[1].text = "\\N";
      const f = join(tmp.dir, "escapes.jsonl");
      writeFileSync(f, JSON.stringify(page) + "\n");
      await st.ingestFile(f);
      await lite.ingestFile(f);
      const m = "SELECT id, text FROM tweets ORDER BY id";
      expect(await st.query(m)).toEqual(await lite.query(m));
      expect((await st.query<{ text: string }>(m)).map((r) => r.text)).toContain("a\\b\tc\r\nd \\N e\\\\");
    } finally {
      await st.close();
      await lite.close();
      await s.drop();
    }
  });

  it.each([
    ["in the middle of the file (rows sent inside its savepoint, with the earlier file's)", 10],
    ["at the group's merge (the files are tried again one by one)", 0],
  ])("a file that fails in a shared transaction, %s, fails alone: the files before and after it stay whole", async (_, badAt) => {
    const brexit = ["brexit.jsonl", "timeline-observatoryteam.jsonl"].flatMap((f) => readFileSync(fixture(f), "utf8").trimEnd().split("\n"));
    const a = join(tmp.dir, "group-a.jsonl");
    const b = join(tmp.dir, "group-b.jsonl");
    const c = join(tmp.dir, "group-c.jsonl");
    writeFileSync(a, withIds(1, brexit[0]!) + "\n");
    // b: enough rows that some are sent (with a's) before its bad page, which PostgreSQL refuses (a NUL in a text)
    const bad = JSON.parse(withIds(2, brexit[1]!));
    bad.data[0].text = "nul \u0000 here";
    const pagesB = Array.from({ length: 30 }, (_, i) => (i === badAt ? JSON.stringify(bad) : withIds(300 + i, brexit[i % brexit.length]!)));
    writeFileSync(b, pagesB.join("\n") + "\n");
    writeFileSync(c, withIds(4, brexit[2]!) + "\n");
    const s1 = pgSchema();
    const s2 = pgSchema();
    // rows are sent every ~1 M characters of COPY text (a page is ~250,000): a's rows with b's, inside its savepoint
    const grouped = new PostgresTidyStore(s1.url, { flushChars: 1_000_000 });
    const ref = new PostgresTidyStore(s2.url);
    try {
      const out = await grouped.ingestFiles([a, b, c]);
      expect(Object.fromEntries(out.map((o) => [o.path, o.result?.status ?? (o.error as Error).message.slice(0, 40)]))).toEqual({
        [a]: "loaded",
        [b]: expect.stringContaining("invalid byte sequence"),
        [c]: "loaded",
      });
      await ref.ingestFiles([a, c]);
      for (const t of TABLES.filter((x) => x !== "source_files" && x !== "ingest_errors")) expect(await grouped.count(t), t).toBe(await ref.count(t));
      expect(await grouped.count("tweets")).toBeGreaterThan(150);
      expect((await grouped.query<{ path: string }>("SELECT path FROM source_files ORDER BY path")).map((r) => r.path)).toEqual([a, c]);
    } finally {
      await grouped.close();
      await ref.close();
      await s1.drop();
      await s2.drop();
    }
  });

  it("a file whose source_files row is refused (its claim fails inside its savepoint) fails alone in a shared transaction; paths with quotes and backslashes are stored as they are", async () => {
    const page = readFileSync(fixture("brexit.jsonl"), "utf8").trimEnd();
    const a = join(tmp.dir, "it's a\\b.jsonl");
    const b = join(tmp.dir, "refused.jsonl");
    const c = join(tmp.dir, 'c "quoted".jsonl');
    writeFileSync(a, withIds(1, page) + "\n");
    writeFileSync(b, withIds(2, page) + "\n");
    writeFileSync(c, withIds(3, page) + "\n");
    const s = pgSchema();
    const st = new PostgresTidyStore(s.url);
    try {
      await st.migrate();
      await st.query(
        `CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF NEW.path LIKE '%refused%' THEN RAISE EXCEPTION 'refused by a trigger'; END IF; RETURN NEW; END $$;
         CREATE TRIGGER refuse BEFORE INSERT ON source_files FOR EACH ROW EXECUTE FUNCTION refuse()`,
      );
      const out = await st.ingestFiles([a, b, c]);
      // a failed file is reported at once, the loaded ones once their group is committed
      expect(Object.fromEntries(out.map((o) => [o.path, o.result?.status ?? (o.error as Error).message]))).toEqual({
        [a]: "loaded",
        [b]: "refused by a trigger",
        [c]: "loaded",
      });
      expect(await st.query("SELECT path, status, pages::int AS pages FROM source_files ORDER BY id")).toEqual([
        { path: a, status: "loaded", pages: 1 },
        { path: c, status: "loaded", pages: 1 },
      ]);
      expect(await st.count("pages")).toBe(2);
    } finally {
      await st.close();
      await s.drop();
    }
  });

  it("exact counts for timeline-observatoryteam.jsonl, idempotent, duplicate content skipped", async () => {
    const s = pgSchema();
    const st = new PostgresTidyStore(s.url);
    try {
      const f = fixture("timeline-observatoryteam.jsonl");
      expect(await st.ingestFile(f)).toMatchObject({ status: "loaded", pages: 3, tweets: 218 });
      expect(await st.count("tweets")).toBe(381);
      expect(await st.count("users")).toBe(82);
      expect(await st.count("tweets", "directly_collected")).toBe(218);
      expect(await st.count("api_errors")).toBe(11);
      expect((await st.ingestFile(f)).status).toBe("already-loaded");
      const copy = join(tmp.dir, "renamed-timeline.jsonl");
      copyFileSync(f, copy);
      expect((await st.ingestFile(copy)).status).toBe("skipped-duplicate");
      expect(await st.count("tweets")).toBe(381);
      expect(await st.count("pages")).toBe(3);
    } finally {
      await st.close();
      await s.drop();
    }
  });

  it("the same file claimed by several loaders at once is loaded once, without deadlocks", async () => {
    const s = pgSchema();
    const stores = [0, 1, 2, 3].map(() => new PostgresTidyStore(s.url));
    try {
      await stores[0]!.migrate();
      // overlapping content (the same tweets and users) in different files, loaded concurrently
      const a = join(tmp.dir, "overlap-a.jsonl");
      const b = join(tmp.dir, "overlap-b.jsonl");
      const w = readFileSync(fixture("withheld.jsonl"), "utf8").trimEnd().split("\n");
      writeFileSync(a, w.join("\n") + "\n");
      writeFileSync(b, [...w].reverse().join("\n") + "\n");
      const results = await Promise.all([
        stores[0]!.ingestFile(a),
        stores[1]!.ingestFile(b),
        stores[2]!.ingestFile(a),
        stores[3]!.ingestFile(b),
      ]);
      expect(results.map((r) => r.status).sort()).toEqual(["already-loaded", "already-loaded", "loaded", "loaded"]);
      expect(await stores[0]!.count("tweets")).toBe(284);
      expect(await stores[0]!.count("users")).toBe(591);
      expect(await stores[0]!.count("source_files")).toBe(2);
    } finally {
      for (const st of stores) await st.close();
      await s.drop();
    }
  });
});

describe("PostgreSQL store: a server it cannot reach", () => {
  it("names the server (never the password) and the driver's reason", async () => {
    const store = new PostgresTidyStore("postgres://alice:s3cret-pw@127.0.0.1:1/test?schema=x");
    const file = join(tmp.dir, "unreachable.jsonl");
    writeFileSync(file, readFileSync(fixture("two_tweets.jsonl")));
    try {
      const err = await store.ingestFile(file).then(
        () => expect.unreachable("no server: it throws"),
        (e: unknown) => e as { code: string; message: string },
      );
      expect(err.code).toBe("UJR_TIDY_DATABASE");
      expect(err.message).toContain("cannot connect to PostgreSQL at postgres://alice@127.0.0.1:1/test (connect ECONNREFUSED 127.0.0.1:1)");
      expect(err.message).not.toContain("s3cret-pw");
    } finally {
      await store.close();
    }
  });
});
