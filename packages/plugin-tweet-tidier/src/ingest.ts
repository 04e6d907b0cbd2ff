import { access, constants } from "node:fs/promises";
import { TidyError, errorInfo, type TidyErrorCode } from "./errors.js";
import { parsePage, parseSidecarLine } from "./parse-page.js";
import { fileKind, hashFile, readRaw } from "./read-raw.js";
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
    let lastEntry = "";
    let lastLine = 0;
    try {
      for await (const line of readRaw(path, signal)) {
        if (signal?.aborted) throw new TidyError("UJR_TIDY_ABORTED", path);
        stats.lines++;
        lastEntry = line.entry;
        lastLine = line.lineNo;
        let value: unknown;
        try {
          value = JSON.parse(line.text);
        } catch (e) {
          await recordError(line.entry, line.lineNo, "UJR_TIDY_BAD_JSON", `invalid JSON: ${(e as Error).message}`);
          continue;
        }
        if (line.kind === "urls") {
          let row;
          try {
            row = parseSidecarLine(value, fileId);
          } catch (e) {
            await recordError(line.entry, line.lineNo, "UJR_TIDY_NOT_A_PAGE", (e as Error).message);
            continue;
          }
          const w = txn.writeSidecar(row);
          if (w !== undefined) await w;
          stats.resolvedUrls++;
          continue;
        }
        let parsed;
        try {
          parsed = parsePage(value, { fileId, pageNo: stats.pages + 1, entry: line.entry, lineNo: line.lineNo });
        } catch (e) {
          if ((e as { code?: string }).code !== "UJR_TIDY_NOT_A_PAGE") throw e;
          await recordError(line.entry, line.lineNo, "UJR_TIDY_NOT_A_PAGE", (e as Error).message);
          continue;
        }
        const w = txn.writePage(parsed);
        if (w !== undefined) await w;
        stats.pages++;
        stats.dataTweets += parsed.dataTweets;
        stats.includedTweets += parsed.includedTweets;
        stats.users += parsed.users;
        stats.apiErrors += parsed.apiErrors;
        if (onPage) await onPage(stats.pages);
      }
    } catch (e) {
      if (signal?.aborted || (e as { code?: string }).code === "UJR_TIDY_ABORTED" || (e as Error).name === "AbortError")
        throw new TidyError("UJR_TIDY_ABORTED", path, { cause: e });
      if ((e as { code?: string }).code?.startsWith("UJR_TIDY_") || isDbError(e)) throw e;
      // read/decompression failure: keep what was read, record it
      await recordError(lastEntry, lastLine + 1, "UJR_TIDY_READ_FAILED", errorInfo(e).message);
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

function isDbError(e: unknown): boolean {
  const x = e as { code?: unknown; severity?: unknown };
  return (typeof x?.code === "string" && x.code.startsWith("SQLITE_")) || x?.severity !== undefined;
}
