import { EventEmitter } from "node:events";
import { randomBytes } from "node:crypto";
import { pathToFileURL } from "node:url";
import type { Executor, TaskFailure, TaskOutcome, TaskRun } from "./executor.js";
import { toTaskFailure } from "./executor.js";
import { isJobDone, isJobFailed, nextCheckMs, type Job } from "./job.js";
import { silentLogger, type Logger } from "./logger.js";
import { retryDelay, type RetryPolicy } from "./retry.js";
import { taskIdentity, taskLabel, whyNotATask, type Task } from "./task.js";
import { ujrError } from "./errors.js";
import type { RunnerEvents, RunResult, TaskEvent } from "./events.js";

export interface JobSettings {
  maxTasksPerJob?: number | undefined;
  taskTimeout?: number | undefined;
  retry?: RetryPolicy | undefined;
  /** Folders (paths or file URLs) that bare task module specifiers resolve from. */
  resolveFrom?: string[] | undefined;
}

export interface JobEntry {
  job: Job;
  settings?: JobSettings;
}

/** What `getChangedJobs` returns: jobs to delete (by name) and jobs to create. */
export interface JobChanges {
  remove?: string[];
  add?: Array<Job | JobEntry>;
}

export interface RunnerOptions {
  executor: Executor;
  jobs?: Iterable<Job | JobEntry>;
  logger?: Logger;
  /** Most tasks of one job running at once; default: the executor's size. */
  maxTasksPerJob?: number;
  /** Upper bound (ms) between rounds and between checks for changed jobs; events wake the loop sooner. */
  checkInterval?: number;
  /** Default task timeout (ms). */
  taskTimeout?: number;
  /** Default retry policy. */
  retry?: RetryPolicy;
  /** Backoff after a job's getRunnableTasks throws: doubles from baseMs up to maxMs. */
  jobErrorBackoff?: { baseMs?: number; maxMs?: number };
  /** Return from run() once no job is left (default true). */
  exitWhenIdle?: boolean;
  /** Default grace period (ms) for stop(). */
  shutdownGrace?: number;
  /** Default folders bare task module specifiers resolve from (default: the working directory). */
  resolveFrom?: string | string[];
  random?: () => number;
}

type JobStatus = "active" | "draining" | "closing" | "done" | "failed" | "removed";

interface Counters {
  started: number;
  done: number;
  failed: number;
  timedOut: number;
  retried: number;
  cancelled: number;
}

interface JobState {
  job: Job;
  name: string;
  settings: JobSettings;
  resolveFrom: string[];
  status: JobStatus;
  running: Map<string, RunningTask>;
  backoffUntil: number;
  errorStreak: number;
  lastError?: TaskFailure | undefined;
  failure?: TaskFailure | undefined;
  counters: Counters;
}

interface RunningTask {
  runId: string;
  identity: string;
  state: JobState;
  task: Task;
  label: string;
  attempt: number;
  phase: "running" | "waiting" | "ready";
  startedAt: number;
  timer?: NodeJS.Timeout | undefined;
  retryTimer?: NodeJS.Timeout | undefined;
  timedOut: boolean;
  timeoutMs?: number | undefined;
  cancelReason?: TaskFailure | undefined;
  progress?: { done?: number; total?: number; message?: string } | undefined;
}

export interface JobSnapshot {
  name: string;
  status: JobStatus;
  nextCheck?: string | undefined;
  backoffUntil?: string | undefined;
  running: number;
  waitingRetry: number;
  counters: Counters;
  lastError?: TaskFailure | undefined;
}

export interface RunnerSnapshot {
  state: "idle" | "running" | "stopping" | "stopped";
  startedAt?: string | undefined;
  jobs: JobSnapshot[];
  running: Array<{
    runId: string;
    job: string;
    task: string;
    signature?: string | undefined;
    attempt: number;
    startedAt: string;
    progress?: { done?: number; total?: number; message?: string } | undefined;
  }>;
  totals: Counters;
  executor: { size: number; free: number };
  /** Tasks waiting for a retry or for capacity to retry. */
  queueDepth: number;
}

function newCounters(): Counters {
  return { started: 0, done: 0, failed: 0, timedOut: 0, retried: 0, cancelled: 0 };
}

function toFolderUrl(folder: string): string {
  if (folder.startsWith("file:")) return folder.endsWith("/") ? folder : `${folder}/`;
  const url = pathToFileURL(folder).href;
  return url.endsWith("/") ? url : `${url}/`;
}

/**
 * The runner loop: keeps the set of jobs, asks each for tasks, runs them on an executor
 * as capacity allows, deduplicates by signature, catches successes and failures, and
 * reports state. Independent of where tasks execute.
 *
 * It is event-driven: a finished task, a job's nextCheck arriving, a retry coming due,
 * changed jobs or stop() wake it at once; `checkInterval` is only an upper bound.
 */
export class Runner extends EventEmitter<RunnerEvents> {
  protected readonly executor: Executor;
  protected readonly logger: Logger;
  readonly #jobs = new Map<string, JobState>();
  readonly #byRunId = new Map<string, RunningTask>();
  readonly #readyRetries: RunningTask[] = [];
  readonly #initialJobs: Array<Job | JobEntry>;
  readonly #maxTasksPerJob: number;
  readonly #checkInterval: number;
  readonly #taskTimeout: number | undefined;
  readonly #retry: RetryPolicy | undefined;
  readonly #errorBackoff: { baseMs: number; maxMs: number };
  readonly #exitWhenIdle: boolean;
  readonly #defaultGrace: number;
  readonly #resolveFrom: string[];
  readonly #random: () => number;
  readonly #idPrefix = randomBytes(4).toString("hex");
  readonly #totals = newCounters();
  readonly #failedJobs: string[] = [];
  #seq = 0;
  #active = 0;
  #cursor = 0;
  #phase: "idle" | "running" | "stopping" | "stopped" = "idle";
  #startedAt: number | undefined;
  #graceMs = 0;
  #stopReason = "stop requested";
  #forceStop: (() => void) | undefined;
  #forced = false;
  #wakeRequested = false;
  #sleeper: (() => void) | undefined;
  #changesRequested = false;
  #changesCheckAt = 0;
  #idleWaiters: Array<() => void> = [];
  #startsReported = false;
  /** Per-task info lines are skipped cheaply when the level hides them (hot path). */
  get #logInfo(): boolean {
    return this.logger.isLevelEnabled("info");
  }

  constructor(options: RunnerOptions) {
    super();
    this.executor = options.executor;
    this.logger = options.logger ?? silentLogger();
    this.#initialJobs = [...(options.jobs ?? [])];
    this.#maxTasksPerJob = options.maxTasksPerJob ?? Math.max(1, options.executor.size);
    this.#checkInterval = options.checkInterval ?? 60_000;
    this.#taskTimeout = options.taskTimeout;
    this.#retry = options.retry;
    this.#errorBackoff = { baseMs: options.jobErrorBackoff?.baseMs ?? 1000, maxMs: options.jobErrorBackoff?.maxMs ?? 300_000 };
    this.#exitWhenIdle = options.exitWhenIdle ?? true;
    this.#defaultGrace = options.shutdownGrace ?? 30_000;
    const resolveFrom = options.resolveFrom ?? process.cwd();
    this.#resolveFrom = (Array.isArray(resolveFrom) ? resolveFrom : [resolveFrom]).map(toFolderUrl);
    this.#random = options.random ?? Math.random;
    this.executor.setProgressListener?.((runId, progress) => this.reportProgress(runId, progress));
    if (this.executor.setStartListener) {
      this.#startsReported = true;
      this.executor.setStartListener((runId) => this.#onStarted(runId));
    }
  }

  // ---- hooks a subclass may override -------------------------------------------------

  /** The jobs to start with. Default: the `jobs` option. */
  protected async fetchJobs(): Promise<Array<Job | JobEntry>> {
    return this.#initialJobs;
  }

  /**
   * Jobs to delete and to create, asked at every `checkInterval` and whenever
   * `notifyJobsChanged()` is called. A job that changed is deleted and created again.
   */
  protected async getChangedJobs(): Promise<JobChanges | undefined> {
    return undefined;
  }

  /** A task finished: by default, passes the result to the job's onTaskDone. */
  async reportTaskDone(job: Job, task: Task, result: unknown): Promise<void> {
    await job.onTaskDone?.(task, result);
  }

  /** A task failed for good: by default, logs it with its job and task and tells the job. */
  async reportException(job: Job, task: Task, failure: TaskFailure): Promise<void> {
    this.logger.error({ job: job.name, task: taskLabel(task), signature: task.signature, err: failure }, "task failed");
    await job.onTaskFailed?.(task, failure);
  }

  /** A job finished (threw JobDone) and its tasks have settled. */
  async reportJobDone(job: Job): Promise<void> {
    this.logger.info({ job: job.name }, "job done");
  }

  // ---- public API ---------------------------------------------------------------------

  /** Adds a job; it is asked for tasks at the next round. */
  addJob(job: Job, settings: JobSettings = {}): void {
    if (this.#jobs.has(job.name)) throw new Error(`A job named "${job.name}" is already running; remove it first.`);
    this.#jobs.set(job.name, {
      job,
      name: job.name,
      settings,
      resolveFrom: settings.resolveFrom ? settings.resolveFrom.map(toFolderUrl) : this.#resolveFrom,
      status: "active",
      running: new Map(),
      backoffUntil: 0,
      errorStreak: 0,
      counters: newCounters(),
    });
    this.emit("job:added", { job: job.name });
    this.#wake();
  }

  /** Removes a job: its running tasks are cancelled and it is closed. */
  async removeJob(name: string, reason = "job removed"): Promise<boolean> {
    const state = this.#jobs.get(name);
    if (!state) return false;
    this.#jobs.delete(name);
    state.status = "removed";
    this.#cancelTasksOf(state, reason);
    await this.#closeJob(state);
    this.emit("job:removed", { job: name });
    this.logger.info({ job: name, reason }, "job removed");
    this.#wake();
    return true;
  }

  /** Asks the runner to call getChangedJobs() now. */
  notifyJobsChanged(): void {
    this.#changesRequested = true;
    this.#wake();
  }

  /** Wakes the loop (e.g. a job's state changed outside a task). */
  wake(): void {
    this.#wake();
  }

  /**
   * Stops asking jobs for tasks and lets running tasks finish for `graceMs`, then stops
   * them. A second call stops them at once.
   */
  stop(options: { graceMs?: number; reason?: string } = {}): void {
    if (this.#phase === "stopping") {
      this.#forced = true;
      this.#forceStop?.();
      return;
    }
    if (this.#phase !== "running") return;
    this.#phase = "stopping";
    this.#graceMs = options.graceMs ?? this.#defaultGrace;
    this.#stopReason = options.reason ?? "stop requested";
    this.#wake();
  }

  /** Stops at once: running tasks are cancelled. */
  abort(reason = "aborted"): void {
    if (this.#phase === "running") this.stop({ graceMs: 0, reason });
    else this.stop();
  }

  get state(): "idle" | "running" | "stopping" | "stopped" {
    return this.#phase;
  }

  /** Runs until every job is done (or stop() is called, or forever with exitWhenIdle: false). */
  async run(): Promise<RunResult> {
    if (this.#phase !== "idle") throw ujrError("UJR_RUNNER_ALREADY_RUNNING");
    this.#phase = "running";
    this.#startedAt = Date.now();
    let finishedAll = false;
    try {
      for (const entry of await this.fetchJobs()) {
        const { job, settings } = "job" in entry ? entry : { job: entry, settings: undefined };
        this.addJob(job, settings);
      }
      this.#changesCheckAt = Date.now() + this.#checkInterval;
      while (this.#phase === "running") {
        this.#wakeRequested = false;
        if (this.#changesRequested || Date.now() >= this.#changesCheckAt) await this.#applyChanges();
        this.#startReadyRetries();
        await this.#round();
        if (this.#exitWhenIdle && this.#jobs.size === 0 && this.#active === 0) {
          finishedAll = true;
          break;
        }
        if (this.#phase !== "running") break;
        if (!this.#wakeRequested) await this.#sleep();
      }
    } catch (error) {
      await this.#shutdown(0, "runner failed");
      throw error;
    }
    return this.#shutdown(finishedAll ? 0 : this.#graceMs, finishedAll ? "done" : this.#stopReason, finishedAll);
  }

  snapshot(): RunnerSnapshot {
    const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());
    const jobs: JobSnapshot[] = [...this.#jobs.values()].map((state) => {
      let running = 0;
      let waitingRetry = 0;
      for (const task of state.running.values()) task.phase === "running" ? running++ : waitingRetry++;
      return {
        name: state.name,
        status: state.status,
        nextCheck: iso(nextCheckMs(state.job)),
        backoffUntil: state.backoffUntil > Date.now() ? iso(state.backoffUntil) : undefined,
        running,
        waitingRetry,
        counters: { ...state.counters },
        lastError: state.lastError,
      };
    });
    let queueDepth = 0;
    for (const state of this.#jobs.values()) for (const task of state.running.values()) if (task.phase !== "running") queueDepth++;
    return {
      state: this.#phase,
      startedAt: iso(this.#startedAt),
      jobs,
      running: [...this.#byRunId.values()].map((task) => ({
        runId: task.runId,
        job: task.state.name,
        task: task.label,
        signature: task.task.signature,
        attempt: task.attempt,
        startedAt: new Date(task.startedAt).toISOString(),
        progress: task.progress,
      })),
      totals: { ...this.#totals },
      executor: { size: this.executor.size, free: this.executor.capacity() },
      queueDepth,
    };
  }

  // ---- the loop ---------------------------------------------------------------------

  #wake(): void {
    this.#wakeRequested = true;
    const sleeper = this.#sleeper;
    if (sleeper) {
      this.#sleeper = undefined;
      sleeper();
    }
  }

  async #sleep(): Promise<void> {
    const now = Date.now();
    let deadline = Math.min(this.#changesCheckAt, now + this.#checkInterval);
    for (const state of this.#jobs.values()) {
      if (state.status !== "active") continue;
      if (state.backoffUntil > now) deadline = Math.min(deadline, state.backoffUntil);
      else {
        const next = nextCheckMs(state.job);
        if (next !== undefined && next > now) deadline = Math.min(deadline, next);
      }
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.#sleeper = undefined;
        resolve();
      }, Math.max(0, deadline - now));
      this.#sleeper = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  async #applyChanges(): Promise<void> {
    this.#changesRequested = false;
    this.#changesCheckAt = Date.now() + this.#checkInterval;
    let changes: JobChanges | undefined;
    try {
      changes = await this.getChangedJobs();
    } catch (error) {
      const failure = toTaskFailure(error);
      this.logger.error({ err: failure }, "could not get changed jobs; keeping the current ones");
      this.emit("changes:error", { error: failure });
      return;
    }
    if (!changes) return;
    for (const name of changes.remove ?? []) await this.removeJob(name, "job deleted by a configuration change");
    for (const entry of changes.add ?? []) {
      const { job, settings } = "job" in entry ? entry : { job: entry, settings: undefined };
      if (this.#jobs.has(job.name)) await this.removeJob(job.name, "job changed");
      this.addJob(job, settings);
    }
  }

  async #round(): Promise<void> {
    const states = [...this.#jobs.values()];
    if (states.length === 0) return;
    const offset = this.#cursor++ % states.length;
    const now = Date.now();
    for (let index = 0; index < states.length; index++) {
      if (this.#phase !== "running") return;
      const state = states[(index + offset) % states.length]!;
      if (state.status !== "active" || state.backoffUntil > now) continue;
      const next = nextCheckMs(state.job);
      if (next !== undefined && next > now) continue;
      if (this.executor.capacity() <= 0) break;
      const limit = (state.settings.maxTasksPerJob ?? this.#maxTasksPerJob) - state.running.size;
      if (limit <= 0) continue;
      let produced: Iterable<Task>;
      try {
        produced = await state.job.getRunnableTasks();
        state.errorStreak = 0;
      } catch (error) {
        await this.#onJobError(state, error);
        continue;
      }
      if (state.status !== "active" || this.#phase !== "running") continue;
      this.#submitFrom(state, produced, limit);
    }
  }

  #submitFrom(state: JobState, produced: Iterable<Task>, limit: number): void {
    let started = 0;
    for (const task of produced) {
      const why = whyNotATask(task);
      if (why) {
        const error = ujrError("UJR_TASK_INVALID", { job: state.name, reason: why });
        this.logger.error({ job: state.name, err: error }, "job returned an invalid task");
        continue;
      }
      const identity = taskIdentity(state.name, task);
      if (state.running.has(identity)) continue;
      // Beyond the per-job limit or the pool's free slots, tasks are not queued: the job
      // emits them again on a later round.
      if (started >= limit || this.executor.capacity() <= 0) break;
      this.#start(state, task, identity, 1);
      started++;
    }
  }

  #startReadyRetries(): void {
    while (this.#readyRetries.length > 0 && this.#phase === "running" && this.executor.capacity() > 0) {
      const task = this.#readyRetries.shift()!;
      if (task.cancelReason) continue;
      this.#start(task.state, task.task, task.identity, task.attempt + 1, task);
    }
  }

  #start(state: JobState, task: Task, identity: string, attempt: number, existing?: RunningTask): void {
    const runId = `${this.#idPrefix}-${++this.#seq}`;
    const running: RunningTask = existing ?? {
      runId,
      identity,
      state,
      task,
      label: taskLabel(task),
      attempt,
      phase: "running",
      startedAt: 0,
      timedOut: false,
    };
    running.runId = runId;
    running.attempt = attempt;
    running.phase = "running";
    running.startedAt = Date.now();
    running.timedOut = false;
    running.progress = undefined;
    state.running.set(identity, running);
    this.#byRunId.set(runId, running);
    this.#active++;
    state.counters.started++;
    this.#totals.started++;

    const timeoutMs = task.timeoutMs ?? state.settings.taskTimeout ?? this.#taskTimeout;
    running.timeoutMs = timeoutMs;
    running.timer = undefined;
    if (!this.#startsReported) this.#armTimeout(running);
    const run: TaskRun = {
      id: runId,
      job: state.name,
      ref: task.ref,
      args: task.args,
      signature: task.signature,
      attempt,
      resolveFrom: state.resolveFrom,
    };
    this.executor.submit(run).then(
      (outcome) => this.#settle(running, runId, outcome),
      (error: unknown) => this.#settle(running, runId, { ok: false, error: toTaskFailure(error) }),
    );
    if (this.#logInfo) this.logger.info({ job: state.name, task: running.label, signature: task.signature, runId, attempt }, "task started");
    if (this.listenerCount("task:started") > 0) this.emit("task:started", this.#event(running));
  }

  #onStarted(runId: string): void {
    const running = this.#byRunId.get(runId);
    if (running && !running.timer) this.#armTimeout(running);
  }

  #armTimeout(running: RunningTask): void {
    const timeoutMs = running.timeoutMs;
    if (timeoutMs === undefined || timeoutMs <= 0) return;
    const runId = running.runId;
    running.timer = setTimeout(() => {
      running.timedOut = true;
      this.executor.cancel(runId, this.#timeoutFailure(running));
    }, timeoutMs);
  }

  /** Progress reported by a running task (executors call this). */
  protected reportProgress(runId: string, progress: { done?: number; total?: number; message?: string }): void {
    const running = this.#byRunId.get(runId);
    if (!running) return;
    running.progress = progress;
    this.emit("task:progress", { ...this.#event(running), progress });
  }

  async #settle(running: RunningTask, runId: string, outcome: TaskOutcome): Promise<void> {
    if (running.timer) clearTimeout(running.timer);
    running.timer = undefined;
    this.#active--;
    this.#byRunId.delete(runId);
    const state = running.state;
    const durationMs = Date.now() - running.startedAt;
    try {
      if (running.cancelReason) {
        this.#count(state, "cancelled");
        this.logger.info({ ...this.#logFields(running, durationMs), outcome: "cancelled", reason: running.cancelReason.message }, "task cancelled");
        this.emit("task:cancelled", { ...this.#event(running), error: running.cancelReason, durationMs });
        this.#release(running);
      } else if (outcome.ok) {
        this.#count(state, "done");
        if (this.#logInfo) this.logger.info({ ...this.#logFields(running, durationMs), outcome: "done" }, "task done");
        // The busiest path: no event object when nobody listens.
        if (this.listenerCount("task:done") > 0) this.emit("task:done", { ...this.#event(running), result: outcome.value, durationMs });
        await this.#callHook(state, () => this.reportTaskDone(state.job, running.task, outcome.value));
        this.#release(running);
      } else {
        const failure = running.timedOut ? this.#timeoutFailure(running) : outcome.error;
        const policy = running.task.retry ?? state.settings.retry ?? this.#retry;
        const canRetry =
          policy !== undefined &&
          running.attempt < policy.attempts &&
          failure.retryable !== false &&
          this.#phase === "running" &&
          (state.status === "active" || state.status === "draining");
        if (canRetry) {
          const delayMs = retryDelay(policy, running.attempt + 1, this.#random);
          this.#count(state, "retried");
          this.logger.warn(
            { ...this.#logFields(running, durationMs), outcome: running.timedOut ? "timeout" : "failed", err: failure, retryInMs: delayMs },
            "task failed; will retry",
          );
          this.emit("task:retry", { ...this.#event(running), error: failure, durationMs, delayMs });
          running.phase = "waiting";
          running.retryTimer = setTimeout(() => {
            running.retryTimer = undefined;
            running.phase = "ready";
            this.#readyRetries.push(running);
            this.#wake();
          }, delayMs);
        } else {
          this.#count(state, "failed");
          if (running.timedOut) this.#count(state, "timedOut");
          this.logger.info({ ...this.#logFields(running, durationMs), outcome: running.timedOut ? "timeout" : "failed" }, "task ended");
          this.emit(running.timedOut ? "task:timeout" : "task:failed", { ...this.#event(running), error: failure, durationMs });
          await this.#callHook(state, () => this.reportException(state.job, running.task, failure));
          this.#release(running);
        }
      }
      if (state.status === "draining" && state.running.size === 0) await this.#finishJob(state);
    } finally {
      if (this.#active === 0) for (const resolve of this.#idleWaiters.splice(0)) resolve();
      this.#wake();
    }
  }

  #release(running: RunningTask): void {
    const state = running.state;
    if (state.running.get(running.identity) === running) state.running.delete(running.identity);
  }

  #count(state: JobState, key: keyof Counters): void {
    state.counters[key]++;
    this.#totals[key]++;
  }

  async #callHook(state: JobState, hook: () => Promise<void>): Promise<void> {
    try {
      await hook();
    } catch (error) {
      this.logger.error({ job: state.name, err: toTaskFailure(error) }, "a job's task hook threw; the runner goes on");
    }
  }

  async #onJobError(state: JobState, error: unknown): Promise<void> {
    if (isJobDone(error)) {
      state.status = "draining";
      if (state.running.size === 0) await this.#finishJob(state);
      return;
    }
    const failure = toTaskFailure(error);
    if (isJobFailed(error)) {
      state.failure = failure;
      state.lastError = failure;
      state.status = "draining";
      this.#failedJobs.push(state.name);
      this.logger.error({ job: state.name, err: failure }, "job failed");
      this.emit("job:failed", { job: state.name, error: failure });
      if (state.running.size === 0) await this.#finishJob(state);
      return;
    }
    state.errorStreak++;
    const backoffMs = Math.min(this.#errorBackoff.maxMs, this.#errorBackoff.baseMs * 2 ** (state.errorStreak - 1));
    state.backoffUntil = Date.now() + backoffMs;
    state.lastError = failure;
    this.logger.error({ job: state.name, err: failure, backoffMs }, "getRunnableTasks threw; backing the job off");
    this.emit("job:error", { job: state.name, error: failure, backoffMs });
  }

  async #finishJob(state: JobState): Promise<void> {
    if (state.status !== "draining") return;
    state.status = "closing";
    await this.#closeJob(state);
    if (this.#jobs.get(state.name) === state) this.#jobs.delete(state.name);
    if (state.failure) {
      state.status = "failed";
    } else {
      state.status = "done";
      this.emit("job:done", { job: state.name });
      await this.#callHook(state, () => this.reportJobDone(state.job));
    }
  }

  async #closeJob(state: JobState): Promise<void> {
    try {
      await state.job.close?.();
    } catch (error) {
      this.logger.error({ job: state.name, err: toTaskFailure(error) }, "job close() threw");
    }
  }

  #cancelTasksOf(state: JobState, reason: string): void {
    for (const running of [...state.running.values()]) {
      running.cancelReason = toTaskFailure(ujrError("UJR_TASK_CANCELLED", { job: state.name, task: running.label, reason }));
      if (running.phase === "running") this.executor.cancel(running.runId, running.cancelReason);
      else this.#dropWaiting(running);
    }
  }

  /** A task waiting for its retry is dropped without reaching the executor again. */
  #dropWaiting(running: RunningTask): void {
    if (running.retryTimer) clearTimeout(running.retryTimer);
    running.retryTimer = undefined;
    const state = running.state;
    this.#count(state, "cancelled");
    const error = running.cancelReason ?? toTaskFailure(ujrError("UJR_TASK_CANCELLED", { job: state.name, task: running.label, reason: "the runner is stopping" }));
    this.emit("task:cancelled", { ...this.#event(running), error, durationMs: 0 });
    this.#release(running);
  }

  async #shutdown(graceMs: number, reason: string, finishedAll = false): Promise<RunResult> {
    this.#phase = "stopping";
    if (!finishedAll) {
      this.logger.info({ graceMs, running: this.#active, reason }, "stopping: no new tasks; waiting for running tasks");
      this.emit("runner:stopping", { graceMs, reason });
    }
    for (const state of this.#jobs.values()) {
      for (const running of [...state.running.values()]) if (running.phase !== "running") this.#dropWaiting(running);
    }
    this.#readyRetries.length = 0;
    // Tasks accepted by the executor but not started yet must not start after a stop.
    const notStarted = toTaskFailure(ujrError("UJR_TASK_CANCELLED", { job: "(any)", task: "(queued)", reason: "the runner is stopping before it started" }));
    for (const runId of this.executor.cancelQueued?.(notStarted) ?? []) {
      const running = this.#byRunId.get(runId);
      if (running) running.cancelReason = notStarted;
    }
    let aborted = false;
    if (this.#active > 0 && !this.#forced) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        this.#whenIdle(),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, graceMs);
          this.#forceStop = resolve;
        }),
      ]);
      if (timer) clearTimeout(timer);
    }
    if (this.#active > 0) {
      aborted = true;
      this.logger.warn({ running: this.#active }, "stopping running tasks");
      for (const running of [...this.#byRunId.values()]) {
        running.cancelReason = toTaskFailure(
          ujrError("UJR_TASK_CANCELLED", { job: running.state.name, task: running.label, reason: "the runner is stopping" }),
        );
        this.executor.cancel(running.runId, running.cancelReason);
      }
      await this.#whenIdle();
    }
    for (const state of [...this.#jobs.values()]) {
      this.#jobs.delete(state.name);
      await this.#closeJob(state);
    }
    await this.executor.close();
    this.#phase = "stopped";
    const result: RunResult = {
      reason: finishedAll ? "done" : aborted ? "aborted" : "stopped",
      tasks: {
        done: this.#totals.done,
        failed: this.#totals.failed,
        timedOut: this.#totals.timedOut,
        retried: this.#totals.retried,
        cancelled: this.#totals.cancelled,
      },
      failedJobs: [...this.#failedJobs],
    };
    this.logger.info({ ...result }, "runner stopped");
    this.emit("runner:stopped", result);
    return result;
  }

  #whenIdle(): Promise<void> {
    if (this.#active === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  #timeoutFailure(running: RunningTask): TaskFailure {
    return toTaskFailure(
      ujrError("UJR_TASK_TIMEOUT", { job: running.state.name, task: running.label, timeoutMs: running.timeoutMs ?? 0 }),
    );
  }

  /** What a task's log lines say about it: more at info level, where each task is logged. */
  #logFields(running: RunningTask, durationMs: number): Record<string, unknown> {
    const fields = { job: running.state.name, task: running.label, signature: running.task.signature };
    return this.#logInfo ? { ...fields, runId: running.runId, attempt: running.attempt, durationMs } : fields;
  }

  #event(running: RunningTask): TaskEvent {
    return {
      job: running.state.name,
      runId: running.runId,
      task: running.task,
      label: running.label,
      signature: running.task.signature,
      attempt: running.attempt,
    };
  }
}
