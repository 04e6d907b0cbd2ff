import { TidyError } from "./errors.js";
import { listRawFiles } from "./discover.js";
import { openStore } from "./store/index.js";
import type { IngestOptions, IngestResult, TidyLogger } from "./store/types.js";

export interface TidyFilesOptions {
  /** SQLite file path, or a `postgres://` URL (optional `?schema=name`). */
  database: string;
  /** Files, folders or globs of raw data. */
  files: string[];
  /** Base folder for relative inputs. Default: process.cwd(). */
  baseDir?: string;
  /** PostgreSQL: files loaded in parallel. Default 4 (SQLite: always 1). */
  concurrency?: number;
  logger?: TidyLogger;
  signal?: AbortSignal;
  onFile?: (r: IngestResult) => void;
  /** Do not fail when the inputs match no file. */
  allowEmpty?: boolean;
}

/** Library entry, usable without the runner: tidies every raw file of `files` into `database`, exactly once. */
export async function tidyFiles(opts: TidyFilesOptions): Promise<IngestResult[]> {
  const found = await listRawFiles(opts.files, opts.baseDir);
  if (found.length === 0 && opts.files.length > 0 && opts.allowEmpty !== true) {
    throw new TidyError("UJR_TIDY_NO_INPUT", `nothing matched ${JSON.stringify(opts.files)}`);
  }
  const store = await openStore(opts.database, { poolSize: opts.concurrency });
  const io: IngestOptions = { logger: opts.logger, signal: opts.signal };
  const results: IngestResult[] = [];
  try {
    const par = store.backend === "postgres" ? Math.max(1, opts.concurrency ?? 4) : 1;
    let next = 0;
    const worker = async () => {
      while (next < found.length) {
        const f = found[next++]!;
        const r = await store.ingestFile(f.path, io);
        results.push(r);
        opts.onFile?.(r);
      }
    };
    await Promise.all(Array.from({ length: par }, worker));
  } finally {
    await store.close();
  }
  return results.sort((a, b) => (a.path < b.path ? -1 : 1));
}
