/**
 * Task module of the tweet tidier. Runs in a worker: arguments and results are
 * structured-clonable plain data.
 */
import { defineTask, type TaskContext } from "@ujr/core/task";
import { errorInfo } from "./errors.js";
import { listInputs, type FoundFile } from "./discover.js";
import { worthParseWorker } from "./ingest.js";
import { prewarmParseWorker } from "./parse-in-worker.js";
import { taskStore } from "./store/task-store.js";
import type { IngestResult } from "./store/types.js";
import type { FileOutcome } from "./store/types.js";

export const TASKS_MODULE = "@ujr/plugin-tweet-tidier/tasks";

export interface CheckArgs {
  /** Folders, files or globs. */
  inputs: string[];
  /** Folder relative inputs resolve from. */
  baseDir: string;
  /**
   * The batches that follow parse in a worker thread (SQLite): when the files found would
   * make such a batch, its thread starts now, while the runner plans the batch.
   */
  warmParser?: boolean;
}

export interface CheckResult {
  files: FoundFile[];
  /** Likely raw data under the inputs passed over for its name (see listInputs). */
  notRead?: string[];
  /** Inputs (not globs) that do not exist, as given. */
  missing?: string[];
}

/** Check for new raw data: lists the raw files under the inputs with size and mtime. */
export const checkForNewData = defineTask({
  module: TASKS_MODULE,
  name: "checkForNewData",
  async run(args: CheckArgs): Promise<CheckResult> {
    const { files, notRead, missing } = await listInputs(args.inputs, args.baseDir);
    if (args.warmParser === true && worthParseWorker(files.reduce((n, f) => n + f.size, 0))) prewarmParseWorker();
    return { files, ...(notRead.length > 0 ? { notRead } : {}), ...(missing.length > 0 ? { missing } : {}) };
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
    const { store, release } = await taskStore(args.database);
    let failed = true;
    try {
      const result = await store.ingestFile(args.file, { signal: ctx.signal, logger: ctx.logger });
      failed = false;
      return result;
    } finally {
      await release(failed);
    }
  },
});

export interface TidyBatchArgs {
  /** SQLite file path (absolute) or postgres:// URL. */
  database: string;
  /** Absolute paths of the raw files, loaded in this order. */
  files: string[];
}

/** One file of a batch: its result, or why it could not be loaded (its transaction was rolled back). */
export type BatchFileOutcome =
  | { path: string; ok: true; result: IngestResult }
  | { path: string; ok: false; error: { code: string; name: string; message: string } };

export interface TidyBatchResult {
  files: BatchFileOutcome[];
}

const plain = (o: FileOutcome): BatchFileOutcome =>
  o.error === undefined ? { path: o.path, ok: true, result: o.result! } : { path: o.path, ok: false, error: errorInfo(o.error) };

/**
 * Tidy several raw files with one store: each file in its own transaction, exactly once
 * per content, as tidyFile; the files are hashed and parsed ahead of the writes in a
 * worker thread. A file that fails does not stop the others (its outcome says why); a
 * cancel stops the batch (files committed so far stay, the rest load next time).
 */
export const tidyBatch = defineTask({
  module: TASKS_MODULE,
  name: "tidyBatch",
  async run(args: TidyBatchArgs, ctx: TaskContext): Promise<TidyBatchResult> {
    const { store, release } = await taskStore(args.database);
    let done = 0;
    let failed = true;
    try {
      const outcomes = await store.ingestFiles(args.files, { signal: ctx.signal, logger: ctx.logger }, () =>
        ctx.progress({ done: ++done, total: args.files.length }),
      );
      failed = outcomes.some((o) => o.error !== undefined);
      return { files: outcomes.map(plain) };
    } finally {
      const started = performance.now();
      // SQLite's store ends with the final checkpoint (the WAL copied into the database, then
      // removed); a PostgreSQL store stays open for the next batch (see taskStore)
      const closed = await release(failed);
      ctx.logger.debug({ ms: Math.round(performance.now() - started) }, closed ? "tidy: database closed" : "tidy: database kept open for the next batch");
    }
  },
});
