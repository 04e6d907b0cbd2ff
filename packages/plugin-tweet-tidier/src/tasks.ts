/**
 * Task module of the tweet tidier. Runs in a worker: arguments and results are
 * structured-clonable plain data.
 */
import { defineTask, type TaskContext } from "@ujr/core/task";
import { existsSync } from "node:fs";
import { TidyError, errorInfo } from "./errors.js";
import { listInputs, type FoundFile, type UnreadableFolder } from "./discover.js";
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
  /**
   * Only files modified at or after this time (epoch ms: the job's previous check) count
   * toward warming the parse thread: the others were listed before and are loaded or being
   * loaded, so a continuous job whose inputs hold a big collection does not start a thread
   * at every check with nothing new. Unset: every file counts (a job's first check).
   */
  warmSince?: number;
}

export interface CheckResult {
  files: FoundFile[];
  /** Likely raw data under the inputs passed over for its name (see listInputs). */
  notRead?: string[];
  /** Inputs (not globs) that do not exist, as given. */
  missing?: string[];
  /** Inputs, and folders inside them, that could not be read (see listInputs). */
  unreadable?: UnreadableFolder[];
  /** How long the listing took (ms): the job warns when it is a large share of its poll interval. */
  ms?: number;
}

/** Check for new raw data: lists the raw files under the inputs with size and mtime. */
export const checkForNewData = defineTask({
  module: TASKS_MODULE,
  name: "checkForNewData",
  async run(args: CheckArgs): Promise<CheckResult> {
    const started = performance.now();
    const { files, notRead, missing, unreadable } = await listInputs(args.inputs, args.baseDir);
    const ms = Math.round(performance.now() - started);
    if (args.warmParser === true && worthParseWorker(files.reduce((n, f) => (args.warmSince === undefined || f.mtimeMs >= args.warmSince ? n + f.size : n), 0))) prewarmParseWorker();
    return { files, ms, ...(notRead.length > 0 ? { notRead } : {}), ...(missing.length > 0 ? { missing } : {}), ...(unreadable.length > 0 ? { unreadable } : {}) };
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
  /**
   * The job's last try of these files for now (see TidyJob): a file that cannot be loaded
   * then fails the task (UJR_TIDY_FILE_FAILED, with the batch's result as `details.batch`), so
   * that the runner counts it in its failed tasks, metrics and history. An earlier try ends
   * done whatever its files did: the job tries them again, and a file loaded by a later try
   * did not fail.
   */
  lastTry?: boolean;
}

type ErrorInfo = ReturnType<typeof errorInfo>;

/**
 * One file of a batch: its result, or why it could not be loaded (its transaction was rolled
 * back). `error.retryable: false` (UJR_TIDY_DISK_FULL, UJR_TIDY_DATABASE_READ_ONLY): the
 * database, not the file, failed, and every file would fail the same way until the user acts.
 */
export type BatchFileOutcome = { path: string; ok: true; result: IngestResult } | { path: string; ok: false; error: ErrorInfo };

/**
 * `files` in the order they were settled. A batch that met a `retryable: false` failure stopped
 * there: the files after it are not in `files` (not tried, nothing of them written).
 */
export interface TidyBatchResult {
  files: BatchFileOutcome[];
  /**
   * Why the batch stopped before the files that have no outcome in `files`: the database's
   * failure, not theirs (it could not be opened, stayed locked past the busy timeout, its disk
   * is full). Set too when the store failed as it closed, after every file had its outcome.
   */
  stopped?: ErrorInfo;
}

const plain = (o: FileOutcome): BatchFileOutcome =>
  o.error === undefined ? { path: o.path, ok: true, result: o.result! } : { path: o.path, ok: false, error: errorInfo(o.error) };

/**
 * Tidy several raw files with one store: each file in its own transaction, exactly once
 * per content, as tidyFile; the files are hashed and parsed ahead of the writes in a
 * worker thread. A file that fails does not stop the others (its outcome says why), unless
 * its failure is the database's (a full disk: `retryable: false`; a lock held past the busy
 * timeout, which every later file would wait for as long); that, or a cancel, stops the batch
 * (files committed so far stay, the rest load next time). A store that cannot be opened (or
 * any failure of the store's) ends the batch with `stopped`, not a failed task: the job tries
 * its files again. On the job's last try (`lastTry`) a file not loaded fails the task.
 */
export const tidyBatch = defineTask({
  module: TASKS_MODULE,
  name: "tidyBatch",
  async run(args: TidyBatchArgs, ctx: TaskContext): Promise<TidyBatchResult> {
    const files: BatchFileOutcome[] = [];
    let stopped: ErrorInfo | undefined;
    const stop = new AbortController();
    const signal = AbortSignal.any([ctx.signal, stop.signal]);
    const settled = (o: FileOutcome) => {
      const f = plain(o);
      files.push(f);
      ctx.progress({ done: files.length, total: args.files.length });
      if (f.ok || stopped !== undefined) return;
      // the store stops at a `retryable: false` failure itself; a lock it would wait out once
      // more for every later file (60 s each)
      if (f.error.retryable === false) stopped = f.error;
      else if (f.error.code === "UJR_TIDY_DATABASE_BUSY") {
        stopped = f.error;
        stop.abort();
      }
    };
    try {
      const { store, release } = await taskStore(args.database);
      let failed = true;
      try {
        await store.ingestFiles(args.files, { signal, logger: ctx.logger }, settled);
        failed = files.some((f) => !f.ok);
      } finally {
        const started = performance.now();
        // SQLite's store ends with the final checkpoint (the WAL copied into the database, then
        // removed); a PostgreSQL store stays open for the next batch (see taskStore)
        const closed = await release(failed || stopped !== undefined);
        ctx.logger.debug({ ms: Math.round(performance.now() - started) }, closed ? "tidy: database closed" : "tidy: database kept open for the next batch");
      }
    } catch (e) {
      // a cancel or a timeout is the runner's to report; the files it cut off load next time
      if (ctx.signal.aborted) throw e;
      // ours (stop) or the store's: the files without an outcome were not tried, for a cause
      // that is not theirs; what settled before stays settled (and committed)
      stopped ??= errorInfo(e);
      ctx.logger.debug({ err: e }, "tidy: the batch stopped");
    }
    const result: TidyBatchResult = { files, ...(stopped !== undefined ? { stopped } : {}) };
    if (args.lastTry === true) {
      const failure = lastTryFailed(args.files, result);
      if (failure !== undefined) throw failure;
    }
    return result;
  },
});

/**
 * The failure of a batch on the job's last try, when a file of it was not loaded (a file gone
 * since its check is not a failure: the job lets it go): UJR_TIDY_FILE_FAILED, naming the
 * first such file and its cause, with the whole result in `details.batch` for the job.
 */
function lastTryFailed(paths: readonly string[], result: TidyBatchResult): TidyError | undefined {
  const settled = new Set(result.files.map((f) => f.path));
  const why: string[] = [];
  for (const f of result.files) {
    if (f.ok || (f.error.code === "UJR_TIDY_FILE_NOT_FOUND" && !existsSync(f.path))) continue;
    why.push(`${f.path} (${f.error.code}: ${f.error.message})`);
  }
  const { stopped } = result;
  if (stopped !== undefined) for (const p of paths) if (!settled.has(p)) why.push(`${p} (${stopped.code}: ${stopped.message})`);
  if (why.length === 0) return undefined;
  const err = new TidyError("UJR_TIDY_FILE_FAILED", why.length === 1 ? why[0] : `${why.length} raw files could not be tidied; the first: ${why[0]}`);
  // the job tries again itself, later: the runner must not; and the stack would be this
  // function's, not the cause's (the cause is in the message)
  delete err.stack;
  return Object.assign(err, { retryable: false as const, details: { batch: result } });
}
