// The packed tables (hashtags, mentions, annotations, user_entities: TableDef.packedIn)
// read through their views as the tables of schema version 1 would have held them.
import Database from "better-sqlite3";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { pgSchema, postgresAvailable, tempDir } from "../__fixtures__/helpers.js";
import { sqliteDdlV1 } from "../ddl/sqlite.js";
import { SCHEMA_VERSION } from "../schema.js";
import type { TidyStore } from "./types.js";
import { PostgresTidyStore } from "./postgres.js";
import { SqliteTidyStore } from "./sqlite.js";

const available = await postgresAvailable();
const tmp = tempDir();
afterAll(() => tmp.cleanup());

/** A page with tweet 900 by user 7, its hashtags, context annotations and the user's description hashtags. */
function page(retrievedAt: string, tags: string[], contexts: [string, string][], bio: string): string {
  return JSON.stringify({
    data: [
      {
        id: "900",
        text: "t",
        author_id: "7",
        entities: { hashtags: tags.map((tag, i) => ({ start: i, end: i + 1, tag })), mentions: [{ start: 0, end: 1, username: "Q", id: "8" }] },
        context_annotations: contexts.map(([d, e]) => ({ domain: { id: d, name: `D${d}` }, entity: { id: e, name: `E${e} ${retrievedAt}` } })),
      },
    ],
    includes: {
      users: [{ id: "7", username: "u", description: bio, entities: { description: { hashtags: bio.split(" ").map((tag, i) => ({ start: 2 * i, end: 2 * i + 1, tag })) } } }],
    },
    __twarc: { retrieved_at: retrievedAt },
  });
}

/** Two files observing tweet 900 and user 7 three times, with entities that differ between observations. */
function files(): string[] {
  const a = join(tmp.dir, "a.jsonl");
  const b = join(tmp.dir, "b.jsonl");
  writeFileSync(
    a,
    [
      page("2024-01-02T00:00:00.000Z", ["a"], [["1", "1"], ["1", "1"]], "p q"),
      page("2024-01-01T00:00:00.000Z", ["x", "Ärger"], [["1", "2"], ["1", "1"]], "r"),
    ].join("\n") + "\n",
  );
  writeFileSync(b, page("2024-01-03T00:00:00.000Z", ["z", "y", "w"], [["3", "3"]], "p q s") + "\n");
  return [a, b];
}

const sorted = async (store: TidyStore, sql: string) => (await store.query<Record<string, unknown>>(sql)).map((r) => JSON.stringify(Object.values(r).map((v) => (typeof v === "bigint" ? Number(v) : v))));

/** What INSERT OR IGNORE into the tables of version 1 kept: per key, the first observation loaded. */
async function expectFirstObservationPerKey(store: TidyStore): Promise<void> {
  expect(await sorted(store, "SELECT tweet_id, CAST(position AS INTEGER), CAST(start_index AS INTEGER), CAST(end_index AS INTEGER), tag, tag_lower FROM hashtags ORDER BY position")).toEqual([
    JSON.stringify(["900", 0, 0, 1, "a", "a"]),
    JSON.stringify(["900", 1, 1, 2, "Ärger", "ärger"]),
    JSON.stringify(["900", 2, 2, 3, "w", "w"]),
  ]);
  expect(
    await sorted(store, "SELECT tweet_id, domain_id, entity_id, domain_name, entity_name FROM context_annotations ORDER BY domain_id, entity_id"),
  ).toEqual([
    JSON.stringify(["900", "1", "1", "D1", "E1 2024-01-02T00:00:00.000Z"]),
    JSON.stringify(["900", "1", "2", "D1", "E2 2024-01-01T00:00:00.000Z"]),
    JSON.stringify(["900", "3", "3", "D3", "E3 2024-01-03T00:00:00.000Z"]),
  ]);
  expect(await sorted(store, "SELECT field, kind, CAST(position AS INTEGER), CAST(start_index AS INTEGER), text FROM user_entities ORDER BY start_index, position, text")).toEqual([
    // "r" of the second observation has the key of "p" (same field, kind, start and position)
    JSON.stringify(["description", "hashtag", 0, 0, "p"]),
    JSON.stringify(["description", "hashtag", 1, 2, "q"]),
    JSON.stringify(["description", "hashtag", 2, 4, "s"]),
  ]);
  expect(await store.count("mentions")).toBe(1);
  expect(await store.count("tweets")).toBe(1);
}

describe("packed tables", () => {
  it("SQLite: re-observations merge by key, the first loaded row of a key stays (as INSERT OR IGNORE into a table)", async () => {
    const store = new SqliteTidyStore(join(tmp.dir, "merge.sqlite"));
    try {
      await store.ingestFiles(files());
      await expectFirstObservationPerKey(store);
    } finally {
      await store.close();
    }
  });

  it.skipIf(!available)("PostgreSQL: the same rows", async () => {
    const db = pgSchema();
    const store = new PostgresTidyStore(db.url);
    try {
      await store.ingestFiles(files());
      await expectFirstObservationPerKey(store);
    } finally {
      await store.close();
      await db.drop();
    }
  });

  it("SQLite: a version-1 database is migrated when opened: its rows move into the packed columns, read through the views", async () => {
    const file = join(tmp.dir, "v1.sqlite");
    const d = new Database(file);
    for (const sql of sqliteDdlV1()) d.exec(sql);
    d.prepare("INSERT INTO schema_migrations VALUES (1, 'initial tidy schema', '2024-01-01T00:00:00.000Z')").run();
    d.prepare("INSERT INTO tweets (id, directly_collected) VALUES ('900', 1), ('901', 0)").run();
    d.prepare("INSERT INTO users (id, directly_collected) VALUES ('7', 0)").run();
    const tag = d.prepare("INSERT INTO hashtags VALUES (?, ?, ?, ?, ?, ?)");
    tag.run("900", 1, 5, 7, "B", "b");
    tag.run("900", 0, 0, 2, "a", "a");
    d.prepare("INSERT INTO entity_annotations VALUES ('901', 0, 1, 4, 'Person', 'Ann', 0.5)").run();
    d.prepare("INSERT INTO user_entities VALUES ('7', 'url', 'url', 0, 0, 23, 'https://t.co/x', 'https://e.org', 'e.org')").run();
    d.close();

    const store = new SqliteTidyStore(file);
    try {
      expect(await store.query("SELECT max(version) AS v FROM schema_migrations")).toEqual([{ v: SCHEMA_VERSION }]);
      // version 3: the files' modification times (none recorded for files loaded before)
      expect(await store.query("SELECT name FROM pragma_table_info('source_files') WHERE name = 'mtime_us'")).toEqual([{ name: "mtime_us" }]);
      expect(await store.query("SELECT tweet_id, position, tag FROM hashtags ORDER BY position")).toEqual([
        { tweet_id: "900", position: 0, tag: "a" },
        { tweet_id: "900", position: 1, tag: "B" },
      ]);
      expect(await store.query("SELECT tweet_id, type, normalized_text, probability FROM entity_annotations")).toEqual([
        { tweet_id: "901", type: "Person", normalized_text: "Ann", probability: 0.5 },
      ]);
      expect(await store.query("SELECT user_id, expanded_url FROM user_entities")).toEqual([{ user_id: "7", expanded_url: "https://e.org" }]);
      expect(await store.query("SELECT type FROM sqlite_master WHERE name = 'hashtags'")).toEqual([{ type: "view" }]);
      expect(await store.count("tweet_with_author")).toBe(2);
    } finally {
      await store.close();
    }
  });
});
