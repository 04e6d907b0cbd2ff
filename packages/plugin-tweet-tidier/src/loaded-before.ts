import { hashFile } from "./read-raw.js";
import type { IngestResult } from "./store/types.js";

/** SQL, true for a `source_files` row of which nothing could be loaded (every line bad), in both dialects. */
export const NOTHING_LOADED = '("ingest_errors" > 0 AND coalesce("pages", 0) = 0 AND coalesce("resolved_urls", 0) = 0)';

/** A `source_files` row of a path: what a store loaded from that path before. */
export interface LoadedFile {
  fileId: number;
  path: string;
  sizeBytes: number;
  sha256: string;
  /** Every line of it was bad: nothing of it could be loaded. */
  nothingLoaded: boolean;
}

/** The rows of `source_files` whose path is one of `paths` (a path loaded with other content before has several). */
export type LoadedBefore = (paths: readonly string[]) => Promise<LoadedFile[]>;

/**
 * The files of a batch that hold what was loaded from their path before: same path and size
 * as a loaded file, and the same SHA-256 once read. They are reported already loaded
 * without being parsed (a batch's parse thread reads and parses ahead of the claims, so
 * each run over a loaded collection parsed all of it again); their bytes are still read and
 * hashed, since content, not path, is what a load is identified by. Files whose path is
 * new to the database (a first load) are not read here at all.
 */
export async function unchangedSinceLoaded(
  found: readonly { path: string; size: number }[],
  loadedBefore: LoadedBefore,
  signal?: AbortSignal,
): Promise<Map<string, IngestResult>> {
  const same = new Map<string, IngestResult>();
  if (found.length === 0) return same;
  const rowsByPath = new Map<string, LoadedFile[]>();
  for (const row of await loadedBefore(found.map((f) => f.path))) {
    const rows = rowsByPath.get(row.path);
    if (rows) rows.push(row);
    else rowsByPath.set(row.path, [row]);
  }
  for (const { path, size } of found) {
    const candidates = rowsByPath.get(path)?.filter((r) => r.sizeBytes === size);
    if (!candidates?.length) continue;
    let sha256: string;
    try {
      ({ sha256 } = await hashFile(path, signal));
    } catch (e) {
      if (signal?.aborted) throw e;
      continue; // unreadable now: the load says why
    }
    const row = candidates.find((r) => r.sha256 === sha256);
    if (!row) continue; // rewritten in place with the same size: new content, loaded as such
    same.set(path, {
      path,
      status: "already-loaded",
      fileId: row.fileId,
      sha256,
      pages: 0,
      tweets: 0,
      errors: 0,
      loadedAs: row.path,
      nothingLoaded: row.nothingLoaded,
    });
  }
  return same;
}
