import { describe, expect, it } from "vitest";
import { defineJobType, jobConfigJsonSchema, z } from "@ujr/core";
import { configRows, renderTable } from "./schema-table.js";

describe("the config table of `ujr plugins`", () => {
  const jobType = defineJobType({
    config: z.object({
      query: z.string().min(1).describe("The search query."),
      pages: z.number().int().min(1).default(10).describe("Most pages per run."),
      mode: z.enum(["recent", "all"]).default("recent"),
      every: z.union([z.number(), z.string()]).optional(),
      tags: z.array(z.string()).default([]),
      notify: z.object({ url: z.string().url(), retries: z.number().int().min(0).max(5).default(2) }).optional(),
    }),
    create: () => {
      throw new Error("not used");
    },
  });

  it("one row per key, nested keys dotted, with type, default, required and description", () => {
    expect(configRows(jobConfigJsonSchema(jobType))).toEqual([
      { key: "query", type: "string", default: "", required: true, description: "The search query." },
      { key: "pages", type: "integer >= 1", default: "10", required: false, description: "Most pages per run." },
      { key: "mode", type: '"recent" | "all"', default: '"recent"', required: false, description: "" },
      { key: "every", type: "number | string", default: "", required: false, description: "" },
      { key: "tags", type: "string[]", default: "[]", required: false, description: "" },
      { key: "notify", type: "object", default: "", required: false, description: "" },
      { key: "notify.url", type: "string (uri)", default: "", required: false, description: "" },
      { key: "notify.retries", type: "integer >= 0 <= 5", default: "2", required: false, description: "" },
    ]);
  });

  it("renders an aligned table", () => {
    const lines = renderTable(configRows(jobConfigJsonSchema(jobType)).slice(0, 2), "  ");
    expect(lines).toEqual([
      "  key    type          default  required  description",
      "  query  string        -        yes       The search query.",
      "  pages  integer >= 1  10       no        Most pages per run.",
    ]);
  });
});
