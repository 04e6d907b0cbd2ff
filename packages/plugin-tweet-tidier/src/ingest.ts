import { accessSync, constants, statSync } from "node:fs";
import { availableParallelism } from "node:os";
import { TidyError, type TidyErrorCode } from "./errors.js";
import type { ParseEvent } from "./parse-events.js";
import { acquireParseWorkers, localFeed, parseThreads, releaseParseWorkers, workerAvailable, workerFeeds, type FileFeed } from "./parse-in-worker.js";
import { recordedMtime, unchangedSinceLoaded, type LoadedBefore, type MtimeToRecord, type StatedFile } from "./loaded-before.js";
import { fileKind } from "./read-raw.js";
import { pageNoOf, setPageNo } from "./page-columns.js";
import type { FileOutcome, FileStats, FileTxn, IngestOptions, IngestResult } from "./store/types.js";

/** With `autoWorker`, a batch of at least this many bytes is parsed in a worker thread (in parallel with the writes). */
export const WORKER_MIN_BYTES = 1 << 20;

/** True when a batch of `bytes` is worth a parse worker thread of its own (`autoWorker`): 1 MiB or more, two cores or more. */
export const worthParseWorker = (bytes: number): boolean => bytes >= WORKER_MIN_BYTES && availableParallelism() > 1;

/** Bad lines of one file logged one by one; the rest are counted in one summary line (all are stored). */
export const LOGGED_BAD_LINES = 5;
/** Longest `ingest_errors.message` stored (a bad line's excerpt in a JSON error can be long). */
export const MAX_ERROR_MESSAGE = 300;

const isAbort = (e: unknown, signal?: AbortSignal) =>
  signal?.aborted === true || (e as Error)?.name === "AbortError" || (e as { code?: string })?.code === "UJR_TIDY_ABORTED";

/**
 * How a store commits the files of a batch. Without it each file commits its own
 * transaction. With it, a file ends by releasing its savepoint (all or nothing, as ever)
 * and the open transaction is committed when `due()` says so and at the end: small files
 * then share a commit instead of paying one each (SQLite writes every page a transaction
 * touched at its commit, and the hot b-tree pages of the indexes would be written again
 * for every small file). A file's outcome is reported only once it is committed.
 */
export interface GroupCommit {
  /** The batch's bytes, once its files are found and before the first is loaded. */
  begin?(bytes: number): void;
  due(): boolean;
  /** Commits the open transaction (no-op without one). */
  commit(): Promise<void>;
  /** Rolls the open transaction back (after a failed commit or an abort). */
  abort(): Promise<void>;
}

/** A size in bytes from the environment variable `name` (a number >= 0), else `dflt`. */
export function bytesFromEnv(name: string, dflt: number): number {
  const raw = process.env[name];
  const v = Number(raw);
  return raw !== undefined && raw !== "" && Number.isFinite(v) && v >= 0 ? v : dflt;
}

/** A store's group commit size, or UJR_TIDY_GROUP_COMMIT_BYTES (bytes; 0: a commit per file). */
export const groupCommitBytes = (dflt: number): number => bytesFromEnv("UJR_TIDY_GROUP_COMMIT_BYTES", dflt);

/** How a store runs a batch through ingestAll. */
export interface BatchPlan {
  /** Parse in worker threads when the batch is worth it (see worthParseWorker), unless `opts.parseInWorker` says otherwise. */
  autoWorker: boolean;
  onFile?: ((o: FileOutcome) => void) | undefined;
  group?: GroupCommit | undefined;
  /** The store's rows of the batch's paths: files unchanged since they were loaded are reported without being parsed. */
  loadedBefore?: LoadedBefore | undefined;
  /** Records the modification times of files found unchanged by their hash (rows loaded before schema version 3, files touched since). */
  recordMtimes?: ((files: MtimeToRecord[]) => Promise<void>) | undefined;
  /**
   * A SQLite database file a parse thread may read to pass over, unparsed, the archive
   * members whose bytes it holds already (what it finds committed; the loader's own check
   * decides, see archive_members).
   */
  knownIn?: string | undefined;
  /**
   * A file's failure as the store's catalogue names it (a full disk, a database its user
   * cannot write, ...): what the file's outcome carries. One that is `retryable: false`
   * stops the batch (see ingestAll).
   */
  failure?: ((e: unknown) => unknown) | undefined;
}

/** A failure that every later file of the batch would meet too (a full disk): trying them cannot help now. */
const stopsBatch = (e: unknown): boolean => (e as { retryable?: unknown })?.retryable === false;

/**
 * Loads files in order, each atomically (`loadOne`), and goes on after a file that
 * fails; an abort stops the batch, and so does a failure that is `retryable: false` (a full
 * disk: the files after it are not tried, and are left out of the outcomes, as after a cancel). With parse workers (`opts.parseInWorker`, or
 * `plan.autoWorker` for a batch of 1 MiB or more on a machine with two cores or more) the
 * files are hashed, read and parsed in worker threads, ahead of the writes (two threads for
 * a batch of STRIPE_MIN_BYTES or more: see parseThreads). Files that hold what was loaded
 * from their path before come first, reported already loaded (see unchangedSinceLoaded).
 */
export async function ingestAll(
  paths: readonly string[],
  opts: IngestOptions,
  loadOne: (feed: FileFeed) => Promise<IngestResult>,
  plan: BatchPlan,
): Promise<FileOutcome[]> {
  const { autoWorker, onFile, group } = plan;
  const out: FileOutcome[] = [];
  /** The failure that stopped the batch, and its file (set in `failure`: cast, or TypeScript would narrow the checks after its calls to never). */
  let stopped = undefined as { path: string; error: unknown } | undefined;
  const failure = (path: string, e: unknown): unknown => {
    const error = plan.failure ? plan.failure(e) : e;
    if (stopsBatch(error)) stopped ??= { path, error };
    return error;
  };
  const settled = (o: FileOutcome) => {
    out.push(o);
    onFile?.(o);
  };
  const stated: StatedFile[] = [];
  // blocking calls: the files are in the page cache or one seek away, and 279 awaited round
  // trips through libuv's pool held the batch's start (and its parse thread) for 31 ms
  for (const path of paths) {
    try {
      accessSync(path, constants.R_OK);
      const st = statSync(path);
      const mtimeUs = Math.round(st.mtimeMs * 1000);
      stated.push({ path, size: st.size, mtimeUs, recordedMtimeUs: recordedMtime(mtimeUs, Date.now()) });
    } catch (e) {
      settled({ path, error: new TidyError("UJR_TIDY_FILE_NOT_FOUND", path, { cause: e }) });
    }
  }
  const unchanged = plan.loadedBefore ? await lookUpLoaded(stated, plan, opts) : new Map<string, IngestResult>();
  const found = stated.filter((f) => !unchanged.has(f.path));
  const bytes = found.reduce((n, f) => n + f.size, 0);
  group?.begin?.(bytes);
  /** Outcomes of files in the open (uncommitted) transaction. */
  let uncommitted: FileOutcome[] = [];
  // logged once committed: "loaded" means it is in the database
  const report = (o: FileOutcome) => {
    const r = o.result;
    if (r) {
      const fields = { path: r.path, status: r.status, pages: r.pages, tweets: r.tweets, errors: r.errors, ...(r.skippedMembers ? { skippedMembers: r.skippedMembers } : {}) };
      if (r.status === "loaded" || r.status === "partial")
        opts.logger?.info(fields, r.skippedMembers ? `tidy: file loaded (${r.skippedMembers} archive member(s) skipped: their bytes were loaded before)` : "tidy: file loaded");
      else opts.logger?.info({ ...fields, loadedAs: r.loadedAs }, "tidy: file skipped (its content was loaded before)");
    }
    settled(o);
  };
  // one line for them all: a run over a collection of thousands of files loaded before
  // would otherwise log a line for each of them, every run
  if (unchanged.size > 0) {
    let elsewhere = 0;
    for (const result of unchanged.values()) {
      if (result.status === "skipped-duplicate") elsewhere++;
      opts.logger?.debug?.({ path: result.path, status: result.status, loadedAs: result.loadedAs }, "tidy: file skipped (its content was loaded before)");
      settled({ path: result.path, result });
    }
    const from = elsewhere > 0 ? ` (${elsewhere} of them from another path)` : "";
    opts.logger?.info({ files: unchanged.size, fromAnotherPath: elsewhere }, `tidy: ${unchanged.size} file(s) loaded before, skipped${from}`);
  }
  const commit = async () => {
    if (!group) return;
    try {
      await group.commit();
    } catch (e) {
      await group.abort().catch(() => {});
      if (isAbort(e, opts.signal)) throw e;
      // the group's commit (or a merge) failed: each of its files again, alone, so that
      // one bad file does not take the others with it; once one stops the batch (a full
      // disk), the others are left out uncommitted, for the next try
      const tried: FileOutcome[] = [];
      for (const o of uncommitted) {
        if (stopped) break;
        tried.push(o);
        try {
          o.result = await loadOne(localFeed(o.path));
          await group.commit();
        } catch (e2) {
          await group.abort().catch(() => {});
          if (isAbort(e2, opts.signal)) throw e2;
          o.error = failure(o.path, e2);
          delete o.result;
        }
      }
      uncommitted = tried;
    }
    const done = uncommitted;
    uncommitted = [];
    for (const o of done) report(o);
  };
  const useWorker = (opts.parseInWorker ?? (autoWorker && worthParseWorker(bytes))) && workerAvailable();
  const parsers = useWorker ? acquireParseWorkers(parseThreads(bytes)) : [];
  const settledBefore = out.length;
  let finished = false;
  try {
    const feeds = parsers.length > 0 ? workerFeeds(parsers, found, plan.knownIn) : found.map((f) => localFeed(f.path));
    // stated before any of them is read: what a load records of each (see recordedMtime)
    feeds.forEach((feed, i) => (feed.stated = { size: found[i]!.size, mtimeUs: found[i]!.recordedMtimeUs }));
    for (const feed of feeds) {
      if (stopped) break;
      if (opts.signal?.aborted) throw new TidyError("UJR_TIDY_ABORTED", feed.path);
      let o: FileOutcome;
      try {
        o = { path: feed.path, result: await loadOne(feed) };
      } catch (e) {
        if (isAbort(e, opts.signal)) throw e;
        o = { path: feed.path, error: failure(feed.path, e) };
      } finally {
        feed.cancel();
      }
      if (group && o.result) {
        uncommitted.push(o);
        if (group.due()) await commit();
      } else report(o);
    }
    await commit();
    finished = true;
    if (stopped) {
      const notTried = found.length - (out.length - settledBefore);
      const code = (stopped.error as { code?: unknown })?.code;
      if (notTried > 0)
        opts.logger?.warn(
          { code, path: stopped.path, notTried },
          `tidy: the batch stopped at ${stopped.path} (${String(code)}): ${notTried} other file(s) of it were not loaded, as they would fail the same way; the next try loads them`,
        );
    }
  } finally {
    if (!finished) await group?.abort().catch(() => {});
    releaseParseWorkers(parsers);
  }
  return out;
}

/**
 * unchangedSinceLoaded, as a shortcut only: should the look-up fail (a database gone or
 * changed under the store), every file goes to its claim, which fails or loads it as ever.
 */
async function lookUpLoaded(
  stated: readonly StatedFile[],
  plan: BatchPlan,
  opts: IngestOptions,
): Promise<Map<string, IngestResult>> {
  const why = (e: unknown) => ({ cause: (e as Error)?.message ?? String(e) });
  let found: Awaited<ReturnType<typeof unchangedSinceLoaded>>;
  try {
    found = await unchangedSinceLoaded(stated, plan.loadedBefore!, opts.signal);
  } catch (e) {
    if (isAbort(e, opts.signal)) throw e;
    opts.logger?.debug?.(why(e), "tidy: the batch's files could not be looked up in source_files; each is claimed instead");
    return new Map();
  }
  if (found.toRecord.length > 0 && plan.recordMtimes)
    await plan.recordMtimes(found.toRecord).catch((e: unknown) => opts.logger?.debug?.(why(e), "tidy: modification times not recorded; the next run reads those files again"));
  return found.same;
}

/** The result of a one-file batch, or its error thrown. */
export function single(outcomes: FileOutcome[]): IngestResult {
  const o = outcomes[0]!;
  if (o.error !== undefined) throw o.error;
  return o.result!;
}

/**
 * The backend-independent load of one file: hash, claim, stream lines, parse, write,
 * commit. Everything of one file happens in the transaction `txn`; any exception rolls it back.
 */
export async function ingestWith(txn: FileTxn, feed: FileFeed, opts: IngestOptions = {}): Promise<IngestResult> {
  return load(txn, feed, opts);
}

async function load(txn: FileTxn, feed: FileFeed, opts: IngestOptions): Promise<IngestResult> {
  const { signal, logger, onPage } = opts;
  const path = feed.path;
  const { sha256, size } = await feed.hash(signal);
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
    // the modification time stated before the file was read, if what was read is what was stated
    const mtimeUs = feed.stated?.size === size ? feed.stated.mtimeUs : null;
    const claim = await txn.claim(path, sha256, size, kind, mtimeUs);
    if (claim.existing) {
      await txn.rollback();
      committed = true;
      const same = claim.existing.path === path;
      const ex = claim.existing;
      return {
        path,
        status: same ? "already-loaded" : "skipped-duplicate",
        fileId: claim.fileId,
        sha256,
        pages: 0,
        tweets: 0,
        errors: 0,
        loadedAs: ex.path,
        nothingLoaded: ex.nothingLoaded,
      };
    }
    const fileId = claim.fileId;
    const now = new Date().toISOString();
    let firstError: IngestResult["firstError"];
    const recordError = async (entry: string, lineNo: number, code: TidyErrorCode, message: string) => {
      stats.ingestErrors++;
      if (stats.ingestErrors <= LOGGED_BAD_LINES)
        logger?.warn({ code, path, entry: entry || undefined, lineNo }, `tidy: line skipped: ${message}`);
      const stored = message.length > MAX_ERROR_MESSAGE ? `${message.slice(0, MAX_ERROR_MESSAGE - 1)}…` : message;
      firstError ??= { lineNo, code, message: stored };
      await txn.writeIngestError([fileId, path, entry, lineNo, code, stored, now]);
    };
    // an archive member whose bytes were loaded before: its lines are passed over (read in
    // this thread, they are not even parsed: the events are pulled after the verdict)
    let skipping: string | undefined;
    let skippedMembers = 0;
    const events: AsyncIterable<ParseEvent> = feed.events(fileId, signal, (entry) => entry === skipping);
    try {
      for await (const ev of events) {
        if (signal?.aborted) throw new TidyError("UJR_TIDY_ABORTED", path);
        if (ev.t === "member") {
          const loadedAs = await txn.member(fileId, ev.entry, ev.sha256, ev.size);
          skipping = loadedAs === undefined ? undefined : ev.entry;
          if (loadedAs !== undefined) {
            skippedMembers++;
            logger?.debug?.({ path, entry: ev.entry, loadedAs }, "tidy: archive member skipped: its bytes were loaded before");
          }
          continue;
        }
        // (a read that failed is never passed over: it ends the archive, whichever member it is told of)
        if (skipping !== undefined && ev.entry === skipping && !(ev.t === "error" && ev.code === "UJR_TIDY_READ_FAILED")) continue;
        // a parse thread passed over a member found loaded by its own look-up, which this
        // transaction does not find loaded: never expected (committed rows stay); the file
        // fails and is tried again alone, read here
        if (ev.t === "skipped") throw new TidyError("UJR_TIDY_READ_FAILED", `${path}: member ${ev.entry} was passed over by the parse thread, but its bytes are not in the database`);
        stats.lines++;
        if (ev.t === "page") {
          const parsed = ev.parsed;
          // A page's number is its place among the pages loaded from the file. The parser
          // counts the pages it parsed: a parse thread with a share of the lines counts only
          // its own, and after a skipped archive member the count depends on whether the
          // parse thread's own look-up passed the member over or the loader did.
          if (pageNoOf(parsed) !== stats.pages + 1) setPageNo(parsed, stats.pages + 1);
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
    if (stats.ingestErrors > LOGGED_BAD_LINES)
      logger?.warn(
        { path, errors: stats.ingestErrors, notLogged: stats.ingestErrors - LOGGED_BAD_LINES },
        `tidy: ${stats.ingestErrors} bad lines in ${path}; the first ${LOGGED_BAD_LINES} were logged, all are in ingest_errors`,
      );
    const nothingLoaded = stats.ingestErrors > 0 && stats.pages === 0 && stats.resolvedUrls === 0;
    return {
      path,
      status,
      fileId,
      sha256,
      pages: stats.pages,
      tweets: stats.dataTweets,
      errors: stats.ingestErrors,
      nothingLoaded,
      ...(skippedMembers > 0 ? { skippedMembers } : {}),
      ...(nothingLoaded ? { firstError } : {}),
    };
  } finally {
    if (!committed) await txn.rollback().catch(() => {});
  }
}
