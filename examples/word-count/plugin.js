import { readdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { defineJobType, definePlugin, JobDone, z } from "@ujr/core";
import { countWords, writeReport } from "./tasks.js";

/**
 * Counts the words of every .txt file in a folder, one task per file running in
 * parallel, then merges them in a final task. The job only decides what runs next.
 */
class WordCountJob {
  constructor(name, config, ctx) {
    this.name = name;
    this.inputDir = resolve(ctx.configDir, config.inputDir);
    this.outputFile = resolve(ctx.configDir, config.outputFile);
    this.topN = config.topN;
    this.logger = ctx.logger;
    this.files = undefined;
    this.results = new Map();
    this.reported = false;
  }

  async getRunnableTasks() {
    if (this.reported) throw new JobDone();
    this.files ??= (await readdir(this.inputDir)).filter((file) => file.endsWith(".txt")).sort().map((file) => join(this.inputDir, file));
    const missing = this.files.filter((file) => !this.results.has(file));
    if (missing.length > 0) return missing.map((file) => countWords.with({ file }, { signature: file }));
    return [writeReport.with({ outputFile: this.outputFile, files: [...this.results.values()], topN: this.topN })];
  }

  onTaskDone(task, result) {
    if (task.ref.export === "countWords") this.results.set(result.file, result);
    else {
      this.reported = true;
      this.logger.info(result, "report written");
    }
  }
}

export default definePlugin({
  name: "@ujr-examples/word-count",
  apiVersion: 1,
  jobs: {
    count: defineJobType({
      description: "Counts the words of the .txt files in a folder and writes the top words as JSON.",
      config: z.object({
        inputDir: z.string().describe("Folder of .txt files, relative to the config file."),
        outputFile: z.string().default("./data/word-count.json"),
        topN: z.number().int().min(1).default(20),
      }),
      create: (config, ctx) => new WordCountJob(ctx.name, config, ctx),
    }),
  },
});
