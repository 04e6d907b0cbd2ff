import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ALL_FIXTURES, fixture } from "./__fixtures__/helpers.js";
import { PAGE_TABLES, parsePage, parseSidecarLine } from "./parse-page.js";
import { insertColumns, table } from "./schema.js";

const ctx = { fileId: 1, pageNo: 1, entry: "", lineNo: 1 };

describe("parsePage", () => {
  it("produces rows matching the schema's columns for every fixture page", () => {
    for (const f of ALL_FIXTURES) {
      for (const line of readFileSync(fixture(f), "utf8").split("\n")) {
        let v: unknown;
        try {
          v = JSON.parse(line);
        } catch {
          continue;
        }
        const p = parsePage(v, ctx);
        expect(p.page.length).toBe(insertColumns(table("pages")).length);
        for (const t of PAGE_TABLES) for (const r of p.rows[t]) expect(r.length, t).toBe(insertColumns(table(t)).length);
        for (const t of PAGE_TABLES)
          for (const r of p.rows[t]) for (const x of r) expect(["string", "number", "object"]).toContain(typeof x);
      }
    }
  });

  it("accepts a filtered-stream page (data is one object) and user-lookup pages", () => {
    const s = parsePage({ data: { id: "1", text: "t" }, matching_rules: [{ id: "9", tag: null }] }, ctx);
    expect(s.dataTweets).toBe(1);
    const u = parsePage({ data: [{ id: "5", username: "alice", name: "Alice" }] }, ctx);
    expect(u.dataTweets).toBe(0);
    expect(u.rows.users).toHaveLength(1);
    expect(u.rows.users[0]![insertColumns(table("users")).findIndex((c) => c.name === "directly_collected")]).toBe(1);
  });

  it("rejects what is not a page with UJR_TIDY_NOT_A_PAGE", () => {
    for (const v of [[1], "x", 3, { hello: 1 }]) {
      expect(() => parsePage(v, ctx)).toThrow(expect.objectContaining({ code: "UJR_TIDY_NOT_A_PAGE" }));
    }
  });

  it("parses URL sidecar records", () => {
    const r = parseSidecarLine({ url: "https://t.co/x", final_url: "https://e.org/", status: 200, hops: 3, error: null, more: 1 }, 7);
    expect(r).toEqual(["https://t.co/x", null, "https://e.org/", 200, "3", null, 7, '{"more":1}']);
  });
});
