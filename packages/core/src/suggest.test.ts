import { describe, expect, it } from "vitest";
import { closeNames, didYouMean } from "./suggest.js";

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
