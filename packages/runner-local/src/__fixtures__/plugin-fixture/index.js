import { definePlugin, defineJobType, JobDone, z } from "@ujr/core";
import { record } from "./tasks.js";

// Counts the imports of this plugin (each test project is a fresh copy): tests see when plugins load.
globalThis.__ujrFixturePluginImports = (globalThis.__ujrFixturePluginImports ?? 0) + 1;

class CountJob {
  constructor(name, config, stateDir) {
    this.name = name;
    this.config = config;
    this.file = `${stateDir}/lines.txt`;
    this.done = new Set();
  }
  getRunnableTasks() {
    if (this.done.size >= this.config.count) {
      if (this.config.forever) return [];
      throw new JobDone();
    }
    const tasks = [];
    for (let line = 0; line < this.config.count; line++) if (!this.done.has(line)) tasks.push(record.with({ file: this.file, line: `${this.config.label}-${line}`, delayMs: this.config.delayMs }, { signature: String(line) }));
    return tasks;
  }
  onTaskDone(task) {
    this.done.add(Number(task.signature));
  }
}

export default definePlugin({
  name: "@acme/ujr-plugin-fixture",
  apiVersion: 1,
  jobs: {
    count: defineJobType({
      description: "Appends `count` labelled lines to a file in the job's state folder.",
      config: z.object({ count: z.number().int().min(1), label: z.string().default("line"), forever: z.boolean().default(false), delayMs: z.number().int().min(0).default(0) }),
      create: (config, ctx) => {
        ctx.logger.info({ config }, "count job created");
        return new CountJob(ctx.name, config, ctx.stateDir);
      },
    }),
  },
});
