import { hashFile } from "./read-raw.js";
import type { IngestResult } from "./store/types.js";

/** SQL, true for a `source_files` row of which nothing could be loaded (every line bad), in both dialects. */
export const NOTHING_LOADED = '("ingest_errors" > 0 AND coalesce("pages", 0) = 0 AND coalesce("resolved_urls", 0) = 0)';

/** A `source_files` row: a file a store loaded before. */
export interface LoadedFile {
  fileId: number;
  path: string;
  sizeBytes: number;
  sha256: string;
  /** The file's modification time when it was read (microseconds), when recorded. */
  mtimeUs: number | null;
  /** Every line of it was bad: nothing of it could be loaded. */
  nothingLoaded: boolean;
}

/** The rows of `source_files` whose size is one of `sizes` (the files a batch's files can be the same as). */
export type LoadedBefore = (sizes: readonly number[]) => Promise<LoadedFile[]>;

/** A loaded file's modification time to record: found unchanged by its hash, with a time older than RECORDED_MTIME_AGE_MS. */
export interface MtimeToRecord {
  fileId: number;
  mtimeUs: number;
}

/** A file of a batch as stated before any of it is read. */
export interface StatedFile {
  path: string;
  size: number;
  /** Its modification time, in microseconds. */
  mtimeUs: number;
  /** The same, when old enough to be recorded by a load (see recordedMtime). */
  recordedMtimeUs: number | null;
}

/** A file's modification time is recorded only this long after it: a file modified within the same tick of a coarse clock (FAT's 2 s) could change again unseen. */
export const RECORDED_MTIME_AGE_MS = 2000;

/**
 * A file's modification time (microseconds) as a load records it, from a stat taken before
 * the file is read at `statedAtMs`: null when the file was modified less than
 * RECORDED_MTIME_AGE_MS before (a later write in the same clock tick would leave it
 * unchanged), as git's index does with "racily clean" files.
 */
export function recordedMtime(mtimeUs: number, statedAtMs: number): number | null {
  return statedAtMs * 1000 - mtimeUs >= RECORDED_MTIME_AGE_MS * 1000 ? mtimeUs : null;
}

/**
 * The files of a batch whose content was loaded before: a loaded file's size and, from the
 * same path, its recorded modification time, or else the same SHA-256 once read. They are
 * reported without being parsed (a batch's parse thread reads and parses ahead of the
 * claims, so each run over a loaded collection parsed all of it again): `already-loaded`
 * from their path, `skipped-duplicate` from another (a collection moved or copied). Files
 * of a size no loaded file has (a first load) are not read here at all, nor are those whose
 * path, size and modification time match a loaded file.
 */
export async function unchangedSinceLoaded(
  found: readonly StatedFile[],
  loadedBefore: LoadedBefore,
  signal?: AbortSignal,
): Promise<{ same: Map<string, IngestResult>; toRecord: MtimeToRecord[] }> {
  const same = new Map<string, IngestResult>();
  // files known by their hash whose modification time can be recorded now: the next run knows them by it
  const toRecord: MtimeToRecord[] = [];
  if (found.length === 0) return { same, toRecord };
  const rowsBySize = new Map<number, LoadedFile[]>();
  for (const row of await loadedBefore([...new Set(found.map((f) => f.size))])) {
    const rows = rowsBySize.get(row.sizeBytes);
    if (rows) rows.push(row);
    else rowsBySize.set(row.sizeBytes, [row]);
  }
  for (const { path, size, mtimeUs, recordedMtimeUs } of found) {
    const candidates = rowsBySize.get(size);
    if (!candidates) continue;
    let row = candidates.find((r) => r.path === path && r.mtimeUs !== null && r.mtimeUs === mtimeUs);
    if (!row) {
      let sha256: string;
      try {
        ({ sha256 } = await hashFile(path, signal));
      } catch (e) {
        if (signal?.aborted) throw e;
        continue; // unreadable now: the load says why
      }
      row = candidates.find((r) => r.sha256 === sha256); // unique in source_files
      // its time stated before it was read: the bytes read were the loaded ones, or newer
      if (row?.path === path && recordedMtimeUs !== null) toRecord.push({ fileId: row.fileId, mtimeUs: recordedMtimeUs });
    }
    if (!row) continue; // new content, even under a loaded file's name and size: loaded as such
    same.set(path, {
      path,
      status: row.path === path ? "already-loaded" : "skipped-duplicate",
      fileId: row.fileId,
      sha256: row.sha256,
      pages: 0,
      tweets: 0,
      errors: 0,
      loadedAs: row.path,
      nothingLoaded: row.nothingLoaded,
    });
  }
  return { same, toRecord };
}
