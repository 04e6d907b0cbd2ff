import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { tempDir } from "../__fixtures__/helpers.js";
import { SqliteTidyStore } from "../store/sqlite.js";
import { KnownContent } from "./known-content.js";

const tmp = tempDir();
afterAll(() => tmp.cleanup());

describe("a parse thread's look-up of content loaded before", () => {
  it("knows the bytes of a loaded file and of a loaded member, not of a skipped member's or others'", async () => {
    const file = join(tmp.dir, "known.sqlite");
    await new SqliteTidyStore(file).close(); // the schema
    const db = new Database(file);
    db.prepare(`INSERT INTO "source_files" ("id", "path", "sha256", "size_bytes", "kind", "status", "loaded_at") VALUES (1, 'a.tar.gz', 'aaa', 1, 'archive', 'loaded', 'x')`).run();
    db.prepare(`INSERT INTO "archive_members" VALUES (1, 'raw/1.jsonl', 'mmm', 1, 'loaded', NULL), (1, 'raw/2.jsonl', 'sss', 1, 'skipped-duplicate', 'elsewhere')`).run();
    db.close();
    const known = new KnownContent();
    known.use(file);
    expect([known.has("aaa"), known.has("mmm"), known.has("sss"), known.has("zzz")]).toEqual([true, true, false, false]);
    known.close();
  });

  it("knows nothing (and does not throw) without a database, or of one that cannot be read", () => {
    const known = new KnownContent();
    expect(known.has("aaa")).toBe(false);
    known.use(join(tmp.dir, "missing.sqlite"));
    expect(known.has("aaa")).toBe(false);
    const bare = join(tmp.dir, "bare.sqlite");
    new Database(bare).close(); // no tables
    known.use(bare);
    expect(known.has("aaa")).toBe(false);
  });
});
