import { access, constants, stat } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { TidyError, type TidyErrorCode } from "./errors.js";
import { parseEvents, type ParseEvent } from "./parse-events.js";
import { acquireParseWorker, releaseParseWorker, workerAvailable, type ParseJob, type ParseWorker } from "./parse-in-worker.js";
import { fileKind, hashFile } from "./read-raw.js";
import type { FileStats, FileTxn, IngestOptions, IngestResult } from "./store/types.js";

/** With `autoWorker`, files at least this big are parsed in a worker thread (in parallel with the writes). */
export const WORKER_MIN_BYTES = 4 << 20;

/**
 * The backend-independent load loop: hash, claim, stream lines, parse, write, commit.
 * Everything of one file happens in the transaction `txn`; any exception rolls it back.
 *
 * With a parse worker (`opts.parseInWorker`, or `autoWorker` for a big file on a machine
 * with two cores or more) the file is read and parsed in a worker thread, which starts
 * before the hash and the claim, while this thread writes the rows.
 */
export async function ingestWith(txn: FileTxn, path: string, opts: IngestOptions = {}, autoWorker = false): Promise<IngestResult> {
  let bytes: number;
  try {
    await access(path, constants.R_OK);
    bytes = (await stat(path)).size;
  } catch (e) {
    throw new TidyError("UJR_TIDY_FILE_NOT_FOUND", path, { cause: e });
  }
  const useWorker = (opts.parseInWorker ?? (autoWorker && bytes >= WORKER_MIN_BYTES && availableParallelism() > 1)) && workerAvailable();
  let parser: ParseWorker | undefined;
  let job: ParseJob | undefined;
  if (useWorker) job = (parser = acquireParseWorker()).start(path);
  try {
    return await load(txn, path, opts, job);
  } finally {
    job?.cancel();
    if (parser) releaseParseWorker(parser);
  }
}

async function load(txn: FileTxn, path: string, opts: IngestOptions, job: ParseJob | undefined): Promise<IngestResult> {
  const { signal, logger, onPage } = opts;
  const { sha256, size } = await hashFile(path, signal);
  const kind = fileKind(path);
  const stats: FileStats = {
    lines: 0,
    pages: 0,
    dataTweets: 0,
    includedTweets: 0,
    users: 0,
    resolvedUrls: 0,
    apiErrors: 0,
    ingestErrors: 0,
  };
  let committed = false;
  try {
    const claim = await txn.claim(path, sha256, size, kind);
    if (claim.existing) {
      await txn.rollback();
      committed = true;
      const same = claim.existing.path === path;
      return {
        path,
        status: same ? "already-loaded" : "skipped-duplicate",
        fileId: claim.fileId,
        sha256,
        pages: 0,
        tweets: 0,
        errors: 0,
        loadedAs: claim.existing.path,
      };
    }
    const fileId = claim.fileId;
    const now = new Date().toISOString();
    const recordError = async (entry: string, lineNo: number, code: TidyErrorCode, message: string) => {
      stats.ingestErrors++;
      logger?.warn({ code, path, entry: entry || undefined, lineNo }, `tidy: line skipped: ${message}`);
      await txn.writeIngestError([fileId, path, entry, lineNo, code, message, now]);
    };
    const local = () => parseEvents(path, fileId, signal);
    const events: AsyncIterable<ParseEvent> = job ? job.events(fileId, local, signal) : local();
    try {
      for await (const ev of events) {
        if (signal?.aborted) throw new TidyError("UJR_TIDY_ABORTED", path);
        stats.lines++;
        if (ev.t === "page") {
          const parsed = ev.parsed;
          const w = txn.writePage(parsed);
          if (w !== undefined) await w;
          stats.pages++;
          stats.dataTweets += parsed.dataTweets;
          stats.includedTweets += parsed.includedTweets;
          stats.users += parsed.users;
          stats.apiErrors += parsed.apiErrors;
          if (onPage) await onPage(stats.pages);
        } else if (ev.t === "sidecar") {
          const w = txn.writeSidecar(ev.row);
          if (w !== undefined) await w;
          stats.resolvedUrls++;
        } else {
          if (ev.code === "UJR_TIDY_READ_FAILED") stats.lines--;
          await recordError(ev.entry, ev.lineNo, ev.code, ev.message);
        }
      }
    } catch (e) {
      if (signal?.aborted || (e as Error).name === "AbortError") throw new TidyError("UJR_TIDY_ABORTED", path, { cause: e });
      throw e;
    }
    const status = stats.ingestErrors > 0 ? "partial" : "loaded";
    await txn.commit(fileId, status, stats);
    committed = true;
    logger?.info({ path, status, pages: stats.pages, tweets: stats.dataTweets, errors: stats.ingestErrors }, "tidy: file loaded");
    return { path, status, fileId, sha256, pages: stats.pages, tweets: stats.dataTweets, errors: stats.ingestErrors };
  } finally {
    if (!committed) await txn.rollback().catch(() => {});
  }
}
