// Re-observations merge the same on both backends, whatever the history: SQLite upserts one
// row at a time; PostgreSQL stages a group's rows and merges them per table, a key's first
// observation in one statement and its later ones round by round. Over random histories of
// files observing a few tweets and users many times (differing values, retrieved_at ties,
// missing times, entities that change), both must end with the same rows.
//   UJR_PROPERTY_TIDY_RUNS (default 40), UJR_PROPERTY_SEED
import fc from "fast-check";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it, onTestFinished } from "vitest";
import { pgSchema, postgresAvailable, tempDir } from "../__fixtures__/helpers.js";
import { tables } from "../schema.js";
import { PostgresTidyStore } from "./postgres.js";
import { SqliteTidyStore } from "./sqlite.js";
import type { TidyStore } from "./types.js";

const available = await postgresAvailable();
const tmp = tempDir();
afterAll(() => tmp.cleanup());

const RUNS = Number(process.env.UJR_PROPERTY_TIDY_RUNS ?? 40);
const SEED = process.env.UJR_PROPERTY_SEED === undefined ? undefined : Number(process.env.UJR_PROPERTY_SEED);

const userObs = fc.record({
  id: fc.constantFrom("7", "8"),
  username: fc.constantFrom("ann", "bob", "cy"),
  followers: fc.option(fc.nat(50), { nil: undefined }),
  tags: fc.subarray(["x", "y", "z"]),
});
const tweetObs = fc.record({
  id: fc.constantFrom("100", "101", "102"),
  text: fc.constantFrom("a", "b", "c\td"),
  author: fc.constantFrom("7", "8"),
  likes: fc.option(fc.nat(50), { nil: undefined }),
  tags: fc.subarray(["p", "q", "r"]),
  url: fc.option(fc.constantFrom("https://t.co/1", "https://t.co/2"), { nil: undefined }),
});
const pageObs = fc.record({
  // few distinct times: ties and out-of-order observations are common; undefined: no __twarc
  at: fc.option(fc.constantFrom("2021-01-01T00:00:01.000Z", "2021-01-01T00:00:02.000Z", "2021-01-01T00:00:03.000Z"), { nil: undefined }),
  tweets: fc.array(tweetObs, { minLength: 0, maxLength: 3 }),
  users: fc.array(userObs, { minLength: 0, maxLength: 3 }),
});
const history = fc.array(fc.array(pageObs, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 5 });

type PageObs = typeof pageObs extends fc.Arbitrary<infer T> ? T : never;

function line(p: PageObs, salt: string): string {
  return JSON.stringify({
    data: p.tweets.map((t) => ({
      id: t.id,
      text: t.text,
      author_id: t.author,
      ...(t.likes === undefined ? {} : { public_metrics: { like_count: t.likes } }),
      entities: {
        hashtags: t.tags.map((tag, i) => ({ start: i, end: i + 1, tag })),
        ...(t.url === undefined ? {} : { urls: [{ start: 0, end: 1, url: t.url, expanded_url: `${t.url}/x` }] }),
      },
    })),
    includes: {
      users: p.users.map((u) => ({
        id: u.id,
        username: u.username,
        ...(u.followers === undefined ? {} : { public_metrics: { followers_count: u.followers } }),
        entities: { description: { hashtags: u.tags.map((tag, i) => ({ start: i, end: i + 1, tag })) } },
      })),
    },
    meta: { result_count: p.tweets.length, salt },
    ...(p.at === undefined ? {} : { __twarc: { retrieved_at: p.at } }),
  });
}

const iso = (v: unknown) => (v === null || v === undefined ? null : new Date(v as string | Date).toISOString());

/** The merged content a user reads, in a form both backends print alike. */
async function content(s: TidyStore) {
  const tweets = await s.query<Record<string, unknown>>(
    "SELECT id, text, author_id, like_count, directly_collected, retrieved_at, first_seen_at, last_seen_at, page_no FROM tweets ORDER BY id",
  );
  const users = await s.query<Record<string, unknown>>(
    "SELECT id, username, followers_count, directly_collected, retrieved_at, first_seen_at, last_seen_at FROM users ORDER BY id",
  );
  const hashtags = await s.query("SELECT tweet_id, position, tag FROM hashtags ORDER BY tweet_id, position");
  const userEntities = await s.query("SELECT user_id, field, kind, start_index, position, text FROM user_entities ORDER BY 1, 2, 3, 4, 5");
  const urls = await s.query("SELECT tweet_id, position, url, expanded_url FROM urls ORDER BY tweet_id, position");
  const times = (r: Record<string, unknown>) => ({
    ...r,
    directly_collected: Boolean(r.directly_collected),
    like_count: r.like_count === undefined ? undefined : r.like_count === null ? null : Number(r.like_count),
    followers_count: r.followers_count === undefined ? undefined : r.followers_count === null ? null : Number(r.followers_count),
    page_no: r.page_no === undefined ? undefined : r.page_no === null ? null : Number(r.page_no),
    retrieved_at: iso(r.retrieved_at),
    first_seen_at: iso(r.first_seen_at),
    last_seen_at: iso(r.last_seen_at),
  });
  const nums = (rows: Record<string, unknown>[]) =>
    rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === "string" && /^\d+$/.test(v) && k !== "tag" ? Number(v) : v])));
  return { tweets: tweets.map(times), users: users.map(times), hashtags: nums(hashtags), userEntities: nums(userEntities), urls: nums(urls) };
}

describe.runIf(available)("merging re-observations (property, PostgreSQL against SQLite)", () => {
  it("any history of files observing the same tweets and users ends with the same rows on both backends", async () => {
    let run = 0;
    const s = pgSchema();
    const pgStore = new PostgresTidyStore(s.url);
    const emptied = tables
      .filter((t) => t.packedIn === undefined && t.name !== "schema_migrations")
      .map((t) => t.name);
    onTestFinished(async () => {
      await pgStore.close();
      await s.drop();
    });
    await fc.assert(
      fc.asyncProperty(history, fc.boolean(), async (files, oneGroup) => {
        const k = run++;
        const paths = files.map((pages, i) => {
          const p = join(tmp.dir, `h${k}-${i}.jsonl`);
          writeFileSync(p, pages.map((pg, j) => line(pg, `${k}-${i}-${j}`)).join("\n") + "\n");
          return p;
        });
        const lite = new SqliteTidyStore(join(tmp.dir, `h${k}.sqlite`));
        try {
          // a fresh PostgreSQL schema costs a second, TRUNCATE a few hundred ms: one schema, emptied by DELETE
          for (const t of emptied) await pgStore.query(`DELETE FROM "${t}"`);
          await lite.ingestFiles(paths);
          // one group (every later observation merged in rounds) or a commit per file
          if (oneGroup) await pgStore.ingestFiles(paths);
          else for (const p of paths) await pgStore.ingestFiles([p]);
          expect(await content(pgStore)).toEqual(await content(lite));
        } finally {
          await lite.close();
        }
      }),
      { numRuns: RUNS, seed: SEED },
    );
  }, Math.max(120_000, RUNS * 1_000));
});
