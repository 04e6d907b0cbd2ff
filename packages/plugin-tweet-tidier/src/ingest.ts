import { access, constants } from "node:fs/promises";
import { TidyError, type TidyErrorCode } from "./errors.js";
import { parseEvents } from "./parse-events.js";
import { parseEventsInWorker, workerAvailable } from "./parse-in-worker.js";
import { fileKind, hashFile } from "./read-raw.js";

/** Files at least this big are parsed in a worker thread (in parallel with the writes). */
export const WORKER_MIN_BYTES = 4 << 20;
import type { FileStats, FileTxn, IngestOptions, IngestResult } from "./store/types.js";

/**
 * The backend-independent load loop: hash, claim, stream lines, parse, write, commit.
 * Everything of one file happens in the transaction `txn`; any exception rolls it back.
 */
export async function ingestWith(txn: FileTxn, path: string, opts: IngestOptions = {}): Promise<IngestResult> {
  const { signal, logger, onPage } = opts;
  try {
    await access(path, constants.R_OK);
  } catch (e) {
    throw new TidyError("UJR_TIDY_FILE_NOT_FOUND", path, { cause: e });
  }
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
    const useWorker = (opts.parseInWorker ?? false) && workerAvailable();
    const events = useWorker ? parseEventsInWorker(path, fileId, signal) : parseEvents(path, fileId, signal);
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
