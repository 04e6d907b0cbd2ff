import { JobDone, JobFailed, parseDuration, type Job, type JobContext, type StatusPanel, type Task, type TaskFailure } from "@ujr/core";
import { isAbsolute, join, relative, resolve } from "node:path";
import type { FoundFile } from "./discover.js";
import { isPostgresUrl } from "./store/index.js";
import type { IngestResult } from "./store/types.js";
import { checkForNewData, tidyFile, type CheckResult, type TidyFileArgs } from "./tasks.js";
import { tidierPanel } from "./status-panel.js";

export interface TidyJobConfig {
  inputs: string[];
  database?: string | undefined;
  mode: "continuous" | "once";
  pollInterval: string | number;
  settleTime: string | number;
  parallel: number;
  maxAttempts: number;
  fileTimeout?: string | number | undefined;
}

/** Resolves the `database` setting: unset → `<stateDir>/tidy.sqlite`; a relative path → from the config folder. */
export function resolveDatabase(database: string | undefined, ctx: Pick<JobContext, "stateDir" | "configDir">): string {
  if (database === undefined || database === "") return join(ctx.stateDir, "tidy.sqlite");
  if (isPostgresUrl(database) || database === ":memory:" || isAbsolute(database)) return database;
  return resolve(ctx.configDir, database);
}

interface FileState {
  size: number;
  mtimeMs: number;
}

/**
 * The `tidy` job: checks its inputs for new raw files, and emits one tidyFile task per
 * stable new file (one at a time for SQLite, `parallel` at a time for PostgreSQL).
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
  private readonly running = new Map<string, FileState>();
  private readonly attempts = new Map<string, number>();
  private readonly failed = new Map<string, string>();
  private checkRunning = false;
  private nextCheckAt = 0;
  private unstable = 0;
  private checks = 0;
  readonly results: IngestResult[] = [];
  /** Most tidyFile tasks this job had running at once (1 for SQLite). */
  maxConcurrent = 0;

  constructor(
    private readonly config: TidyJobConfig,
    private readonly ctx: JobContext,
  ) {
    this.name = ctx.name;
    this.database = resolveDatabase(config.database, ctx);
    this.pollMs = parseDuration(config.pollInterval);
    this.settleMs = parseDuration(config.settleTime);
    this.maxRunning = isPostgresUrl(this.database) ? Math.max(1, config.parallel) : 1;
  }

  get databaseLocation(): string {
    return isPostgresUrl(this.database) ? "postgres" : this.database;
  }

  /** The dashboard's and `ujr status`'s panel (see status-panel.ts). */
  statusPanel(): StatusPanel {
    // A path under the config's folder is shown relative to it: shorter, and the same on every machine.
    const location = this.databaseLocation;
    const inConfigDir = isAbsolute(location) && !relative(this.ctx.configDir, location).startsWith("..");
    return tidierPanel({ database: inConfigDir ? relative(this.ctx.configDir, location) : location, results: this.results, pending: this.pending.size, running: this.running.size, failed: this.failed, unstable: this.unstable, nextCheckAt: this.nextCheckAt });
  }

  getRunnableTasks(): Task[] {
    const now = Date.now();
    const tasks: Task[] = [];
    if (!this.checkRunning && now >= this.nextCheckAt) {
      this.checkRunning = true;
      tasks.push(checkForNewData.with({ inputs: this.config.inputs, baseDir: this.ctx.configDir }, { signature: "check" }));
    }
    for (const [path, st] of this.pending) {
      if (this.running.size >= this.maxRunning) break;
      this.pending.delete(path);
      this.running.set(path, st);
      this.maxConcurrent = Math.max(this.maxConcurrent, this.running.size);
      const args: TidyFileArgs = { database: this.database, file: path };
      tasks.push(
        tidyFile.with(args, {
          signature: path,
          ...(this.config.fileTimeout !== undefined ? { timeoutMs: parseDuration(this.config.fileTimeout) } : {}),
        }),
      );
    }
    if (
      this.config.mode === "once" &&
      tasks.length === 0 &&
      !this.checkRunning &&
      this.checks > 0 &&
      this.unstable === 0 &&
      this.pending.size === 0 &&
      this.running.size === 0
    ) {
      if (this.failed.size > 0) {
        throw new JobFailed(`${this.failed.size} raw file(s) could not be tidied: ${[...this.failed.keys()].join(", ")}`);
      }
      throw new JobDone(`tidied ${this.results.length} file(s)`);
    }
    this.updateNextCheck();
    return tasks;
  }

  private updateNextCheck(): void {
    if (this.pending.size > 0 && this.running.size < this.maxRunning) this.nextCheck = undefined;
    else if (this.checkRunning || !Number.isFinite(this.nextCheckAt)) this.nextCheck = undefined;
    else this.nextCheck = this.nextCheckAt;
  }

  onTaskDone(task: Task, result: unknown): void {
    if (task.signature === "check") {
      this.checkRunning = false;
      this.checks++;
      this.acceptCheck((result as CheckResult).files);
      return;
    }
    const path = task.signature!;
    const st = this.running.get(path);
    this.running.delete(path);
    if (st) this.done.set(path, st);
    this.failed.delete(path);
    const r = result as IngestResult;
    this.results.push(r);
    this.ctx.logger.info(
      { file: path, status: r.status, pages: r.pages, tweets: r.tweets, errors: r.errors },
      `tidy: ${r.status}`,
    );
    this.updateNextCheck();
  }

  onTaskFailed(task: Task, failure: TaskFailure): void {
    if (task.signature === "check") {
      this.checkRunning = false;
      this.nextCheckAt = Date.now() + this.pollMs;
      this.updateNextCheck();
      return;
    }
    const path = task.signature!;
    const st = this.running.get(path);
    this.running.delete(path);
    const n = (this.attempts.get(path) ?? 0) + 1;
    this.attempts.set(path, n);
    const message = `${failure.code ?? failure.name}: ${failure.message}`;
    this.ctx.logger.warn({ file: path, attempt: n, code: failure.code }, `tidy: file failed: ${failure.message}`);
    if (n < this.config.maxAttempts && st) {
      this.pending.set(path, st);
    } else {
      this.failed.set(path, message);
      if (st) this.done.set(path, st); // not retried until it changes
    }
    this.updateNextCheck();
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
    // an unstable file is looked at again soon; otherwise at the poll interval
    const wait = this.unstable > 0 ? Math.min(this.pollMs, Math.max(50, this.settleMs)) : this.pollMs;
    // once: everything present was seen stable, nothing more to look for
    this.nextCheckAt = this.config.mode === "once" && this.unstable === 0 ? Number.POSITIVE_INFINITY : now + wait;
    this.updateNextCheck();
  }
}
