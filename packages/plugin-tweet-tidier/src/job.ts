import { JobDone, JobFailed, closePaths, parseDuration, type Job, type JobContext, type StatusPanel, type Task, type TaskFailure } from "@ujr/core";
import { existsSync } from "node:fs";
import { isAbsolute, join, relative, resolve, sep } from "node:path";
import { notReadMessage, type FoundFile, type UnreadableFolder } from "./discover.js";
import { defaultLoaders, isPostgresUrl } from "./store/index.js";
import { databaseNotWritable } from "./store/sqlite-errors.js";
import type { IngestResult } from "./store/types.js";
import { checkForNewData, tidyBatch, type BatchFileOutcome, type CheckResult, type TidyBatchArgs, type TidyBatchResult } from "./tasks.js";
import { countResult, emptyTotals, tidierPanel, type LoadTotals } from "./status-panel.js";
import { TIDY_ERRORS, runnerUser } from "./errors.js";

export interface TidyJobConfig {
  inputs: string[];
  database?: string | undefined;
  mode: "continuous" | "once";
  pollInterval: string | number;
  settleTime: string | number;
  parallel?: number | undefined;
  maxAttempts: number;
  fileTimeout?: string | number | undefined;
}

/** Resolves the `database` setting: unset → `<stateDir>/tidy.sqlite`; a relative path → from the config folder. */
export function resolveDatabase(database: string | undefined, ctx: Pick<JobContext, "stateDir" | "configDir">): string {
  if (database === undefined || database === "") return join(ctx.stateDir, "tidy.sqlite");
  if (isPostgresUrl(database) || database === ":memory:" || isAbsolute(database)) return database;
  return resolve(ctx.configDir, database);
}

/** ` (did you mean "raw"?)` when the missing input's folder holds a name close to its last part. */
function nearNames(configDir: string, input: string): string {
  const close = closePaths(configDir, input);
  return close.length === 0 ? "" : ` (did you mean ${close.map((n) => JSON.stringify(n)).join(" or ")}?)`;
}

/** Results a job keeps (see TidyJob.results); its counts keep every file's (TidyJob.totals). */
export const RECENT_RESULTS = 1000;

interface FileState {
  size: number;
  mtimeMs: number;
}

/** A listing of the inputs that takes this share of the poll interval, and at least SLOW_CHECK_MIN_MS, is warned about (UJR_TIDY_SLOW_CHECK). */
export const SLOW_CHECK_SHARE = 0.25;
export const SLOW_CHECK_MIN_MS = 250;

/** A batch task's files stay under these bounds (memory and lost work after a crash are per batch). */
export const BATCH_MAX_BYTES = 256 << 20;
export const BATCH_MAX_FILES = 1024;

/**
 * How long a continuous job waits before it tries a file it gave up on again, by how many
 * times it gave up on it: 1, 5 and 15 minutes, then every hour. What makes a file fail is
 * mostly passing (a full disk freed, a permission fixed with chmod, which does not change
 * the file's mtime, a lock released): the early tries catch a short cause soon, and a file
 * that cannot load costs one try an hour. A file that changes is tried at once.
 */
export const RETRY_FAILED_AFTER_MS: readonly number[] = [60_000, 5 * 60_000, 15 * 60_000, 60 * 60_000];

/**
 * Causes that lie with the database or its disk, not with the file: the files that failed of
 * one are tried again together (alone, each would fail or wait the same) and are warned about
 * once per batch, not once per file. `retryable: false` outcomes (a full disk, a database its
 * user cannot write) are such causes whatever their code; PostgreSQL's by SQLSTATE class
 * (08 connection, 53 resources such as a full disk, 57P shutdown).
 */
const DATABASE_CAUSE =
  /^(UJR_TIDY_DATABASE\w*|UJR_TIDY_DISK_FULL|UJR_TIDY_SQLITE_DRIVER|UJR_TIDY_SCHEMA_TOO_NEW|SQLITE_(BUSY|LOCKED|FULL|READONLY|IOERR|CANTOPEN|CORRUPT|NOTADB|PERM)\w*|08\w{3}|53\w{3}|57P\w{2})$/;

/** Why tries of files failed: the code and message of the error, and whether the file is to blame. */
interface Cause {
  code: string | undefined;
  message: string;
  /** The database's failure (see DATABASE_CAUSE), not the file's. */
  database: boolean;
}

/** A file given up for now: reported as failed, and tried again later (see RETRY_FAILED_AFTER_MS). */
interface FailedFile {
  /** "CODE: message" of its last try. */
  reason: string;
  /** Its code alone, and whether it was the database's failure (see Cause). */
  code: string | undefined;
  database: boolean;
  /** Its size and mtime when given up: a file that differs is another file, tried at once. */
  st: FileState | undefined;
  /** Times it was given up on so far, minus one: the step of RETRY_FAILED_AFTER_MS it waits. */
  retries: number;
  /** When a check may try it again (epoch ms; never in `once` mode). */
  retryAt: number;
  /** Tried again alone (its own cause) rather than with the others (the database's). */
  alone: boolean;
}

/** The cause of a file's failed outcome. */
function causeOf(o: Extract<BatchFileOutcome, { ok: false }>): Cause {
  return { code: o.error.code, message: o.error.message, database: o.error.retryable === false || DATABASE_CAUSE.test(o.error.code) };
}

/**
 * The `tidy` job: checks its inputs for new raw files, and emits tidyBatch tasks of stable
 * new files (one batch at a time for SQLite, up to `parallel` for PostgreSQL). Each file is
 * its own transaction within a batch; a file that fails is tried again up to `maxAttempts`
 * times (alone, or with the others when the database failed), the last of them a task that
 * fails if the file does not load (the runner counts it); then a continuous job tries it
 * again later (RETRY_FAILED_AFTER_MS), a `once` job fails at its end.
 */
export class TidyJob implements Job {
  readonly name: string;
  nextCheck: number | undefined;
  private readonly database: string;
  private readonly pollMs: number;
  private readonly settleMs: number;
  private readonly maxRunning: number;
  private readonly done = new Map<string, FileState>();
  private readonly lastSeen = new Map<string, FileState>();
  private readonly pending = new Map<string, FileState>();
  /** Files of running batches, by path. */
  private readonly running = new Map<string, FileState>();
  /** Running batches: signature → files. */
  private readonly batches = new Map<string, string[]>();
  /** Files tried again alone, after they (or their batch) failed. */
  private readonly alone = new Set<string>();
  /** Tries of a file since it was found (or found changed, or its wait after a give-up ended). */
  private readonly attempts = new Map<string, number>();
  /** Files given up for now, in the order they were (the last is the last error). */
  private readonly failed = new Map<string, FailedFile>();
  /** Inputs, and folders inside them, that could not be read (path → why), each warned about once while it lasts. */
  private readonly unreadable = new Map<string, string>();
  /** Those of `unreadable` that are links named as raw files that lead nowhere. */
  private readonly brokenLinks = new Set<string>();
  /** The job ended (JobDone or JobFailed): its end said what failed. */
  private ended = false;
  /** Files of which nothing could be loaded (every line bad): a once job fails on them. */
  private readonly nothingLoaded = new Map<string, string>();
  /** Inputs found missing (input → why), each warned about or failed on once. */
  private readonly missingInputs = new Map<string, string>();
  /** Likely raw data passed over for its name, already warned about (a warning each time new ones appear, not each check). */
  private readonly warnedNotRead = new Set<string>();
  /** UJR_TIDY_SLOW_CHECK was said (once a job). */
  private warnedSlowCheck = false;
  private checkRunning = false;
  /** When the running check was asked for, and when the last one that listed the inputs was (CheckArgs.warmSince). */
  private checkStartedAt: number | undefined;
  private listedAt: number | undefined;
  private nextCheckAt = 0;
  private unstable = 0;
  private checks = 0;
  /** What the job's loads came to (the status panel's counts, the end message of `once`). */
  readonly totals: LoadTotals = emptyTotals();
  /** The last RECENT_RESULTS files' results, newest last: a continuous job does not keep every one. */
  readonly results: IngestResult[] = [];
  /** Files loaded with some bad lines (partial): warnings, not failures. */
  warnings = 0;
  /** Most batch tasks this job had running at once (1 for SQLite). */
  maxConcurrent = 0;

  constructor(
    private readonly config: TidyJobConfig,
    private readonly ctx: JobContext,
  ) {
    this.name = ctx.name;
    this.database = resolveDatabase(config.database, ctx);
    this.pollMs = parseDuration(config.pollInterval);
    this.settleMs = parseDuration(config.settleTime);
    this.maxRunning = isPostgresUrl(this.database) ? Math.max(1, config.parallel ?? defaultLoaders()) : 1;
    // a database that cannot be written (a read-only mount, a folder of another user) is said
    // before any task, by `ujr validate` too, rather than as every file's failure
    if (!isPostgresUrl(this.database) && this.database !== ":memory:") {
      const readOnly = databaseNotWritable(this.database);
      if (readOnly) throw readOnly;
    }
  }

  get databaseLocation(): string {
    return isPostgresUrl(this.database) ? "postgres" : this.database;
  }

  /** The dashboard's and `ujr status`'s panel (see status-panel.ts). */
  statusPanel(): StatusPanel {
    // A path under the config's folder is shown relative to it: shorter, and the same on every machine.
    const location = this.databaseLocation;
    const inConfigDir = isAbsolute(location) && !relative(this.ctx.configDir, location).startsWith("..");
    const failed = new Map<string, string>();
    let retryAt = Number.POSITIVE_INFINITY;
    for (const [path, f] of this.failed) {
      failed.set(path, f.reason);
      retryAt = Math.min(retryAt, f.retryAt);
    }
    const lastUnreadable = [...this.unreadable.values()].at(-1);
    return tidierPanel({
      database: inConfigDir ? relative(this.ctx.configDir, location) : location,
      totals: this.totals,
      pending: this.pending.size,
      running: this.running.size,
      failed,
      // a retry happens at the first check from then on
      ...(failed.size > 0 ? { failedRetryAt: Number.isFinite(retryAt) ? Math.max(retryAt, this.nextCheckAt) : retryAt } : {}),
      unreadable: this.unreadable.size,
      ...(failed.size === 0 && lastUnreadable !== undefined ? { lastError: lastUnreadable } : {}),
      unstable: this.unstable,
      nextCheckAt: this.nextCheckAt,
    });
  }

  getRunnableTasks(): Task[] {
    const now = Date.now();
    const tasks: Task[] = [];
    if (!this.checkRunning && now >= this.nextCheckAt) {
      this.checkRunning = true;
      const warmParser = !isPostgresUrl(this.database);
      // files older than the last check that listed them were found then (see CheckArgs.warmSince)
      const warmSince = this.listedAt;
      this.checkStartedAt = now;
      tasks.push(checkForNewData.with({ inputs: this.config.inputs, baseDir: this.ctx.configDir, warmParser, ...(warmSince !== undefined ? { warmSince } : {}) }, { signature: "check" }));
    }
    while (this.pending.size > 0 && this.batches.size < this.maxRunning) tasks.push(this.nextBatch());
    if (
      this.config.mode === "once" &&
      tasks.length === 0 &&
      !this.checkRunning &&
      this.checks > 0 &&
      this.unstable === 0 &&
      this.pending.size === 0 &&
      this.running.size === 0
    ) {
      this.finishOnce();
    }
    this.updateNextCheck();
    return tasks;
  }

  /** once: every file present was tried; fails when a file could not be tidied or nothing of it loaded. */
  private finishOnce(): never {
    this.ended = true;
    if (this.missingInputs.size > 0) {
      throw new JobFailed(`UJR_TIDY_INPUT_MISSING: ${[...this.missingInputs.values()].join("; ")}: ${TIDY_ERRORS.UJR_TIDY_INPUT_MISSING}`, { causes: ["UJR_TIDY_INPUT_MISSING"] });
    }
    const parts: string[] = [];
    /** The codes of why, for a caller that checks by code (JobFailed's details.causes). */
    const causes: string[] = [];
    if (this.unreadable.size > 0) {
      const all = [...this.unreadable];
      const links = all.filter(([path]) => this.brokenLinks.has(path)).map(([, why]) => why);
      const folders = all.filter(([path]) => !this.brokenLinks.has(path)).map(([, why]) => why);
      if (folders.length > 0) {
        const more = folders.length > 10 ? `, and ${folders.length - 10} more (see the log)` : "";
        parts.push(`UJR_TIDY_INPUT_UNREADABLE: ${folders.length} folder(s) could not be read: ${folders.slice(0, 10).join("; ")}${more}: ${TIDY_ERRORS.UJR_TIDY_INPUT_UNREADABLE}`);
      }
      if (links.length > 0) {
        const more = links.length > 10 ? `, and ${links.length - 10} more (see the log)` : "";
        parts.push(`UJR_TIDY_INPUT_UNREADABLE: ${links.length} link(s) lead nowhere: ${links.slice(0, 10).join("; ")}${more}: fix or remove them`);
      }
      causes.push("UJR_TIDY_INPUT_UNREADABLE");
    }
    const why = [...[...this.failed].map(([path, f]) => [path, f.reason, f.database] as const), ...[...this.nothingLoaded].map(([path, reason]) => [path, reason, false] as const)];
    if (why.length > 0) {
      // files that failed for one cause (a full disk, a database that cannot be opened) are
      // named together with it, the cause said once
      const byReason = new Map<string, { paths: string[]; database: boolean }>();
      for (const [path, reason, database] of why) {
        const group = byReason.get(reason) ?? { paths: [], database };
        group.paths.push(path);
        byReason.set(reason, group);
      }
      const groups = [...byReason];
      const shown = groups.slice(0, 10).map(([reason, { paths, database }]) => {
        if (paths.length === 1) return `${paths[0]} (${reason})`;
        const listed = `${paths.slice(0, 3).join(", ")}${paths.length > 3 ? ", ..." : ""}`;
        // the database's failure: these files were not reached (some may be loaded already)
        return `${paths.length} files (${listed}), ${database ? "not reached, as the database failed" : "each"}: ${reason}`;
      });
      const more = groups.length > 10 ? `, and ${groups.length - 10} more cause(s) (see the log)` : "";
      parts.push(`${why.length} raw file(s) could not be tidied: ${shown.join("; ")}${more}`);
      // a file that failed its tries, with what failed it (a full disk, a read-only database...)
      if (this.failed.size > 0) causes.push("UJR_TIDY_FILE_FAILED", ...[...this.failed.values()].flatMap((f) => (f.code ? [f.code] : [])));
      if (this.nothingLoaded.size > 0) causes.push("UJR_TIDY_NOTHING_LOADED");
    }
    if (parts.length > 0) throw new JobFailed(parts.join("; "), { causes });
    const partial = this.warnings > 0 ? `; ${this.warnings} partly loaded (bad lines in ingest_errors)` : "";
    const { loaded, partial: partly, skipped } = this.totals;
    throw new JobDone(`tidied ${loaded + partly + skipped} file(s)${partial}`);
  }

  /**
   * Said when the runner stops (or a config change removes the job) while files are failed or
   * folders unreadable: the end of a continuous job would otherwise read as all well (its batch
   * tasks end done; the runner counts only each file's last try).
   */
  close(): void {
    if (this.ended || (this.failed.size === 0 && this.unreadable.size === 0)) return;
    const parts: string[] = [];
    const last = [...this.failed].at(-1);
    if (last) parts.push(`${this.failed.size} raw file(s) not tidied (the last: ${last[0]}: ${last[1].reason})`);
    if (this.unreadable.size > 0) parts.push(`${this.unreadable.size} folder(s) not readable (the last: ${[...this.unreadable.values()].at(-1)})`);
    this.ctx.logger.warn(
      { code: this.failed.size > 0 ? "UJR_TIDY_FILE_FAILED" : "UJR_TIDY_INPUT_UNREADABLE", files: this.failed.size, folders: this.unreadable.size },
      `tidy: stopping with ${parts.join(" and ")}: the job tries them again when it next starts`,
    );
  }

  /** The next pending files, in path order, up to the batch bounds (a file retried alone makes a batch of its own). */
  private nextBatch(): Task {
    const files: string[] = [];
    let bytes = 0;
    // PostgreSQL: spread the pending bytes over the parallel loaders
    let pendingBytes = 0;
    for (const st of this.pending.values()) pendingBytes += st.size;
    const maxBytes = Math.min(BATCH_MAX_BYTES, Math.max(1, Math.ceil(pendingBytes / this.maxRunning)));
    // a batch is all last tries or none: a last try that fails fails its task, and only the
    // files given up may make it fail
    const lastTry = (path: string) => (this.attempts.get(path) ?? 0) + 1 >= this.config.maxAttempts;
    let last = false;
    for (const [path, st] of this.pending) {
      if (files.length === 0) last = lastTry(path);
      else if (bytes + st.size > maxBytes || files.length >= BATCH_MAX_FILES || this.alone.has(path) || lastTry(path) !== last) break;
      files.push(path);
      bytes += st.size;
      this.pending.delete(path);
      this.running.set(path, st);
      if (this.alone.has(path)) break;
    }
    const signature = `batch:${files[0]}`;
    this.batches.set(signature, files);
    this.maxConcurrent = Math.max(this.maxConcurrent, this.batches.size);
    const args: TidyBatchArgs = { database: this.database, files, ...(last ? { lastTry: true } : {}) };
    return tidyBatch.with(args, {
      signature,
      ...(this.config.fileTimeout !== undefined ? { timeoutMs: parseDuration(this.config.fileTimeout) * files.length } : {}),
    });
  }

  private updateNextCheck(): void {
    if (this.pending.size > 0 && this.batches.size < this.maxRunning) this.nextCheck = undefined;
    else if (this.checkRunning || !Number.isFinite(this.nextCheckAt)) this.nextCheck = undefined;
    else this.nextCheck = this.nextCheckAt;
  }

  onTaskDone(task: Task, result: unknown): void {
    if (task.signature === "check") {
      this.checkRunning = false;
      this.checks++;
      this.listedAt = this.checkStartedAt;
      const check = result as CheckResult;
      this.warnNotRead(check.notRead ?? []);
      this.noteMissing(check.missing ?? []);
      this.noteUnreadable(check.unreadable ?? []);
      this.acceptCheck(check.files);
      this.noteSlowCheck(check.files.length, check.ms);
      return;
    }
    this.settleBatch(task, result as TidyBatchResult);
    this.updateNextCheck();
  }

  /** What a batch came to (its result; or, on a last try that failed, the result its failure carries). */
  private settleBatch(task: Task, result: TidyBatchResult): void {
    const files = this.batches.get(task.signature!) ?? [];
    this.batches.delete(task.signature!);
    const seen = new Set<string>();
    const ofDatabase: string[] = [];
    let databaseCause: Cause | undefined;
    for (const o of result.files) {
      seen.add(o.path);
      if (o.ok) this.fileDone(o.path, o.result);
      else if (o.error.code === "UJR_TIDY_FILE_NOT_FOUND" && !existsSync(o.path)) this.fileGone(o.path);
      else {
        const cause = causeOf(o);
        if (!cause.database) this.fileFailed(o.path, cause);
        else {
          ofDatabase.push(o.path);
          databaseCause ??= cause;
        }
      }
    }
    const notReached = files.filter((path) => !seen.has(path));
    const stopped = result.stopped;
    if (stopped !== undefined && notReached.length > 0) {
      // the batch stopped before them, for the database's cause: a try of theirs all the same
      // (a lock held past the busy timeout is tried maxAttempts times, then given up for now)
      ofDatabase.push(...notReached);
      databaseCause ??= { code: stopped.code, message: stopped.message, database: true };
    } else {
      // not reached (the batch stopped early): tried again, not counted as an attempt
      for (const path of notReached) {
        const st = this.running.get(path);
        this.running.delete(path);
        if (st) this.pending.set(path, st);
      }
      // the store failed after every file was settled (as it closed): the files stand as they are
      if (stopped !== undefined) this.ctx.logger.warn({ code: stopped.code }, `tidy: the batch's files were settled, then the database failed: ${stopped.code}: ${stopped.message}`);
    }
    if (ofDatabase.length > 0) this.groupFailed(ofDatabase, databaseCause!, "the database failed");
  }

  private fileDone(path: string, r: IngestResult): void {
    const st = this.running.get(path);
    this.running.delete(path);
    if (st) this.done.set(path, st);
    const failed = this.failed.get(path);
    if (failed !== undefined) {
      this.failed.delete(path);
      // the code only: the cause's whole text was said when the file failed (a disk-full
      // paragraph again for each of thousands of files after an outage would flood the log)
      const code = failed.code ?? "its earlier failure";
      this.ctx.logger.info({ file: path, status: r.status, code }, `tidy: ${path} loaded after it had failed (${code})`);
    }
    this.attempts.delete(path);
    this.alone.delete(path);
    this.nothingLoaded.delete(path);
    countResult(this.totals, r);
    this.results.push(r);
    if (this.results.length > RECENT_RESULTS) this.results.splice(0, this.results.length - RECENT_RESULTS);
    const fields = { file: path, status: r.status, pages: r.pages, tweets: r.tweets, errors: r.errors };
    if (r.nothingLoaded) {
      const reason =
        r.status === "already-loaded" || r.status === "skipped-duplicate"
          ? `loaded before${r.loadedAs && r.loadedAs !== path ? ` as ${r.loadedAs}` : ""} with nothing loadable: see ingest_errors`
          : `none of its ${r.errors} line(s) could be loaded${r.firstError ? `; line ${r.firstError.lineNo}: ${r.firstError.code}: ${r.firstError.message}` : ""}; see ingest_errors`;
      this.nothingLoaded.set(path, reason);
      this.ctx.logger.warn({ ...fields, code: "UJR_TIDY_NOTHING_LOADED" }, `tidy: nothing of the file could be loaded (${reason})`);
    } else if (r.status === "partial") {
      this.warnings++;
      this.ctx.logger.warn(fields, `tidy: partly loaded: ${r.errors} bad line(s) recorded in ingest_errors`);
    } else this.ctx.logger.debug(fields, `tidy: ${r.status}`); // the task logged it (info) once committed
  }

  /**
   * A file found by a check and gone when its batch came to it: moved or deleted by its
   * owner (a collector that archives its raw files and removes them, say), not a failure;
   * found again, it is loaded then.
   */
  private fileGone(path: string): void {
    this.running.delete(path);
    this.lastSeen.delete(path);
    this.failed.delete(path);
    this.alone.delete(path);
    this.attempts.delete(path);
    this.ctx.logger.info({ file: path, code: "UJR_TIDY_FILE_GONE" }, "tidy: file gone before it was read (moved or deleted since it was found): not loaded");
  }

  /** One file's try failed for a cause of its own: warned about by itself, tried again alone. */
  private fileFailed(path: string, cause: Cause): void {
    const { attempt, retried } = this.tryFailed(path, cause, true);
    const then = retried ? "" : `; given up ${this.givenUpUntil(this.failed.get(path)!.retryAt)}`;
    this.ctx.logger.warn({ file: path, attempt, code: cause.code }, `tidy: file failed: ${cause.code}: ${cause.message}${then}`);
  }

  /**
   * The tries of several files failed for one cause that is not theirs (their batch's task
   * failed, or the database did): one warning for them all, not one each, and the files
   * already loaded by an earlier try are recognised by content and skipped when tried again.
   */
  private groupFailed(paths: readonly string[], cause: Cause, what: string): void {
    const retried: string[] = [];
    const givenUp: string[] = [];
    let attempt = 0;
    for (const path of paths) {
      const r = this.tryFailed(path, cause, !cause.database);
      (r.retried ? retried : givenUp).push(path);
      attempt = Math.max(attempt, r.attempt);
    }
    const why = `${cause.code ?? "error"}: ${cause.message}`;
    const named = (files: readonly string[]) => (files.length === 1 ? files[0]! : `${files.length} files (${files[0]}, ...)`);
    if (retried.length > 0) {
      const how = retried.length === 1 ? "" : cause.database ? " together" : " one at a time";
      this.ctx.logger.warn(
        { file: retried[0], files: retried.length, attempt, code: cause.code },
        `tidy: ${named(retried)} not loaded, as ${what}: ${why}; tried again${how} (try ${attempt + 1} of ${this.config.maxAttempts})`,
      );
    }
    if (givenUp.length > 0) {
      const first = this.failed.get(givenUp[0]!)!;
      const until = this.givenUpUntil(first.retryAt);
      // a retry after a wait is one try, not the round's tries again
      const tries = first.retries > 0 ? `on its retry after a wait (retry ${first.retries})` : `after ${attempt} tries`;
      this.ctx.logger.warn(
        { file: givenUp[0], files: givenUp.length, attempt, retries: first.retries, code: cause.code },
        `tidy: ${named(givenUp)} not loaded ${tries}, as ${what}: ${why}; given up ${until}`,
      );
    }
  }

  /** ` for now: tried again at <time> (or at once if it changes)`, or, in `once` mode, that the job fails. */
  private givenUpUntil(retryAt: number): string {
    if (!Number.isFinite(retryAt)) return "(the job fails at its end)";
    return `for now: tried again at the first check after ${new Date(retryAt).toISOString()}, or at once if it changes`;
  }

  /** Counts a failed try of a file: it is tried again now, or given up for now (see FailedFile). */
  private tryFailed(path: string, cause: Cause, alone: boolean): { attempt: number; retried: boolean } {
    const st = this.running.get(path);
    this.running.delete(path);
    const attempt = (this.attempts.get(path) ?? 0) + 1;
    this.attempts.set(path, attempt);
    if (attempt < this.config.maxAttempts && st) {
      this.pending.set(path, st);
      if (alone) this.alone.add(path);
      else this.alone.delete(path);
      return { attempt, retried: true };
    }
    const prev = this.failed.get(path);
    const same = prev?.st !== undefined && st !== undefined && prev.st.size === st.size && prev.st.mtimeMs === st.mtimeMs;
    const retries = prev !== undefined && same ? prev.retries + 1 : 0;
    const wait = RETRY_FAILED_AFTER_MS[Math.min(retries, RETRY_FAILED_AFTER_MS.length - 1)]!;
    const retryAt = this.config.mode === "continuous" ? Date.now() + wait : Number.POSITIVE_INFINITY;
    // deleted first: the last one given up is the panel's last error
    this.failed.delete(path);
    this.failed.set(path, { reason: `${cause.code ?? "error"}: ${cause.message}`, code: cause.code, database: cause.database, st, retries, retryAt, alone });
    this.attempts.delete(path);
    this.alone.delete(path);
    // checks pass it over until it changes or its wait is over (see acceptCheck)
    if (st) this.done.set(path, st);
    return { attempt, retried: false };
  }

  onTaskFailed(task: Task, failure: TaskFailure): void {
    if (task.signature === "check") {
      this.checkRunning = false;
      this.nextCheckAt = Date.now() + this.pollMs;
      this.updateNextCheck();
      return;
    }
    // a last try that did not load every file (see tidyBatch's lastTry): its result comes with it
    const batch = failure.code === "UJR_TIDY_FILE_FAILED" ? (failure.details?.batch as TidyBatchResult | undefined) : undefined;
    if (batch !== undefined && Array.isArray(batch.files)) {
      this.settleBatch(task, batch);
      this.updateNextCheck();
      return;
    }
    const files = this.batches.get(task.signature!) ?? [];
    this.batches.delete(task.signature!);
    // the batch as a whole failed (timeout, crash): files committed before stay committed
    // and are skipped by content next time; each file is tried again alone, as one of them
    // may be the cause
    if (files.length > 0) this.groupFailed(files, { code: failure.code ?? failure.name, message: failure.message + this.timeoutHint(failure, files.length), database: false }, "the batch task failed");
    this.updateNextCheck();
  }

  /**
   * A batch stopped by the job's own `fileTimeout` says so: the runner's message names the
   * limit ("timed out after 10 ms"), not the setting, and a bare number there is
   * milliseconds (`fileTimeout: 10` meant as ten seconds stops every batch).
   */
  private timeoutHint(failure: TaskFailure, files: number): string {
    if (failure.code !== "UJR_TASK_TIMEOUT" || this.config.fileTimeout === undefined) return "";
    const ms = parseDuration(this.config.fileTimeout);
    const setting = typeof this.config.fileTimeout === "number" ? `${this.config.fileTimeout} (a number is milliseconds)` : JSON.stringify(this.config.fileTimeout);
    return ` (the job's fileTimeout, ${setting}, allows ${ms} ms a file: ${files * ms} ms for this batch of ${files}; raise it, e.g. fileTimeout: "10m", or remove it)`;
  }

  /**
   * Inputs that do not exist: a `once` job fails on them (a typo would otherwise end "done"
   * with nothing loaded); a continuous one warns once each (a folder a collector creates later).
   */
  private noteMissing(missing: readonly string[]): void {
    for (const input of missing) {
      if (this.missingInputs.has(input)) continue;
      const why = `input ${JSON.stringify(input)} does not exist (${resolve(this.ctx.configDir, input)})${nearNames(this.ctx.configDir, input)}`;
      this.missingInputs.set(input, why);
      if (this.config.mode === "continuous") this.ctx.logger.warn({ code: "UJR_TIDY_INPUT_MISSING", input }, `tidy: ${why}: it is read once it exists`);
    }
  }

  /**
   * Inputs and folders inside them that could not be read: warned about once each while they
   * last (a check that reads one again says so), failures of a `once` job, and counted among
   * a continuous job's failures, which looks again at every check.
   */
  private noteUnreadable(unreadable: readonly UnreadableFolder[]): void {
    const now = new Set(unreadable.map((u) => u.path));
    for (const path of [...this.unreadable.keys()]) {
      if (now.has(path)) continue;
      this.unreadable.delete(path);
      this.brokenLinks.delete(path);
      this.ctx.logger.info({ folder: path, code: "UJR_TIDY_INPUT_UNREADABLE" }, `tidy: ${path} can be read again: its files are loaded`);
    }
    for (const u of unreadable) {
      if (this.unreadable.has(u.path)) continue;
      if (u.link) {
        const why = `link ${u.path} (under input ${JSON.stringify(u.input)}) is named as a raw file but is ${u.reason}`;
        this.unreadable.set(u.path, why);
        this.brokenLinks.add(u.path);
        this.ctx.logger.warn({ code: "UJR_TIDY_INPUT_UNREADABLE", input: u.input, link: u.path, cause: u.code }, `tidy: ${why}: fix or remove the link; its file loads once the link leads to it`);
        continue;
      }
      const what = u.top ? `input ${JSON.stringify(u.input)} (${u.path})` : `folder ${u.path} (under input ${JSON.stringify(u.input)})`;
      const why = `${what} cannot be read by ${runnerUser()}: ${u.reason}`;
      this.unreadable.set(u.path, why);
      this.ctx.logger.warn({ code: "UJR_TIDY_INPUT_UNREADABLE", input: u.input, folder: u.path, cause: u.code }, `tidy: ${why}: ${TIDY_ERRORS.UJR_TIDY_INPUT_UNREADABLE}`);
    }
  }

  /**
   * A continuous job whose listing of the inputs takes a large share of its poll interval
   * (SLOW_CHECK_SHARE, and at least SLOW_CHECK_MIN_MS) is told so once: it would otherwise
   * keep a core busy looking for new files without a word (a `pollInterval` of 1s over a
   * collection of 100,000 files, each listing ~1 s).
   */
  private noteSlowCheck(files: number, ms: number | undefined): void {
    if (this.warnedSlowCheck || this.config.mode !== "continuous" || ms === undefined) return;
    if (ms < SLOW_CHECK_MIN_MS || ms < this.pollMs * SLOW_CHECK_SHARE) return;
    this.warnedSlowCheck = true;
    const seconds = (n: number) => `${(n / 1000).toFixed(n < 10_000 ? 1 : 0)} s`;
    this.ctx.logger.warn(
      { code: "UJR_TIDY_SLOW_CHECK", files, ms, pollIntervalMs: this.pollMs },
      `tidy: listing the inputs took ${seconds(ms)} for ${files} file(s), against a pollInterval of ${seconds(this.pollMs)}: ${TIDY_ERRORS.UJR_TIDY_SLOW_CHECK}`,
    );
  }

  /** Names the files under the inputs that look like raw data but are not read for their names: once each, so that a user does not take silence for a load. */
  private warnNotRead(notRead: readonly string[]): void {
    const fresh = notRead.filter((p) => !this.warnedNotRead.has(p));
    if (fresh.length === 0) return;
    for (const p of fresh) this.warnedNotRead.add(p);
    this.ctx.logger.warn({ code: "UJR_TIDY_NAME_NOT_READ", files: fresh.length }, `tidy: ${notReadMessage(fresh)}`);
  }

  /**
   * Stability: a file is read only when its size and mtime did not change since the previous
   * check (or it settled for settleTime). A check of a collection of months holds every file
   * loaded so far (100,000, say) and nearly all are unchanged: each costs a map look-up, and
   * the set of the paths found is built only when some file known before was not found.
   */
  private acceptCheck(files: FoundFile[]): void {
    const now = Date.now();
    this.unstable = 0;
    const doneBefore = this.done.size;
    const lastSeenBefore = this.lastSeen.size;
    /** Files of `done` and of `lastSeen` (as they were) found again. */
    let doneFound = 0;
    let lastSeenFound = 0;
    for (const f of files) {
      const d = this.done.get(f.path);
      if (d !== undefined) doneFound++;
      if (d && d.size === f.size && d.mtimeMs === f.mtimeMs) {
        const failed = this.failed.size > 0 ? this.failed.get(f.path) : undefined;
        if (failed === undefined || failed.retryAt > now) continue;
        // given up, and its wait is over: one try more (its last for now), still reported as
        // failed until it loads
        this.done.delete(f.path);
        this.pending.set(f.path, { size: f.size, mtimeMs: f.mtimeMs });
        this.attempts.set(f.path, this.config.maxAttempts - 1);
        if (failed.alone) this.alone.add(f.path);
        continue;
      }
      if (this.running.has(f.path) || this.pending.has(f.path)) continue;
      const cur = { size: f.size, mtimeMs: f.mtimeMs };
      const prev = this.lastSeen.get(f.path);
      if (prev !== undefined) lastSeenFound++;
      const unchanged = prev !== undefined && prev.size === f.size && prev.mtimeMs === f.mtimeMs;
      const settled = now - f.mtimeMs >= this.settleMs;
      if (unchanged || settled) {
        // stable: it waits for its batch; lastSeen holds the files still being written only
        // (it kept every file ever found: a second entry for each of a collection's files)
        if (prev !== undefined) this.lastSeen.delete(f.path);
        this.pending.set(f.path, cur);
        this.attempts.delete(f.path);
      } else {
        this.lastSeen.set(f.path, cur);
        this.unstable++;
      }
    }
    // what is known and was not found: only then are the paths found looked through
    let found: Set<string> | undefined;
    const wasFound = (p: string) => (found ??= new Set(files.map((f) => f.path))).has(p);
    if (lastSeenFound < lastSeenBefore) for (const p of this.lastSeen.keys()) if (!wasFound(p)) this.lastSeen.delete(p);
    // files gone from the inputs (a collector archives and removes its raw files): their
    // state goes too, so that a job running for months holds what is there, not all it saw
    // (one found again is looked up by path, size and time, and not read again)
    if (doneFound < doneBefore) for (const p of this.done.keys()) if (!wasFound(p)) this.done.delete(p);
    // a failed file removed from the inputs is no longer a failure (nor tried again); one in a
    // folder that cannot be read now is still there, as far as anyone knows
    if (this.failed.size > 0) {
      const hidden = [...this.unreadable.keys()].map((dir) => dir + sep);
      for (const p of [...this.failed.keys()]) {
        if (this.pending.has(p) || this.running.has(p) || wasFound(p) || hidden.some((dir) => p.startsWith(dir))) continue;
        this.failed.delete(p);
        this.ctx.logger.info({ file: p }, `tidy: ${p}, which had failed, is gone from the inputs: no longer tried`);
      }
    }
    // an unstable file is looked at again soon; otherwise at the poll interval
    const wait = this.unstable > 0 ? Math.min(this.pollMs, Math.max(50, this.settleMs)) : this.pollMs;
    // once: everything present was seen stable, nothing more to look for
    this.nextCheckAt = this.config.mode === "once" && this.unstable === 0 ? Number.POSITIVE_INFINITY : now + wait;
    this.updateNextCheck();
  }
}
