// Tasks run in pool workers: they get plain data and return plain data.
import { createHash } from "node:crypto";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { defineTask } from "@ujr/core";

// Tasks are addressed by module + export name; a file URL works for a local plugin.
const module = import.meta.url;

/** Counts the words of one text file. */
export const countWords = defineTask({
  module,
  name: "countWords",
  async run({ file }, ctx) {
    const text = await readFile(file, "utf8");
    const counts = {};
    let words = 0;
    for (const word of text.toLowerCase().match(/[\p{L}']+/gu) ?? []) {
      counts[word] = (counts[word] ?? 0) + 1;
      words++;
    }
    ctx.logger.debug({ file, words }, "counted");
    return { file, words, counts, sha256: createHash("sha256").update(text).digest("hex") };
  },
});

/** Merges per-file counts and writes the report (temp file + rename: never half-written). */
export const writeReport = defineTask({
  module,
  name: "writeReport",
  async run({ outputFile, files, topN }) {
    const total = {};
    for (const file of files) for (const [word, count] of Object.entries(file.counts)) total[word] = (total[word] ?? 0) + count;
    const top = Object.entries(total)
      .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
      .slice(0, topN)
      .map(([word, count]) => ({ word, count }));
    const report = {
      files: files.map(({ file, words, sha256 }) => ({ file, words, sha256 })).sort((a, b) => a.file.localeCompare(b.file)),
      words: files.reduce((sum, file) => sum + file.words, 0),
      distinctWords: Object.keys(total).length,
      top,
    };
    await mkdir(dirname(outputFile), { recursive: true });
    await writeFile(`${outputFile}.tmp`, JSON.stringify(report, null, 2));
    await rename(`${outputFile}.tmp`, outputFile);
    return { outputFile, words: report.words, distinctWords: report.distinctWords };
  },
});
