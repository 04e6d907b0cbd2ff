import { TidyError } from "./errors.js";
import { listInputs, notReadMessage } from "./discover.js";
import { defaultLoaders, openStore } from "./store/index.js";
import type { FileOutcome, IngestOptions, IngestResult, TidyLogger } from "./store/types.js";

export interface TidyFilesOptions {
  /** SQLite file path, or a `postgres://` URL (optional `?schema=name`). */
  database: string;
  /** Files, folders or globs of raw data. */
  files: string[];
  /** Base folder for relative inputs. Default: process.cwd(). */
  baseDir?: string;
  /** PostgreSQL: files loaded in parallel. Default: the machine's cores, at most 4 (SQLite: always 1). */
  concurrency?: number;
  logger?: TidyLogger;
  signal?: AbortSignal;
  onFile?: (r: IngestResult) => void;
  /** Do not fail when the inputs match no file. */
  allowEmpty?: boolean;
}

/** Library entry, usable without the runner: tidies every raw file of `files` into `database`, exactly once. */
export async function tidyFiles(opts: TidyFilesOptions): Promise<IngestResult[]> {
  const { files: found, notRead, missing, unreadable } = await listInputs(opts.files, opts.baseDir);
  // what cannot be read would be passed over without a word: said before anything loads
  if (unreadable.length > 0) {
    const what = unreadable.map((u) => `${u.link ? "link" : u.top ? "input" : "folder"} ${u.path}: ${u.reason}`).join("; ");
    throw new TidyError("UJR_TIDY_INPUT_UNREADABLE", `${unreadable.length} input(s), folder(s) or link(s) cannot be read (${what})`);
  }
  const absent = missing.length > 0 ? `${missing.map((m) => JSON.stringify(m)).join(", ")} ${missing.length === 1 ? "does" : "do"} not exist` : "";
  if (found.length === 0 && opts.files.length > 0 && opts.allowEmpty !== true) {
    const why = [absent, notRead.length > 0 ? notReadMessage(notRead) : ""].filter(Boolean).join("; ");
    throw new TidyError("UJR_TIDY_NO_INPUT", `nothing matched ${JSON.stringify(opts.files)}${why ? ` (${why})` : ""}`);
  }
  if (absent) opts.logger?.warn({ code: "UJR_TIDY_INPUT_MISSING", inputs: missing }, `tidy: ${absent}`);
  if (notRead.length > 0) opts.logger?.warn({ code: "UJR_TIDY_NAME_NOT_READ", files: notRead.length }, `tidy: ${notReadMessage(notRead)}`);
  const store = await openStore(opts.database, { poolSize: opts.concurrency });
  const io: IngestOptions = { logger: opts.logger, signal: opts.signal };
  const results: IngestResult[] = [];
  const paths = found.map((f) => f.path);
  const onFile = (o: FileOutcome) => {
    if (o.error !== undefined) throw o.error;
    results.push(o.result!);
    opts.onFile?.(o.result!);
  };
  try {
    if (store.backend === "sqlite") await store.ingestFiles(paths, io, onFile);
    else {
      // loaders in parallel, each taking the next few files (read ahead by its parse worker)
      const par = Math.max(1, opts.concurrency ?? defaultLoaders());
      const chunk = Math.max(1, Math.min(16, Math.ceil(paths.length / (par * 4))));
      let next = 0;
      const worker = async () => {
        while (next < paths.length) {
          const part = paths.slice(next, (next += chunk));
          await store.ingestFiles(part, io, onFile);
        }
      };
      await Promise.all(Array.from({ length: par }, worker));
    }
  } finally {
    await store.close();
  }
  return results.sort((a, b) => (a.path < b.path ? -1 : 1));
}
