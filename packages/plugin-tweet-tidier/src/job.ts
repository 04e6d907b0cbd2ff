import { JobDone, JobFailed, closeNames, parseDuration, type Job, type JobContext, type StatusPanel, type Task, type TaskFailure } from "@ujr/core";
import { existsSync, readdirSync } from "node:fs";
import { basename, dirname, isAbsolute, join, relative, resolve } from "node:path";
import { notReadMessage, type FoundFile } from "./discover.js";
import { defaultLoaders, isPostgresUrl } from "./store/index.js";
import type { IngestResult } from "./store/types.js";
import { checkForNewData, tidyBatch, type CheckResult, type TidyBatchArgs, type TidyBatchResult } from "./tasks.js";
import { countResult, emptyTotals, tidierPanel, type LoadTotals } from "./status-panel.js";
import { TIDY_ERRORS } from "./errors.js";

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
  const abs = resolve(configDir, input);
  const parent = dirname(abs);
  let names: string[];
  try {
    names = readdirSync(parent);
  } catch {
    return "";
  }
  const close = closeNames(basename(abs), names);
  if (close.length === 0) return "";
  const shown = close.map((n) => JSON.stringify(relative(configDir, join(parent, n)) || n));
  return ` (did you mean ${shown.join(" or ")}?)`;
}

/** Results a job keeps (see TidyJob.results); its counts keep every file's (TidyJob.totals). */
export const RECENT_RESULTS = 1000;

interface FileState {
  size: number;
  mtimeMs: number;
}

/** A batch task's files stay under these bounds (memory and lost work after a crash are per batch). */
export const BATCH_MAX_BYTES = 256 << 20;
export const BATCH_MAX_FILES = 1024;

/**
 * The `tidy` job: checks its inputs for new raw files, and emits tidyBatch tasks of stable
 * new files (one batch at a time for SQLite, up to `parallel` for PostgreSQL). Each file is
 * its own transaction within a batch; a file that fails is tried again (alone) up to
 * `maxAttempts` times.
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
  private readonly attempts = new Map<string, number>();
  private readonly failed = new Map<string, string>();
  /** Files of which nothing could be loaded (every line bad): a once job fails on them. */
  private readonly nothingLoaded = new Map<string, string>();
  /** Inputs found missing (input → why), each warned about or failed on once. */
  private readonly missingInputs = new Map<string, string>();
  /** Likely raw data passed over for its name, already warned about (a warning each time new ones appear, not each check). */
  private readonly warnedNotRead = new Set<string>();
  private checkRunning = false;
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
  }

  get databaseLocation(): string {
    return isPostgresUrl(this.database) ? "postgres" : this.database;
  }

  /** The dashboard's and `ujr status`'s panel (see status-panel.ts). */
  statusPanel(): StatusPanel {
    // A path under the config's folder is shown relative to it: shorter, and the same on every machine.
    const location = this.databaseLocation;
    const inConfigDir = isAbsolute(location) && !relative(this.ctx.configDir, location).startsWith("..");
    return tidierPanel({ database: inConfigDir ? relative(this.ctx.configDir, location) : location, totals: this.totals, pending: this.pending.size, running: this.running.size, failed: this.failed, unstable: this.unstable, nextCheckAt: this.nextCheckAt });
  }

  getRunnableTasks(): Task[] {
    const now = Date.now();
    const tasks: Task[] = [];
    if (!this.checkRunning && now >= this.nextCheckAt) {
      this.checkRunning = true;
      const warmParser = !isPostgresUrl(this.database);
      tasks.push(checkForNewData.with({ inputs: this.config.inputs, baseDir: this.ctx.configDir, warmParser }, { signature: "check" }));
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
    if (this.missingInputs.size > 0) {
      throw new JobFailed(`${[...this.missingInputs.values()].join("; ")}: ${TIDY_ERRORS.UJR_TIDY_INPUT_MISSING}`);
    }
    const why = [...this.failed, ...this.nothingLoaded];
    if (why.length > 0) {
      const shown = why.slice(0, 10).map(([path, reason]) => `${path} (${reason})`);
      const more = why.length > 10 ? `, and ${why.length - 10} more (see the log)` : "";
      throw new JobFailed(`${why.length} raw file(s) could not be tidied: ${shown.join("; ")}${more}`);
    }
    const partial = this.warnings > 0 ? `; ${this.warnings} partly loaded (bad lines in ingest_errors)` : "";
    const { loaded, partial: partly, skipped } = this.totals;
    throw new JobDone(`tidied ${loaded + partly + skipped} file(s)${partial}`);
  }

  /** The next pending files, in path order, up to the batch bounds (a file retried alone makes a batch of its own). */
  private nextBatch(): Task {
    const files: string[] = [];
    let bytes = 0;
    // PostgreSQL: spread the pending bytes over the parallel loaders
    let pendingBytes = 0;
    for (const st of this.pending.values()) pendingBytes += st.size;
    const maxBytes = Math.min(BATCH_MAX_BYTES, Math.max(1, Math.ceil(pendingBytes / this.maxRunning)));
    for (const [path, st] of this.pending) {
      if (files.length > 0 && (bytes + st.size > maxBytes || files.length >= BATCH_MAX_FILES || this.alone.has(path))) break;
      files.push(path);
      bytes += st.size;
      this.pending.delete(path);
      this.running.set(path, st);
      if (this.alone.has(path)) break;
    }
    const signature = `batch:${files[0]}`;
    this.batches.set(signature, files);
    this.maxConcurrent = Math.max(this.maxConcurrent, this.batches.size);
    const args: TidyBatchArgs = { database: this.database, files };
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
      const check = result as CheckResult;
      this.warnNotRead(check.notRead ?? []);
      this.noteMissing(check.missing ?? []);
      this.acceptCheck(check.files);
      return;
    }
    const files = this.batches.get(task.signature!) ?? [];
    this.batches.delete(task.signature!);
    const seen = new Set<string>();
    for (const o of (result as TidyBatchResult).files) {
      seen.add(o.path);
      if (o.ok) this.fileDone(o.path, o.result);
      else if (o.error.code === "UJR_TIDY_FILE_NOT_FOUND" && !existsSync(o.path)) this.fileGone(o.path);
      else this.fileFailed(o.path, `${o.error.code}: ${o.error.message}`, o.error.code);
    }
    // not reached (the batch stopped early): tried again, not counted as an attempt
    for (const path of files) {
      if (seen.has(path)) continue;
      const st = this.running.get(path);
      this.running.delete(path);
      if (st) this.pending.set(path, st);
    }
    this.updateNextCheck();
  }

  private fileDone(path: string, r: IngestResult): void {
    const st = this.running.get(path);
    this.running.delete(path);
    if (st) this.done.set(path, st);
    this.failed.delete(path);
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
    this.alone.delete(path);
    this.attempts.delete(path);
    this.ctx.logger.info({ file: path, code: "UJR_TIDY_FILE_GONE" }, "tidy: file gone before it was read (moved or deleted since it was found): not loaded");
  }

  private fileFailed(path: string, message: string, code: string | undefined): void {
    const st = this.running.get(path);
    this.running.delete(path);
    const n = (this.attempts.get(path) ?? 0) + 1;
    this.attempts.set(path, n);
    this.ctx.logger.warn({ file: path, attempt: n, code }, `tidy: file failed: ${message}`);
    if (n < this.config.maxAttempts && st) {
      this.pending.set(path, st);
      this.alone.add(path);
    } else {
      this.failed.set(path, message);
      if (st) this.done.set(path, st); // not retried until it changes
    }
  }

  onTaskFailed(task: Task, failure: TaskFailure): void {
    if (task.signature === "check") {
      this.checkRunning = false;
      this.nextCheckAt = Date.now() + this.pollMs;
      this.updateNextCheck();
      return;
    }
    const files = this.batches.get(task.signature!) ?? [];
    this.batches.delete(task.signature!);
    // the batch as a whole failed (timeout, crash, cancel): files committed before stay
    // committed and are skipped by content next time; each file is tried again alone
    for (const path of files) this.fileFailed(path, `${failure.code ?? failure.name}: ${failure.message}`, failure.code);
    this.updateNextCheck();
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

  /** Names the files under the inputs that look like raw data but are not read for their names: once each, so that a user does not take silence for a load. */
  private warnNotRead(notRead: readonly string[]): void {
    const fresh = notRead.filter((p) => !this.warnedNotRead.has(p));
    if (fresh.length === 0) return;
    for (const p of fresh) this.warnedNotRead.add(p);
    this.ctx.logger.warn({ code: "UJR_TIDY_NAME_NOT_READ", files: fresh.length }, `tidy: ${notReadMessage(fresh)}`);
  }

  /** Stability: a file is read only when its size and mtime did not change since the previous check (or it settled for settleTime). */
  private acceptCheck(files: FoundFile[]): void {
    const now = Date.now();
    this.unstable = 0;
    const seen = new Set<string>();
    for (const f of files) {
      seen.add(f.path);
      const cur = { size: f.size, mtimeMs: f.mtimeMs };
      const d = this.done.get(f.path);
      if (d && d.size === f.size && d.mtimeMs === f.mtimeMs) continue;
      if (this.running.has(f.path) || this.pending.has(f.path)) continue;
      const prev = this.lastSeen.get(f.path);
      this.lastSeen.set(f.path, cur);
      const unchanged = prev !== undefined && prev.size === f.size && prev.mtimeMs === f.mtimeMs;
      const settled = now - f.mtimeMs >= this.settleMs;
      if (unchanged || settled) {
        this.pending.set(f.path, cur);
        this.attempts.delete(f.path);
      } else this.unstable++;
    }
    for (const p of this.lastSeen.keys()) if (!seen.has(p)) this.lastSeen.delete(p);
    // files gone from the inputs (a collector archives and removes its raw files): their
    // state goes too, so that a job running for months holds what is there, not all it saw
    // (one found again is looked up by path, size and time, and not read again)
    for (const p of this.done.keys()) if (!seen.has(p)) this.done.delete(p);
    // an unstable file is looked at again soon; otherwise at the poll interval
    const wait = this.unstable > 0 ? Math.min(this.pollMs, Math.max(50, this.settleMs)) : this.pollMs;
    // once: everything present was seen stable, nothing more to look for
    this.nextCheckAt = this.config.mode === "once" && this.unstable === 0 ? Number.POSITIVE_INFINITY : now + wait;
    this.updateNextCheck();
  }
}
