/**
 * Task module of the tweet tidier. Runs in a worker: arguments and results are
 * structured-clonable plain data.
 */
import { defineTask, type TaskContext } from "@ujr/core";
import { listRawFiles, type FoundFile } from "./discover.js";
import { openStore } from "./store/index.js";
import type { IngestResult } from "./store/types.js";

export const TASKS_MODULE = "@ujr/plugin-tweet-tidier/tasks";

export interface CheckArgs {
  /** Folders, files or globs. */
  inputs: string[];
  /** Folder relative inputs resolve from. */
  baseDir: string;
}

export interface CheckResult {
  files: FoundFile[];
}

/** Check for new raw data: lists the raw files under the inputs with size and mtime. */
export const checkForNewData = defineTask({
  module: TASKS_MODULE,
  name: "checkForNewData",
  async run(args: CheckArgs): Promise<CheckResult> {
    return { files: await listRawFiles(args.inputs, args.baseDir) };
  },
});

export interface TidyFileArgs {
  /** SQLite file path (absolute) or postgres:// URL. */
  database: string;
  /** Absolute path of the raw file. */
  file: string;
}

/** Tidy one raw file and store it: one transaction, exactly once per content. */
export const tidyFile = defineTask({
  module: TASKS_MODULE,
  name: "tidyFile",
  async run(args: TidyFileArgs, ctx: TaskContext): Promise<IngestResult> {
    const store = await openStore(args.database, { poolSize: 1 });
    try {
      return await store.ingestFile(args.file, { signal: ctx.signal, logger: ctx.logger });
    } finally {
      await store.close();
    }
  },
});
