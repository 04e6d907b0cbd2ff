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

  it("says what a line that is not a page likely is, and what the tidier reads", () => {
    const why = (v: unknown) => {
      try {
        parsePage(v, ctx);
      } catch (e) {
        return (e as Error).message;
      }
      return "parsed";
    };
    expect(why({ id: 1, id_str: "1", full_text: "x", user: { id_str: "2" } })).toBe(
      "the object is a Twitter API v1.1 tweet (it has id_str), as twarc 1 and the v1.1 API wrote them, not an API response page: the tidier reads Twitter API v2 response pages, one a line, as twarc2 writes them",
    );
    expect(why({ id: "1", text: "x", author_id: "2", author: { id: "2", username: "a" }, __twarc: {} })).toBe(
      "the object is a single API v2 tweet, not a response page (`twarc2 flatten` writes one tweet a line): the tidier reads Twitter API v2 response pages, one a line, as twarc2 writes them; load the files twarc2 wrote before flattening",
    );
    expect(why({ id: "2", username: "a", name: "A" })).toContain("the object is a single API v2 user, not a response page");
    expect(why([{ data: [] }])).toContain("the line is a JSON array, not an API response page (one object a line): for an array of pages write one a line (`jq -c '.[]' in.json > out.jsonl`)");
    expect(why({ hello: 1 })).toBe(
      "the object has none of data, includes, meta, errors: not an API response page (the tidier reads Twitter API v2 response pages, one a line, as twarc2 writes them)",
    );
  });

  it("parses URL sidecar records", () => {
    const r = parseSidecarLine({ url: "https://t.co/x", final_url: "https://e.org/", status: 200, hops: 3, error: null, more: 1 }, 7);
    expect(r).toEqual(["https://t.co/x", null, "https://e.org/", 200, "3", null, 7, '{"more":1}']);
  });
});
