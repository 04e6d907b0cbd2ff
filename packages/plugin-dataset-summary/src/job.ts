/**
 * The `summary` job: decides when a run is due (src/schedule.ts), emits one runQueries
 * task per run and, once its results are stored, one notifyTarget task per target. A
 * failed notification is emitted again later (backoff) without running the queries
 * again. State (last run, watermark, pending notifications) is persisted in stateDir, so
 * a restart catches up a missed run once and finishes pending notifications.
 *
 * A failed run: within one process the failed slot counts as taken (a scheduled job
 * tries again at its next slot, a one-off job fails); a new process (a restart, a config
 * change) runs a job whose stored last run failed again at once, whatever its schedule.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { JobDone, JobFailed, closePaths, registerSecret, type Job, type JobContext, type StatusPanel, type Task, type TaskFailure } from "@ujr/core";
import { noSpaceCode, refusalReason, tryMakeFolders, type FolderRefusal, type makeFolders } from "@ujr/core/task";
import { targetName, type SummaryConfig, type TargetConfig } from "./config.js";
import type { Manifest, QuerySpec } from "./manifest.js";
import type { NotifyArgs } from "./notify/send.js";
import { outputError, type RunQueriesArgs } from "./run.js";
import { folderTargetError } from "./notify/folder.js";
import { FolderRefused } from "./internal/folders.js";
import { isPostgresUrl } from "./internal/database-url.js";
import { afterClockWentBack, isDue, missedSlotCount, nextRunAt, recordRun, startWaiting, systemClock, type Clock, type Schedule } from "./schedule.js";
import { STATE_FILE, loadState, saveState, type SummaryState } from "./state.js";
import { notifyTarget, runQueries } from "./tasks.js";
import { summaryPanel } from "./status-panel.js";

export function toSchedule(s: SummaryConfig["schedule"]): Schedule {
  if (s.once) return { kind: "once" };
  if (s.every !== undefined) return { kind: "interval", everyMs: s.every };
  return { kind: "cron", expressions: Array.isArray(s.cron) ? s.cron : [s.cron!], timezone: s.timezone, runOnStart: s.runOnStart };
}

/** The query list handed to the task: paths resolved, defaults applied. */
export function toQuerySpecs(config: SummaryConfig, configDir: string): QuerySpec[] {
  return config.queries.map((q) => {
    const base = { name: q.name, title: q.title, timeoutMs: q.timeout ?? config.queryTimeout, maxRows: q.maxRows ?? config.maxRows, chart: q.chart };
    if ("builtin" in q) {
      return { ...base, builtin: q.builtin, options: { ...(q.interval ? { interval: q.interval } : {}), ...(q.limit ? { limit: q.limit } : {}) } };
    }
    if ("file" in q) return { ...base, file: path.resolve(configDir, q.file), params: q.params };
    return { ...base, sql: q.sql, params: q.params };
  });
}

/**
 * The check when a job is made (`ujr validate`, the start of `ujr run`): the folders a run
 * and a folder target write, `<outDir>/<job>` and each folder target's `<path>/<job>`, are
 * made as they will be (one plain mkdir per level) and removed again (tryMakeFolders), so that
 * the check leaves nothing behind and a folder that was there is left alone. One that cannot
 * be made (a kernel filesystem such as /proc or /sys, a read-only one, a file in the way) is
 * thrown as the run's UJR_SUMMARY_OUTPUT or the notification's UJR_SUMMARY_FOLDER_FAILED
 * would say it, before any task runs. A full disk or quota is no reason not to make the job
 * (space may be freed before its first run; the run then says so): it is logged as a warning.
 */
export function checkFolders(config: Pick<SummaryConfig, "outDir" | "notify">, ctx: Pick<JobContext, "name" | "configDir" | "logger">, make?: typeof makeFolders): void {
  const fullDisk = (dir: string, refused: FolderRefusal, what: string): boolean => {
    const code = noSpaceCode(refused.error);
    if (code === undefined) return false;
    ctx.logger.warn(
      { job: ctx.name, dir, code },
      `${what} ${dir} cannot be made now: ${refused.parent} ${refusalReason(refused)}. The job is made all the same: space may be freed before it writes there.`,
    );
    return true;
  };
  const jobDir = path.join(path.resolve(ctx.configDir, config.outDir), ctx.name);
  const refused = tryMakeFolders(jobDir, make);
  if (refused !== undefined && !fullDisk(jobDir, refused, "the job's folder in outDir")) {
    throw outputError(new FolderRefused(refused), ctx.name, jobDir, "create its run folder");
  }
  for (const target of config.notify) {
    if (target.type !== "folder") continue;
    // as the notification copies it: `path` from the config's folder (see the constructor)
    const targetPath = path.resolve(ctx.configDir, target.path);
    const dir = path.join(targetPath, ctx.name);
    const refusedTarget = tryMakeFolders(dir, make);
    if (refusedTarget !== undefined && !fullDisk(dir, refusedTarget, `folder target "${targetPath}": the folder`)) throw folderTargetError(targetPath, dir, refusedTarget);
  }
}

/** How often a scheduled job whose SQLite database does not exist yet looks for it again. */
export const DATABASE_RECHECK_MS = 10_000;

function backoff(attempt: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
}

export interface SummaryJobOptions {
  clock?: Clock;
}

export class SummaryJob implements Job {
  readonly name: string;
  nextCheck: number | undefined;
  readonly #config: SummaryConfig;
  readonly #ctx: JobContext;
  readonly #schedule: Schedule;
  readonly #clock: Clock;
  readonly #targets: Map<string, TargetConfig>;
  #state: SummaryState | undefined;
  #running: { startedAt: number } | undefined;
  readonly #notifying = new Set<string>();
  /** The stored last run failed (in an earlier process): run again now, whatever the schedule. */
  #retryStoredFailure = false;
  /** The last run's start whose being in the future (the clock went back) was logged. */
  #clockBackLogged: number | undefined;
  /** The SQLite file a due run waits for (it does not exist yet: the tidier makes it with its first file). */
  #waitingForDatabase: string | undefined;
  /** A run of this job settled in this process (a `once` job that ends without one ran in an earlier process). */
  #ranHere = false;

  constructor(config: SummaryConfig, ctx: JobContext, options: SummaryJobOptions = {}) {
    this.name = ctx.name;
    this.#config = config;
    this.#ctx = ctx;
    this.#schedule = toSchedule(config.schedule);
    this.#clock = options.clock ?? systemClock;
    // a folder target's relative path, like outDir and database, is from the config's folder
    this.#targets = new Map(config.notify.map((t, i) => [targetName(t, i), t.type === "folder" ? { ...t, path: path.resolve(ctx.configDir, t.path) } : t]));
    for (const t of config.notify) {
      if (t.type === "webhook") {
        registerSecret(t.url);
        for (const v of Object.values(t.headers ?? {})) registerSecret(v);
      }
      if (t.type === "email") registerSecret(t.password);
    }
    if (isPostgresUrl(config.database)) {
      try {
        registerSecret(decodeURIComponent(new URL(config.database).password));
      } catch {
        /* invalid URL: reported when the run opens it */
      }
    }
    // a folder the run or a folder target cannot make (a file in the way, a path under /proc
    // or /sys, a read-only disk) is said now, by `ujr validate` too, rather than by the first
    // run; what the check makes it removes again
    checkFolders(config, ctx);
  }

  /** For status views and tests. */
  get state(): Readonly<SummaryState> | undefined {
    return this.#state;
  }

  /** The dashboard's and `ujr status`'s panel (see status-panel.ts). */
  statusPanel(): StatusPanel {
    const now = this.#clock.now();
    const nextRun = this.#state ? nextRunAt(this.#schedule, this.#state, now) : null;
    return summaryPanel(
      {
        job: this.name,
        schedule: this.#schedule,
        state: this.#state,
        nextRunAt: nextRun,
        running: this.#running !== undefined,
        reportBaseUrl: this.#config.reportBaseUrl,
        waitingForDatabase: this.#waitingForDatabase,
      },
      now,
    );
  }

  async #load(): Promise<SummaryState> {
    if (!this.#state) {
      this.#state = await loadState(this.#ctx.stateDir);
      const now = this.#clock.now();
      const missed = missedSlotCount(this.#schedule, this.#state, now);
      if (missed > 0) this.#ctx.logger.info({ job: this.name, missed }, `${missed} scheduled run(s) were missed while the runner was down: running once now`);
      // A target removed from the config has nothing to notify any more.
      this.#state.pending = this.#state.pending.filter((p) => this.#targets.has(p.target));
      // A stored failure is history, not a verdict: its cause (a full disk, a locked or
      // missing database) may be gone, and a one-off job would otherwise never run again.
      if (this.#state.lastError !== undefined) {
        this.#retryStoredFailure = true;
        const { code, message } = this.#state.lastError;
        this.#ctx.logger.info({ job: this.name, code }, `the last summary run failed (${code}: ${message}): running it again now`);
      }
      if (this.#state.lastRunAt === undefined && this.#state.waitingSince === undefined) {
        Object.assign(this.#state, startWaiting(this.#state, now));
        await saveState(this.#ctx.stateDir, this.#state);
      }
    }
    return this.#state;
  }

  #key(runId: string, target: string): string {
    return `${target}\u0000${runId}`;
  }

  async getRunnableTasks(): Promise<Task[]> {
    const state = await this.#load();
    const now = this.#clock.now();
    await this.#clockWentBack(state, now);
    const tasks: Task[] = [];
    let wake = Infinity;

    for (const p of state.pending) {
      const key = this.#key(p.runId, p.target);
      if (this.#notifying.has(key)) continue;
      if (p.notBefore > now) {
        wake = Math.min(wake, p.notBefore);
        continue;
      }
      const args: NotifyArgs = { job: this.name, runDir: p.runDir, targetName: p.target, target: this.#targets.get(p.target)!, reportBaseUrl: this.#config.reportBaseUrl };
      tasks.push(notifyTarget.with(args, { signature: `notify:${p.target}:${p.runId}`, timeoutMs: 10 * 60_000, retry: 1 }));
      this.#notifying.add(key);
    }

    const due = !this.#running && (this.#retryStoredFailure || isDue(this.#schedule, state, now));
    const missing = due ? this.#missingDatabase() : undefined;
    if (missing !== undefined) {
      // A pipeline's first start: the tidier beside this job has not made the database
      // yet. A scheduled run waits for it rather than fail (once a run, with an error).
      if (this.#waitingForDatabase !== missing) {
        this.#ctx.logger.warn(
          { code: "UJR_SUMMARY_DB_OPEN", database: missing },
          `SQLite database "${missing}" does not exist yet: the due summary run waits for it (a tidy job makes it when it loads its first file). ` +
            `If no job writes it, check the job's "database" setting (relative paths are resolved from the config file's folder).`,
        );
      }
      this.#waitingForDatabase = missing;
      wake = Math.min(wake, now + DATABASE_RECHECK_MS);
    } else if (!this.#running) {
      if (this.#waitingForDatabase !== undefined) {
        this.#ctx.logger.info({ database: this.#waitingForDatabase }, `SQLite database "${this.#waitingForDatabase}" exists now: the summary run starts`);
        this.#waitingForDatabase = undefined;
      }
      if (due) {
        this.#retryStoredFailure = false;
        const range = this.#config.range;
        const from = range?.last !== undefined ? new Date(now - range.last).toISOString() : range?.from ? new Date(range.from).toISOString() : null;
        const to = range?.to ? new Date(range.to).toISOString() : null;
        const args: RunQueriesArgs = {
          job: this.name,
          database: this.#config.database,
          baseDir: this.#ctx.configDir,
          outDir: path.resolve(this.#ctx.configDir, this.#config.outDir),
          keep: this.#config.keep,
          queries: toQuerySpecs(this.#config, this.#ctx.configDir),
          from,
          to,
          since: state.since ?? null,
          title: this.#config.title,
          protect: [...new Set(state.pending.map((p) => p.runId))],
        };
        tasks.push(runQueries.with(args, { signature: "run", timeoutMs: this.#config.runTimeout, retry: 1 }));
        this.#running = { startedAt: now };
      } else {
        const next = nextRunAt(this.#schedule, state, now);
        if (next !== null) wake = Math.min(wake, next);
      }
    }

    if (tasks.length === 0 && !this.#running && this.#notifying.size === 0 && state.pending.length === 0 && nextRunAt(this.#schedule, state, now) === null) {
      if (state.lastError && this.#schedule.kind === "once") {
        throw new JobFailed(`the summary run failed: ${state.lastError.code}: ${state.lastError.message}`, { causes: [state.lastError.code] });
      }
      if (this.#schedule.kind === "once" && !this.#ranHere) this.#saidAlreadyRan(state);
      throw new JobDone(`summary "${this.name}" ran once`);
    }
    this.nextCheck = tasks.length > 0 || this.#running || this.#notifying.size > 0 ? (wake === Infinity ? undefined : wake) : wake === Infinity ? undefined : wake;
    return tasks;
  }

  /** The SQLite file of a scheduled (every, cron) job when it does not exist; undefined otherwise. */
  #missingDatabase(): string | undefined {
    const file = this.#schedule.kind === "once" ? undefined : this.#sqliteFile();
    return file === undefined || existsSync(file) ? undefined : file;
  }

  /** The SQLite file `database` names (from the config's folder); undefined for a postgres:// URL. */
  #sqliteFile(): string | undefined {
    return isPostgresUrl(this.#config.database) ? undefined : path.resolve(this.#ctx.configDir, this.#config.database);
  }

  /**
   * What a run that found no SQLite database is told besides: a near name in its folder (a
   * typo), and for a `once` job, which starts with the run and does not wait, that the tidy
   * job of the same config has not made it yet (jobs start together; there is no order).
   */
  #missingDatabaseHint(code: string): string {
    const file = this.#sqliteFile();
    if (code !== "UJR_SUMMARY_DB_OPEN" || file === undefined || existsSync(file)) return "";
    const near = closePaths(this.#ctx.configDir, this.#config.database);
    const typo = near.length > 0 ? ` Did you mean ${near.map((n) => JSON.stringify(n)).join(" or ")}?` : "";
    if (this.#schedule.kind !== "once") return typo;
    return (
      typo +
      ` If a tidy job of the same config makes it: a summary with "once: true" starts with the run and does not wait for the database, so run the tidy job first` +
      ` (ujr run --job <tidy job>, then ujr run --job ${this.name}), or give this summary a schedule ("every" or "cron"), which waits until the database exists.`
    );
  }

  /**
   * A `once` job that ran in an earlier process ends without a run ("0 task(s) done"): says
   * so, with when and where its report is, rather than leave an old report looking new.
   */
  #saidAlreadyRan(state: SummaryState): void {
    const at = state.lastRunAt === undefined ? "before" : `at ${new Date(state.lastRunAt).toISOString()}`;
    const report = state.lastRunDir === undefined ? "" : `, report ${path.join(state.lastRunDir, "report.html")}`;
    this.#ctx.logger.info(
      { job: this.name, lastRunAt: state.lastRunAt === undefined ? null : new Date(state.lastRunAt).toISOString() },
      `summary "${this.name}" (once: true) ran ${at}${report}: a once summary runs its queries once for good, so they are not run again now. ` +
        `For a new report, remove ${path.join(this.#ctx.stateDir, STATE_FILE)} (the job's state) and run it again, ` +
        `or give it a schedule ("every" or "cron") in a runner that keeps running.`,
    );
  }

  /** A clock set back (NTP, by hand) before the last run's start: schedule from the new time (schedule.ts). */
  async #clockWentBack(state: SummaryState, now: number): Promise<void> {
    const back = afterClockWentBack(this.#schedule, state, now);
    if (!back) return;
    const changed = back.state.lastRunAt !== state.lastRunAt || back.state.waitingSince !== state.waitingSince;
    const anchor = state.lastRunAt ?? state.waitingSince;
    if (changed) {
      Object.assign(state, back.state);
      await saveState(this.#ctx.stateDir, state);
    }
    if (back.wentBackMs < 1000 || (!changed && this.#clockBackLogged === anchor)) return;
    this.#clockBackLogged = anchor;
    const next = nextRunAt(this.#schedule, state, now);
    const seconds = Math.round(back.wentBackMs / 1000);
    this.#ctx.logger.info(
      { wentBackMs: back.wentBackMs, nextRunAt: next === null ? null : new Date(next).toISOString() },
      `the clock is ${seconds} s before the ${state.lastRunAt === undefined && !changed ? "time this job began waiting" : "last run's start"} (it was set back): ` +
        (changed
          ? `the schedule goes on from now; next run ${next === null ? "none" : new Date(next).toISOString()}`
          : `the next run stays at ${next === null ? "none" : new Date(next).toISOString()}, so that the slot gone back over is not run twice`),
    );
  }

  async onTaskDone(task: Task, result: unknown): Promise<void> {
    const state = await this.#load();
    if (task.ref.export === "runQueries") {
      this.#ranHere = true;
      const manifest = result as Manifest;
      const startedAt = this.#running?.startedAt ?? this.#clock.now();
      this.#running = undefined;
      Object.assign(state, recordRun(state, startedAt));
      state.since = manifest.watermark ?? state.since ?? null;
      state.lastRunId = manifest.runId;
      state.lastRunDir = manifest.dir;
      state.lastError = undefined;
      for (const [name, t] of this.#targets) {
        if (t.on === "errors" && manifest.ok) continue;
        if (t.on === "success" && !manifest.ok) continue;
        state.pending.push({ runId: manifest.runId, runDir: manifest.dir, target: name, attempts: 0, notBefore: 0 });
      }
      await saveState(this.#ctx.stateDir, state);
      this.nextCheck = undefined;
      return;
    }
    if (task.ref.export === "notifyTarget") {
      const args = task.args as NotifyArgs;
      const runId = path.basename(args.runDir);
      this.#notifying.delete(this.#key(runId, args.targetName));
      state.pending = state.pending.filter((p) => !(p.target === args.targetName && p.runId === runId));
      await saveState(this.#ctx.stateDir, state);
      this.nextCheck = undefined;
    }
  }

  async onTaskFailed(task: Task, failure: TaskFailure): Promise<void> {
    const state = await this.#load();
    const error = { code: failure.code ?? failure.name, message: failure.message };
    if (task.ref.export === "runQueries") {
      this.#ranHere = true;
      error.message += this.#missingDatabaseHint(error.code);
      const startedAt = this.#running?.startedAt ?? this.#clock.now();
      this.#running = undefined;
      // The slot counts as taken: the next run follows the schedule (no hot loop).
      Object.assign(state, recordRun(state, startedAt));
      state.lastError = error;
      this.#ctx.logger.error({ job: this.name, code: error.code }, `summary run failed: ${error.message}`);
      await saveState(this.#ctx.stateDir, state);
      this.nextCheck = undefined;
      return;
    }
    if (task.ref.export === "notifyTarget") {
      const args = task.args as NotifyArgs;
      const runId = path.basename(args.runDir);
      this.#notifying.delete(this.#key(runId, args.targetName));
      const p = state.pending.find((x) => x.target === args.targetName && x.runId === runId);
      if (p) {
        p.attempts++;
        const retry = this.#config.notifyRetry;
        if (p.attempts >= retry.attempts || error.code === "UJR_SUMMARY_NO_RESULTS" || error.code === "UJR_SUMMARY_CONFIG") {
          state.pending = state.pending.filter((x) => x !== p);
          this.#ctx.logger.error({ job: this.name, target: p.target, runId, code: error.code }, `notification to "${p.target}" given up after ${p.attempts} attempt(s): ${error.message}`);
        } else {
          p.notBefore = this.#clock.now() + backoff(p.attempts, retry.base, retry.max);
          this.#ctx.logger.warn({ job: this.name, target: p.target, runId, code: error.code, attempt: p.attempts }, `notification to "${p.target}" failed; trying again later: ${error.message}`);
        }
      }
      await saveState(this.#ctx.stateDir, state);
      this.nextCheck = undefined;
    }
  }
}
