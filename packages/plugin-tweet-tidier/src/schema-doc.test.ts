import { readFileSync } from "node:fs";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { sqliteDdl } from "./ddl/sqlite.js";
import { insertColumns, tables, views } from "./schema.js";
import { renderSchemaDoc } from "./schema-doc.js";

describe("schema documentation", () => {
  it("docs/schema.md is generated from src/schema.ts and up to date (run `pnpm --filter @ujr/plugin-tweet-tidier docs:schema`)", () => {
    const committed = readFileSync(new URL("../docs/schema.md", import.meta.url), "utf8");
    expect(committed).toBe(renderSchemaDoc());
  });

  it("documents every table, column and view", () => {
    const doc = renderSchemaDoc();
    for (const t of tables) {
      expect(doc).toContain(`### ${t.name}`);
      for (const c of t.columns) expect(doc).toContain(`| \`${c.name}\` |`);
    }
    for (const v of views) expect(doc).toContain(`### ${v.name}`);
  });

  it("the SQLite DDL creates exactly the tables and view columns described", () => {
    const db = new Database(":memory:");
    for (const s of sqliteDdl()) db.exec(s);
    for (const t of tables) {
      const cols = (db.prepare(`PRAGMA table_info("${t.name}")`).all() as { name: string }[]).map((r) => r.name);
      expect(cols).toEqual(t.columns.map((c) => c.name));
      expect(insertColumns(t).length).toBeGreaterThan(0);
    }
    const v = (db.prepare(`PRAGMA table_info("url_with_domain")`).all() as { name: string }[]).map((r) => r.name);
    expect(v).toEqual([...tables.find((t) => t.name === "urls")!.columns.map((c) => c.name).filter((c) => c !== "final_url"), "final_url", "effective_url", "domain"]);
    db.close();
  });
});
