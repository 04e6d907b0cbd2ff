import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { closeNames, closePaths, didYouMean } from "./suggest.js";

describe("closeNames / didYouMean", () => {
  it("offers names a typo away, best first", () => {
    expect(closeNames("workres", ["workers", "isolation", "dataDir"])).toEqual(["workers"]);
    expect(closeNames("@ujr/plugin-tweet-tidir", ["@ujr/plugin-tweet-tidier", "@ujr/core", "zod"])).toEqual(["@ujr/plugin-tweet-tidier"]);
    expect(closeNames("Count", ["count", "county"])).toEqual(["count", "county"]);
  });

  it("offers nothing for unrelated names", () => {
    expect(closeNames("query", ["workers", "dataDir"])).toEqual([]);
    expect(closeNames("ab", ["xy"])).toEqual([]);
    expect(didYouMean("colour", ["workers", "isolation"])).toBe("");
  });

  it("phrases the suggestion", () => {
    expect(didYouMean("tally", ["tall", "count"])).toBe(' Did you mean "tall"?');
  });
});

describe("closePaths", () => {
  it("offers the entries beside a missing path whose names are a typo away, relative to the base folder", () => {
    const dir = mkdtempSync(join(tmpdir(), "ujr-close-paths-"));
    try {
      mkdirSync(join(dir, "data"));
      writeFileSync(join(dir, "data", "tidy.sqlite"), "");
      writeFileSync(join(dir, "data", "notes.txt"), "");
      expect(closePaths(dir, "data/tidy.sqlit")).toEqual([join("data", "tidy.sqlite")]);
      expect(closePaths(dir, "dta")).toEqual(["data"]);
      expect(closePaths(dir, "data/summary.json")).toEqual([]);
      // its folder missing too: nothing to offer
      expect(closePaths(dir, "nowhere/tidy.sqlite")).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
