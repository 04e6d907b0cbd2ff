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

/**
 * A store's look-ups in `source_files` for a batch: each by an index (path, size, SHA-256),
 * so that a batch costs what its own files find, not every loaded file of their sizes (a
 * collection of small pages of a few sizes, with tens of thousands loaded, made each batch
 * read and scan all their rows: ~0.9 s a batch of 1,024 files, 60 s to restart over 100,000).
 */
export interface LoadedBefore {
  /** The rows at these paths (a path loaded with other content before has several). */
  atPaths(paths: readonly string[]): Promise<LoadedFile[]>;
  /** Those of `sizes` that some loaded file has: a file of another size is new content, not read here. */
  sizesLoaded(sizes: readonly number[]): Promise<number[]>;
  /** The rows with these SHA-256s (at most one each). */
  withSha256(sha256s: readonly string[]): Promise<LoadedFile[]>;
}

/** LoadedBefore over rows in memory (tests, and a store that holds its rows itself). */
export function loadedFrom(rows: readonly LoadedFile[]): LoadedBefore {
  return {
    atPaths: async (paths) => {
      const wanted = new Set(paths);
      return rows.filter((r) => wanted.has(r.path));
    },
    sizesLoaded: async (sizes) => {
      const known = new Set(rows.map((r) => r.sizeBytes));
      return [...new Set(sizes)].filter((s) => known.has(s));
    },
    withSha256: async (sha256s) => {
      const wanted = new Set(sha256s);
      return rows.filter((r) => wanted.has(r.sha256));
    },
  };
}

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
  const hits = new Map<string, IngestResult>();
  // files known by their hash whose modification time can be recorded now: the next run knows them by it
  const toRecord: MtimeToRecord[] = [];
  // in the batch's order, whichever look-up found them
  const inOrder = () => ({ same: new Map(found.filter((f) => hits.has(f.path)).map((f) => [f.path, hits.get(f.path)!] as const)), toRecord });
  if (found.length === 0) return inOrder();
  const report = (path: string, row: LoadedFile) =>
    hits.set(path, {
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
  const sizes = new Set(await loadedBefore.sizesLoaded([...new Set(found.map((f) => f.size))]));
  const ofSize = found.filter((f) => sizes.has(f.size));
  if (ofSize.length === 0) return inOrder();
  // the quick check: a loaded file's path, size and recorded modification time
  const atPath = new Map<string, LoadedFile[]>();
  for (const row of await loadedBefore.atPaths(ofSize.map((f) => f.path))) {
    const rows = atPath.get(row.path);
    if (rows) rows.push(row);
    else atPath.set(row.path, [row]);
  }
  const hashed: { file: StatedFile; sha256: string }[] = [];
  for (const file of ofSize) {
    const { path, size, mtimeUs } = file;
    const row = atPath.get(path)?.find((r) => r.sizeBytes === size && r.mtimeUs !== null && r.mtimeUs === mtimeUs);
    if (row) {
      report(path, row);
      continue;
    }
    try {
      hashed.push({ file, sha256: (await hashFile(path, signal)).sha256 });
    } catch (e) {
      if (signal?.aborted) throw e;
      // unreadable now: the load says why
    }
  }
  if (hashed.length === 0) return inOrder();
  const bySha = new Map((await loadedBefore.withSha256([...new Set(hashed.map((h) => h.sha256))])).map((r) => [r.sha256, r]));
  for (const { file, sha256 } of hashed) {
    const row = bySha.get(sha256);
    if (!row) continue; // new content, even under a loaded file's name and size: loaded as such
    // its time stated before it was read: the bytes read were the loaded ones, or newer
    if (row.path === file.path && file.recordedMtimeUs !== null) toRecord.push({ fileId: row.fileId, mtimeUs: file.recordedMtimeUs });
    report(file.path, row);
  }
  return inOrder();
}
