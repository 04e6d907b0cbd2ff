// The example as its README runs it: the job counts every text in parallel tasks, then
// writes one report; run with `node --test` (no test framework: a plain-JS plugin's way).
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { createTestContext, runJob } from "@ujr/core/testing";
import plugin from "./plugin.js";

const here = fileURLToPath(new URL(".", import.meta.url));
const texts = join(here, "texts");

test("counts the words of every text and writes the report the config asks for", async (t) => {
  const ctx = createTestContext({ name: "texts", configDir: here });
  t.after(() => ctx.cleanup());
  const outputFile = join(ctx.stateDir, "word-count.json");
  const config = plugin.jobs.count.config.parse({ inputDir: "./texts", outputFile, topN: 3 });
  const job = await plugin.jobs.count.create(config, ctx);
  const result = await runJob(job, { resolveFrom: [here], concurrency: 2 });
  assert.equal(result.reason, "done");
  const names = readdirSync(texts).filter((name) => name.endsWith(".txt")).sort();
  // one count task per text, then the report
  assert.equal(result.done.length, names.length + 1);
  const report = JSON.parse(readFileSync(outputFile, "utf8"));
  assert.deepEqual(report.files.map((file) => file.file), names.map((name) => join(texts, name)));
  // counted here independently: the words of each text, and the most frequent over all
  const total = new Map();
  let words = 0;
  for (const name of names) {
    for (const word of readFileSync(join(texts, name), "utf8").toLowerCase().split(/[^\p{L}']+/u).filter(Boolean)) {
      total.set(word, (total.get(word) ?? 0) + 1);
      words++;
    }
  }
  assert.equal(report.words, words);
  assert.equal(report.distinctWords, total.size);
  const top = [...total].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, 3).map(([word, count]) => ({ word, count }));
  assert.deepEqual(report.top, top);
});
