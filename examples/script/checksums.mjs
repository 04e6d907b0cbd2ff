#!/usr/bin/env node
// A script that builds its job in code and keeps its task in the same file:
//   node examples/script/checksums.mjs <folder>
// Prints one line per file with its SHA-256, computed in parallel pool workers.
import { createHash } from "node:crypto";
import { readFile, readdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { defineTask, isTaskWorker, JobDone } from "@ujr/core";
import { LocalJobsRunner } from "@ujr/runner-local";

// Workers import this file to reach the task: `module: import.meta.url` says where it is.
export const checksum = defineTask({
  module: import.meta.url,
  name: "checksum",
  async run({ file }) {
    return { file, sha256: createHash("sha256").update(await readFile(file)).digest("hex") };
  },
});

class ChecksumJob {
  name = "checksums";
  #files;
  #results = new Map();

  constructor(folder) {
    this.folder = folder;
  }

  async getRunnableTasks() {
    this.#files ??= (await readdir(this.folder, { withFileTypes: true })).filter((entry) => entry.isFile()).map((entry) => join(this.folder, entry.name)).sort();
    const missing = this.#files.filter((file) => !this.#results.has(file));
    if (missing.length === 0) throw new JobDone();
    return missing.map((file) => checksum.with({ file }, { signature: file }));
  }

  onTaskDone(_task, result) {
    this.#results.set(result.file, result.sha256);
  }

  close() {
    for (const [file, sha256] of [...this.#results].sort()) console.log(`${sha256}  ${file}`);
  }
}

// Everything at the top level also runs in each worker when it imports this file;
// only the main process starts the runner.
if (!isTaskWorker()) {
  const folder = resolve(process.argv[2] ?? ".");
  const result = await new LocalJobsRunner({ jobs: [new ChecksumJob(folder)], workers: 2, logLevel: "warn" }).run();
  process.exitCode = result.tasks.failed > 0 ? 1 : 0;
}
