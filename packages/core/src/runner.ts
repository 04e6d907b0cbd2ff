import { EventEmitter } from "node:events";
import { randomBytes } from "node:crypto";
import type { Executor, TaskFailure, TaskOutcome, TaskRun } from "./executor.js";
import { toTaskFailure } from "./executor.js";
import { isJobDone, isJobFailed, nextCheckMs, type Job } from "./job.js";
import { silentLogger, type Logger } from "./logger.js";
import { retryDelay, type RetryPolicy } from "./retry.js";
import { taskIdentity, taskLabel, whyNotATask, type Task } from "./task.js";
import { ujrError } from "./errors.js";
import { deadlineAtWall, deadlineIn, deadlineReached, monoNow, msUntil, wallTimeOf, type Deadline } from "./clock.js";
import { awakeTimeout } from "./awake-time.js";
import { newCounters, toFolderUrl, type Counters, type JobChanges, type JobEntry, type JobSettings, type JobSnapshot, type JobState, type RunnerOptions, type RunnerSnapshot, type RunningTask } from "./runner-state.js";
import type { JobOutcome, RunnerEvents, RunResult, TaskDoneEvent, TaskEvent } from "./events.js";

export type { JobChanges, JobEntry, JobSettings, JobSnapshot, RunnerOptions, RunnerSnapshot } from "./runner-state.js";

function isThenable<T>(value: unknown): value is PromiseLike<T> {
  return typeof (value as { then?: unknown } | null)?.then === "function";
}

/**
 * The runner loop: keeps the set of jobs, asks each for tasks, runs them on an executor
 * as capacity allows, deduplicates by signature, catches successes and failures, and
 * reports state. Independent of where tasks execute.
 *
 * It is event-driven: a finished task, a job's nextCheck arriving, a retry coming due,
 * changed jobs or stop() wake it at once; `checkInterval` is only an upper bound.
 *
 * What an ask returns is kept and started from as capacity frees, so a job with many
 * pending tasks costs the same per task as many jobs with few. A job is asked again when
 * that is drained and something may have changed its answer (a task of it settled, its
 * nextCheck arrived, `checkInterval` passed), at once when a task of it fails for good or
 * its nextCheck changes, and on `wake()` or `checkJobNow()`. A task is never started from
 * an ask that began before a run of the same task settled: the job sees the outcome
 * first and decides again (the promises are listed in DESIGN.md and tested as invariants).
 */
export class Runner extends EventEmitter<RunnerEvents> {
  protected readonly executor: Executor;
  protected readonly logger: Logger;
  readonly #jobs = new Map<string, JobState>();
  readonly #byRunId = new Map<string, RunningTask>();
  /** Every unsettled try by identity, across jobs that were removed or replaced: two never overlap. */
  readonly #identities = new Map<string, RunningTask>();
  readonly #readyRetries: RunningTask[] = [];
  /** Jobs to ask at the next round whatever their nextCheck (checkJobNow). */
  readonly #forceAsk = new Set<JobState>();
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
  readonly #labels = new Map<string, Map<string, string>>();
  readonly #totals = newCounters();
  readonly #outcomes = new Map<string, JobOutcome>();
  /** Work started outside the loop (async asks, their errors) that run() waits for before it returns. */
  readonly #background = new Set<Promise<unknown>>();
  #seq = 0;
  #active = 0;
  #cursor = 0;
  #phase: "idle" | "running" | "stopping" | "stopped" = "idle";
  #startedAt: number | undefined;
  #startedMono = 0;
  #graceMs = 0;
  #stopReason = "stop requested";
  #forceStop: (() => void) | undefined;
  #forced = false;
  #wakeRequested = false;
  #sleeper: (() => void) | undefined;
  #changesRequested = false;
  #changesCheck: Deadline = { wall: 0, mono: 0 };
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
  async reportException(job: Job, task: Task, error: TaskFailure): Promise<void> {
    this.logger.error({ job: job.name, task: taskLabel(task), signature: task.signature, err: error }, "task failed");
    await job.onTaskFailed?.(task, error);
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
      paused: false,
      running: new Map(),
      backoff: undefined,
      errorStreak: 0,
      counters: newCounters(),
      pending: undefined,
      asking: false,
      stale: true,
      invalid: false,
      askedAt: 0,
      nextCheckAtAsk: undefined,
      nextCheckDeadline: undefined,
      dueAt: undefined,
      settledSinceAsk: new Set(),
      closed: false,
    });
    this.#outcomes.delete(job.name);
    this.emit("job:added", { job: job.name });
    this.#wake();
  }

  /** Removes a job: its running tasks are cancelled, its waiting retries dropped, and it is closed. */
  async removeJob(name: string, reason = "job removed"): Promise<boolean> {
    const state = this.#jobs.get(name);
    if (!state) return false;
    this.#jobs.delete(name);
    // A job that had already ended keeps its outcome; its tasks still running are cancelled.
    const outcome = state.failure ? "failed" : state.status === "draining" ? "done" : "removed";
    state.status = "removed";
    state.pending = undefined;
    this.#cancelTasksOf(state, reason);
    this.#recordOutcome(state, outcome);
    await this.#closeJob(state);
    this.emit("job:removed", { job: name, reason });
    this.logger.info({ job: name, reason }, "job removed");
    this.#wake();
    return true;
  }

  /** Stops asking a job for tasks until resumeJob(); its running tasks go on. False if there is no such job. */
  pauseJob(name: string): boolean {
    const state = this.#jobs.get(name);
    if (!state || state.status !== "active") return false;
    if (!state.paused) {
      state.paused = true;
      state.pending = undefined;
      this.logger.info({ job: name }, "job paused");
      this.emit("job:paused", { job: name });
    }
    return true;
  }

  /** Asks a paused job for tasks again. False if there is no such job. */
  resumeJob(name: string): boolean {
    const state = this.#jobs.get(name);
    if (!state || state.status !== "active") return false;
    if (state.paused) {
      state.paused = false;
      state.invalid = true;
      this.logger.info({ job: name }, "job resumed");
      this.emit("job:resumed", { job: name });
      this.#wake();
    }
    return true;
  }

  /** Asks a job for tasks at once, past its nextCheck and any backoff. False if there is no such active job. */
  checkJobNow(name: string): boolean {
    const state = this.#jobs.get(name);
    if (!state || state.status !== "active" || state.paused) return false;
    state.backoff = undefined;
    state.dueAt = undefined;
    state.invalid = true;
    this.#forceAsk.add(state);
    this.#wake();
    return true;
  }

  /** Cancels one running or retry-waiting try by its run id. False if no such try is in flight. */
  cancelTask(runId: string, reason = "cancelled by request"): boolean {
    for (const state of this.#jobs.values()) {
      for (const running of state.running.values()) {
        if (running.runId !== runId || running.cancelReason || running.dropped) continue;
        running.cancelReason = toTaskFailure(ujrError("UJR_TASK_CANCELLED", { job: state.name, task: running.label, reason }));
        if (running.phase === "running") this.executor.cancel(running.runId, running.cancelReason);
        else this.#dropWaiting(running);
        return true;
      }
    }
    return false;
  }

  /**
   * Starts a task for a job outside an ask (e.g. retrying a failed task by hand). Refused
   * (false) when the job is not active, the same task is in flight, or the job's limit or
   * the pool is full.
   */
  runTaskNow(jobName: string, task: Task): boolean {
    const state = this.#jobs.get(jobName);
    if (!state || state.status !== "active" || this.#phase !== "running" || whyNotATask(task)) return false;
    const identity = taskIdentity(state.name, task);
    if (this.#identities.has(identity)) return false;
    if (state.running.size >= this.#limitOf(state) || this.executor.capacity() <= 0) return false;
    this.#start(state, task, identity, 1);
    return true;
  }

  /** Asks the runner to call getChangedJobs() now. */
  notifyJobsChanged(): void {
    this.#changesRequested = true;
    this.#wake();
  }

  /** Wakes the loop because jobs' state changed outside their tasks: every job is asked again. */
  wake(): void {
    for (const state of this.#jobs.values()) state.invalid = true;
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
    this.#startedMono = monoNow();
    let finishedAll = false;
    try {
      for (const entry of await this.fetchJobs()) {
        const { job, settings } = "job" in entry ? entry : { job: entry, settings: undefined };
        this.addJob(job, settings);
      }
      this.#changesCheck = deadlineIn(this.#checkInterval);
      while (this.#phase === "running") {
        this.#wakeRequested = false;
        if (this.#changesRequested || deadlineReached(this.#changesCheck)) await this.#applyChanges();
        this.#startReadyRetries();
        await this.#round();
        if (this.#exitWhenIdle && this.#jobs.size === 0 && this.#active === 0 && this.#background.size === 0) {
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
      let queued = 0;
      let waitingRetry = 0;
      for (const task of state.running.values()) {
        if (task.phase !== "running") waitingRetry++;
        else if (task.startedAt > 0) running++;
        else queued++;
      }
      const snapshot: JobSnapshot = {
        name: state.name,
        status: state.paused && state.status === "active" ? "paused" : state.status,
        nextCheck: iso(nextCheckMs(state.job)),
        backoffUntil: state.backoff !== undefined && !deadlineReached(state.backoff) ? iso(wallTimeOf(state.backoff)) : undefined,
        running,
        queued,
        waitingRetry,
        counters: { ...state.counters },
        lastError: state.lastError,
        lastDoneAt: iso(state.lastDoneAt),
        lastFailedAt: iso(state.lastFailedAt),
      };
      const panel = this.#panelOf(state);
      if (panel !== undefined) snapshot.panel = panel;
      return snapshot;
    });
    let queueDepth = 0;
    for (const state of this.#jobs.values()) for (const task of state.running.values()) if (task.phase !== "running") queueDepth++;
    const running = this.runningTasks();
    return {
      state: this.#phase,
      startedAt: iso(this.#startedAt),
      uptimeMs: this.#startedAt === undefined ? undefined : Math.round(monoNow() - this.#startedMono),
      jobs,
      running,
      totals: { ...this.#totals },
      executor: { size: this.executor.size, free: this.executor.capacity() },
      queueDepth,
    };
  }

  /** The tries whose code is running now, as `snapshot().running` lists them, without building every job's snapshot and panel. */
  runningTasks(): RunnerSnapshot["running"] {
    const running: RunnerSnapshot["running"] = [];
    for (const task of this.#byRunId.values()) {
      if (task.startedAt === 0) continue;
      running.push({
        runId: task.runId,
        job: task.state.name,
        task: task.label,
        signature: task.task.signature,
        attempt: task.attempt,
        startedAt: new Date(task.startedAt).toISOString(),
        elapsedMs: Math.round(monoNow() - task.startedMono),
        progress: task.progress,
      });
    }
    return running;
  }

  #panelOf(state: JobState): unknown {
    const source = state.job as { statusPanel?: () => unknown };
    if (typeof source.statusPanel !== "function") return undefined;
    try {
      return source.statusPanel();
    } catch (error) {
      this.logger.debug({ job: state.name, err: toTaskFailure(error) }, "a job's statusPanel() threw");
      return undefined;
    }
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

  #track(work: Promise<unknown>): void {
    this.#background.add(work);
    void work.finally(() => {
      this.#background.delete(work);
      this.#wake();
    });
  }

  async #sleep(): Promise<void> {
    const now = Date.now();
    const mono = monoNow();
    // every wait as ms from now, each deadline come when either clock says so (clock.ts)
    let wait = Math.min(msUntil(this.#changesCheck, now, mono), this.#checkInterval);
    const free = this.executor.capacity() > 0;
    for (const state of this.#jobs.values()) {
      if (state.status !== "active" || state.paused) continue;
      const next = nextCheckMs(state.job);
      const askableIn = Math.max(
        state.backoff === undefined ? 0 : msUntil(state.backoff, now, mono),
        next === undefined ? 0 : msUntil(this.#nextCheckDeadline(state, next, now, mono), now, mono),
      );
      if (askableIn > 0) wait = Math.min(wait, askableIn);
      else if (free && !state.asking && state.running.size < this.#limitOf(state)) {
        // A backoff or nextCheck that was ahead when the round looked and has run out since,
        // with something to ask about: go round now rather than sleep a checkInterval.
        const moved = next !== undefined && next !== state.nextCheckAtAsk;
        if (state.stale || state.invalid || state.dueAt !== undefined || moved || state.pending !== undefined) wait = 0;
      }
      // An answer kept from an ask is asked again after checkInterval.
      const expiresIn = state.askedAt + this.#checkInterval - mono;
      if (expiresIn > 0) wait = Math.min(wait, expiresIn);
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.#sleeper = undefined;
        resolve();
      }, Math.max(0, Math.ceil(wait)));
      this.#sleeper = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  async #applyChanges(): Promise<void> {
    this.#changesRequested = false;
    this.#changesCheck = deadlineIn(this.#checkInterval);
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

  #limitOf(state: JobState): number {
    return state.settings.maxTasksPerJob ?? this.#maxTasksPerJob;
  }

  async #round(): Promise<void> {
    const states = [...this.#jobs.values()];
    if (states.length === 0) return;
    const offset = this.#cursor++ % states.length;
    const now = Date.now();
    const mono = monoNow();
    for (let index = 0; index < states.length; index++) {
      if (this.#phase !== "running") return;
      if (this.executor.capacity() <= 0) break;
      const state = states[(index + offset) % states.length]!;
      if (state.status !== "active" || state.paused || state.asking) continue;
      const forced = this.#forceAsk.delete(state);
      const mayAsk = forced || this.#due(state, now, mono);
      const limit = this.#limitOf(state) - state.running.size;
      if (limit <= 0) {
        if (forced) this.#forceAsk.add(state);
        continue;
      }
      if (mayAsk) await this.#serve(state, limit, forced, mono);
      else if (state.pending !== undefined && !state.invalid) {
        // nextCheck and backoff hold back asks, not what the job already returned: a job
        // may return tasks for now and set its nextCheck for the next ask in one go.
        const result = this.#startFrom(state, limit);
        if (result.error !== undefined) await this.#onJobError(state, result.error);
      }
    }
  }

  /** Starts what a job's last answer still holds, asking it again when that is drained and may be out of date. */
  async #serve(state: JobState, limit: number, forced: boolean, mono: number): Promise<void> {
    if (state.invalid || forced || mono - state.askedAt >= this.#checkInterval) {
      state.pending = undefined;
      state.invalid = true;
    }
    let started = 0;
    for (;;) {
      if (state.pending === undefined) {
        // Nothing happened since the last ask that could change the job's answer.
        if (!state.stale && !state.invalid) return;
        const error = this.#ask(state, mono);
        if (error !== undefined) return this.#onJobError(state, error);
        if (state.pending === undefined) return;
      }
      const result = this.#startFrom(state, limit - started);
      if (result.error !== undefined) return this.#onJobError(state, result.error);
      started += result.started;
      // Limit or pool reached, or drained with nothing new to ask about (an ask resets `stale`).
      if (state.pending !== undefined || started >= limit || this.executor.capacity() <= 0 || !state.stale) return;
    }
  }

  /** Whether a job may be asked now: not backed off, and its nextCheck (if any) has arrived. */
  #due(state: JobState, now: number, mono: number): boolean {
    if (state.backoff !== undefined && !deadlineReached(state.backoff, now, mono)) return false;
    const next = nextCheckMs(state.job);
    if (next !== state.nextCheckAtAsk) {
      // The job moved its nextCheck since it was asked: its state changed.
      this.#noteNextCheck(state, next, now, mono);
      state.invalid = true;
    }
    if (next !== undefined && !deadlineReached(state.nextCheckDeadline!, now, mono)) return false;
    if (state.dueAt !== undefined) {
      // The nextCheck the job set at its last ask has arrived: ask again.
      state.dueAt = undefined;
      state.invalid = true;
    }
    return true;
  }

  /**
   * The job's nextCheck as the runner now knows it, with its deadline on both clocks taken
   * now: a wait the job asked for lasts what it was meant to even when the wall clock is set
   * back while it runs, and a wall time still comes at that time after the machine slept.
   */
  #noteNextCheck(state: JobState, next: number | undefined, now: number, mono: number): void {
    state.nextCheckAtAsk = next;
    state.nextCheckDeadline = next === undefined ? undefined : deadlineAtWall(next, undefined, now, mono);
    state.dueAt = state.nextCheckDeadline !== undefined && !deadlineReached(state.nextCheckDeadline, now, mono) ? next : undefined;
  }

  /** The deadline of a nextCheck value: the one noted for it, or (a value the runner has not noted yet) one taken now. */
  #nextCheckDeadline(state: JobState, next: number, now: number, mono: number): Deadline {
    return next === state.nextCheckAtAsk && state.nextCheckDeadline !== undefined ? state.nextCheckDeadline : deadlineAtWall(next, undefined, now, mono);
  }

  /**
   * Asks a job for tasks. A synchronous answer is kept in `pending` at once; an async one
   * lands there when it resolves (and wakes the loop). Returns what the job threw, if it did.
   */
  #ask(state: JobState, mono: number): unknown {
    state.pending = undefined;
    state.stale = false;
    state.invalid = false;
    state.settledSinceAsk.clear();
    state.askedAt = mono;
    let produced: Iterable<Task> | Promise<Iterable<Task>>;
    try {
      produced = state.job.getRunnableTasks();
    } catch (error) {
      return error;
    }
    if (isThenable<Iterable<Task>>(produced)) {
      state.asking = true;
      this.#track(
        Promise.resolve(produced).then(
          (tasks) => {
            state.asking = false;
            const error = this.#received(state, tasks);
            if (error !== undefined) return this.#onJobError(state, error);
          },
          (error: unknown) => {
            state.asking = false;
            if (state.status === "active") return this.#onJobError(state, error);
          },
        ),
      );
      return undefined;
    }
    return this.#received(state, produced);
  }

  #received(state: JobState, tasks: Iterable<Task>): unknown {
    if (state.status !== "active" || state.paused || this.#phase !== "running") return undefined;
    state.errorStreak = 0;
    this.#noteNextCheck(state, nextCheckMs(state.job), Date.now(), monoNow());
    const iterate = (tasks as { [Symbol.iterator]?: unknown } | null | undefined)?.[Symbol.iterator];
    if (typeof iterate !== "function") {
      return ujrError("UJR_JOB_ANSWER_INVALID", { job: state.name, got: tasks === null ? "null" : typeof tasks });
    }
    try {
      // An array is copied: jobs often return a list they keep changing as tasks settle.
      state.pending = Array.isArray(tasks) ? (tasks.slice() as Task[])[Symbol.iterator]() : (tasks as Iterable<Task>)[Symbol.iterator]();
    } catch (error) {
      return error;
    }
    return undefined;
  }

  /** Starts up to `limit` tasks from what the job's last ask returned; `error` is what a lazy answer threw. */
  #startFrom(state: JobState, limit: number): { started: number; error?: unknown } {
    const pending = state.pending;
    let started = 0;
    if (!pending) return { started };
    // A listener of task:started may stop the runner in the middle of this loop.
    while (started < limit && this.executor.capacity() > 0 && this.#phase === "running") {
      let step: IteratorResult<Task>;
      try {
        step = pending.next();
      } catch (error) {
        state.pending = undefined;
        return { started, error };
      }
      if (step.done) {
        state.pending = undefined;
        break;
      }
      const task = step.value;
      const why = whyNotATask(task);
      if (why) {
        const error = ujrError("UJR_TASK_INVALID", { job: state.name, reason: why });
        this.logger.error({ job: state.name, err: error }, "job returned an invalid task");
        continue;
      }
      const identity = taskIdentity(state.name, task);
      // In flight (here, or still settling for a job this one replaced), or settled after
      // this answer was asked for: the job decides again on its next ask.
      if (this.#identities.has(identity) || state.settledSinceAsk.has(identity)) continue;
      this.#start(state, task, identity, 1);
      started++;
    }
    return { started };
  }

  #startReadyRetries(): void {
    while (this.#readyRetries.length > 0 && this.#phase === "running" && this.executor.capacity() > 0) {
      const task = this.#readyRetries.shift()!;
      if (task.cancelReason || task.dropped) continue;
      this.#start(task.state, task.task, task.identity, task.attempt + 1, task);
    }
  }

  /**
   * One label string per code reference (module, export): listeners that key maps by it
   * (the run history, per task) then hash one string, not a new one per task. Keyed by
   * the strings, not the ref object: refs made per task would churn a WeakMap.
   */
  #labelOf(task: Task): string {
    let byExport = this.#labels.get(task.ref.module);
    if (!byExport) {
      byExport = new Map();
      this.#labels.set(task.ref.module, byExport);
    }
    let label = byExport.get(task.ref.export);
    if (label === undefined) {
      label = taskLabel(task);
      byExport.set(task.ref.export, label);
    }
    return label;
  }

  #start(state: JobState, task: Task, identity: string, attempt: number, existing?: RunningTask): void {
    const runId = `${this.#idPrefix}-${++this.#seq}`;
    const now = Date.now();
    const running: RunningTask = existing ?? {
      runId,
      identity,
      state,
      task,
      label: this.#labelOf(task),
      attempt,
      phase: "running",
      submittedAt: now,
      startedAt: 0,
      startedMono: 0,
      timedOut: false,
      dropped: false,
    };
    running.runId = runId;
    running.attempt = attempt;
    running.phase = "running";
    running.submittedAt = now;
    running.startedAt = 0;
    running.timedOut = false;
    running.progress = undefined;
    state.running.set(identity, running);
    this.#identities.set(identity, running);
    this.#byRunId.set(runId, running);
    if (this.#active++ === 0 && this.listenerCount("runner:busy") > 0) this.emit("runner:busy");

    running.timeoutMs = task.timeoutMs ?? state.settings.taskTimeout ?? this.#taskTimeout;
    running.timeout = undefined;
    const run: TaskRun = {
      id: runId,
      job: state.name,
      ref: task.ref,
      args: task.args,
      signature: task.signature,
      attempt,
      resolveFrom: state.resolveFrom,
    };
    const outcome = this.executor.submit(run);
    // Executors that queue say when each try starts; for the others, handing it over is starting it.
    if (!this.#startsReported) this.#markStarted(running);
    outcome.then(
      (result) => this.#settle(running, runId, result),
      (error: unknown) => this.#settle(running, runId, { ok: false, error: toTaskFailure(error) }),
    );
  }

  #onStarted(runId: string): void {
    const running = this.#byRunId.get(runId);
    if (running && running.startedAt === 0) this.#markStarted(running);
  }

  #markStarted(running: RunningTask): void {
    running.startedAt = Date.now();
    running.startedMono = monoNow();
    this.#count(running.state, "started");
    this.#armTimeout(running);
    if (this.#logInfo) {
      this.logger.info(
        { job: running.state.name, task: running.label, signature: running.task.signature, runId: running.runId, attempt: running.attempt },
        "task started",
      );
    }
    if (this.listenerCount("task:started") > 0) this.emit("task:started", this.#event(running));
  }

  /**
   * The try's timeout counts the time the process was awake (awake-time.ts): a runner stopped
   * with its tasks (Ctrl-Z, a frozen VM) does not time them out the moment it runs again. When
   * it comes, what arrived meanwhile is read first (setImmediate: after pending I/O), so a
   * result that came during the stop is not taken for a timeout.
   */
  #armTimeout(running: RunningTask): void {
    const timeoutMs = running.timeoutMs;
    if (timeoutMs === undefined || timeoutMs <= 0) return;
    const runId = running.runId;
    // cleared when the try settles (#settle), so it fires only for a try still running
    const timeout = awakeTimeout(timeoutMs, () => this.#timeoutFailure(running), { keepAlive: true });
    running.timeout = timeout;
    timeout.signal.addEventListener(
      "abort",
      () => {
        running.timedOut = true;
        this.executor.cancel(runId, timeout.signal.reason as TaskFailure);
      },
      { once: true },
    );
  }

  /** Progress reported by a running task (executors call this). */
  protected reportProgress(runId: string, progress: { done?: number; total?: number; message?: string }): void {
    const running = this.#byRunId.get(runId);
    if (!running) return;
    running.progress = progress;
    this.emit("task:progress", { ...this.#event(running), progress });
  }

  async #settle(running: RunningTask, runId: string, outcome: TaskOutcome): Promise<void> {
    running.timeout?.clear();
    running.timeout = undefined;
    this.#active--;
    this.#byRunId.delete(runId);
    const state = running.state;
    const now = Date.now();
    // monotonic: a duration is never negative, nor an hour long, when the wall clock jumped
    const durationMs = running.startedAt > 0 ? Math.round(monoNow() - running.startedMono) : 0;
    try {
      if (running.cancelReason) {
        this.#count(state, "cancelled");
        this.logger.info({ ...this.#logFields(running, durationMs), outcome: "cancelled", reason: running.cancelReason.message }, "task cancelled");
        this.emit("task:cancelled", { ...this.#event(running), error: running.cancelReason, durationMs });
        this.#release(running);
      } else if (outcome.ok) {
        this.#count(state, "done");
        state.lastDoneAt = now;
        if (this.#logInfo) this.logger.info({ ...this.#logFields(running, durationMs), outcome: "done" }, "task done");
        // The busiest path: no event object when nobody listens.
        if (this.listenerCount("task:done") > 0) {
          const event = this.#event(running) as TaskDoneEvent;
          event.result = outcome.value;
          event.durationMs = durationMs;
          this.emit("task:done", event);
        }
        await this.#callHook(state, () => this.reportTaskDone(state.job, running.task, outcome.value));
        this.#release(running);
      } else {
        const failure = running.timedOut ? this.#timeoutFailure(running) : outcome.error;
        const policy = running.task.retry ?? state.settings.retry ?? this.#retry;
        // A job that ended, failed or was removed gets no new try (promise d).
        const canRetry =
          policy !== undefined && running.attempt < policy.attempts && failure.retryable !== false && this.#phase === "running" && state.status === "active";
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
          state.lastFailedAt = now;
          // A failure may change what the job wants next: drop what it returned before.
          state.invalid = true;
          if (running.timedOut) this.#count(state, "timedOut");
          this.logger.info({ ...this.#logFields(running, durationMs), outcome: running.timedOut ? "timeout" : "failed" }, "task ended");
          this.emit(running.timedOut ? "task:timeout" : "task:failed", { ...this.#event(running), error: failure, durationMs });
          await this.#callHook(state, () => this.reportException(state.job, running.task, failure));
          this.#release(running);
        }
      }
      if (state.status === "draining" && state.running.size === 0) await this.#finishJob(state);
    } finally {
      if (this.#active === 0) {
        for (const resolve of this.#idleWaiters.splice(0)) resolve();
        if (this.listenerCount("runner:idle") > 0) this.emit("runner:idle");
      }
      this.#wake();
    }
  }

  /**
   * The try is over and its job has been told: the identity may start again, but not from
   * an answer the job gave before it knew (promise b).
   */
  #release(running: RunningTask): void {
    const state = running.state;
    state.settledSinceAsk.add(running.identity);
    state.stale = true;
    if (state.running.get(running.identity) === running) state.running.delete(running.identity);
    if (this.#identities.get(running.identity) === running) this.#identities.delete(running.identity);
    // A job that replaced this one (same name) held the task back while this try ran: it
    // decides again, or it would wait for checkInterval (an executor whose cancel takes
    // effect later, such as a remote worker's, lets the new job be asked first).
    const current = this.#jobs.get(state.name);
    if (current !== undefined && current !== state) {
      current.settledSinceAsk.add(running.identity);
      current.stale = true;
    }
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
    if (state.status !== "active") return;
    state.pending = undefined;
    if (isJobDone(error)) {
      this.#endJob(state);
      if (state.running.size === 0) await this.#finishJob(state);
      return;
    }
    const failure = toTaskFailure(error);
    if (isJobFailed(error)) {
      // JobFailed is the job's verdict, said in its message (a full disk, files that could not
      // be loaded): its stack is the job's own code, which would only bury it in the run's
      // last lines (`runner stopped`, `run ended`) and the status
      delete failure.stack;
      state.failure = failure;
      state.lastError = failure;
      this.#endJob(state);
      this.logger.error({ job: state.name, err: failure }, "job failed");
      this.emit("job:failed", { job: state.name, error: failure });
      if (state.running.size === 0) await this.#finishJob(state);
      return;
    }
    state.errorStreak++;
    const backoffMs = Math.min(this.#errorBackoff.maxMs, this.#errorBackoff.baseMs * 2 ** (state.errorStreak - 1));
    state.backoff = deadlineIn(backoffMs);
    state.lastError = failure;
    state.stale = true;
    this.logger.error({ job: state.name, err: failure, backoffMs }, "getRunnableTasks threw; backing the job off");
    this.emit("job:error", { job: state.name, error: failure, backoffMs });
  }

  /** The job threw JobDone or JobFailed: no new starts, its waiting retries are dropped, running tasks finish. */
  #endJob(state: JobState): void {
    state.status = "draining";
    this.#forceAsk.delete(state);
    this.emit("job:ending", { job: state.name, outcome: state.failure ? "failed" : "done" });
    for (const running of [...state.running.values()]) {
      if (running.phase === "running") continue;
      running.cancelReason = toTaskFailure(
        ujrError("UJR_TASK_CANCELLED", { job: state.name, task: running.label, reason: state.failure ? "its job failed" : "its job is done" }),
      );
      this.#dropWaiting(running);
    }
  }

  /** Jobs whose #finishJob is under way (their close() may take a while). */
  readonly #finishing = new Map<JobState, Promise<void>>();

  async #finishJob(state: JobState): Promise<void> {
    if (state.status !== "draining") return;
    state.status = "closing";
    const finishing = this.#finishJobNow(state).finally(() => this.#finishing.delete(state));
    this.#finishing.set(state, finishing);
    await finishing;
  }

  async #finishJobNow(state: JobState): Promise<void> {
    await this.#closeJob(state);
    if (this.#jobs.get(state.name) === state) this.#jobs.delete(state.name);
    if (state.failure) {
      state.status = "failed";
      this.#recordOutcome(state, "failed");
    } else {
      state.status = "done";
      this.#recordOutcome(state, "done");
      this.emit("job:done", { job: state.name });
      await this.#callHook(state, () => this.reportJobDone(state.job));
    }
  }

  #recordOutcome(state: JobState, outcome: JobOutcome["outcome"]): void {
    const { done, failed, timedOut, retried, cancelled } = state.counters;
    this.#outcomes.set(state.name, {
      outcome,
      ...(state.failure ? { error: state.failure } : {}),
      tasks: { done, failed, timedOut, retried, cancelled },
    });
  }

  async #closeJob(state: JobState): Promise<void> {
    if (state.closed) return;
    state.closed = true;
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

  /** A task waiting for its retry is dropped without reaching the executor again (counted as cancelled). */
  #dropWaiting(running: RunningTask): void {
    if (running.dropped) return;
    running.dropped = true;
    if (running.retryTimer) clearTimeout(running.retryTimer);
    running.retryTimer = undefined;
    // What is cancelled is the next try, which never started: a run id of its own.
    running.runId = `${this.#idPrefix}-${++this.#seq}`;
    running.attempt++;
    running.startedAt = 0;
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
      state.pending = undefined;
      for (const running of [...state.running.values()]) if (running.phase !== "running") this.#dropWaiting(running);
    }
    this.#readyRetries.length = 0;
    // Tasks accepted by the executor but not started yet must not start after a stop.
    // The executor settles them all with one reason; each is logged and recorded with its own.
    const stopping = "the runner is stopping before it started";
    const notStarted = toTaskFailure(ujrError("UJR_TASK_CANCELLED", { job: "(each queued task's)", task: "(each queued task)", reason: stopping }));
    for (const runId of this.executor.cancelQueued?.(notStarted) ?? []) {
      const running = this.#byRunId.get(runId);
      if (running) running.cancelReason = toTaskFailure(ujrError("UJR_TASK_CANCELLED", { job: running.state.name, task: running.label, reason: stopping }));
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
    // Asks still in flight: their answers are dropped (the jobs are not active any more).
    while (this.#background.size > 0) await Promise.allSettled([...this.#background]);
    for (const state of [...this.#jobs.values()]) {
      // A job finishing (its last task settled after JobDone/JobFailed) records its own
      // outcome once its close() returns: wait for it rather than call it stopped meanwhile.
      const finishing = this.#finishing.get(state);
      if (finishing !== undefined) await finishing;
      if (this.#jobs.get(state.name) !== state) continue;
      this.#jobs.delete(state.name);
      if (state.failure) this.#recordOutcome(state, "failed");
      else if (state.status === "draining" && state.running.size === 0) this.#recordOutcome(state, "done");
      else this.#recordOutcome(state, "stopped");
      await this.#closeJob(state);
    }
    await this.executor.close();
    this.#phase = "stopped";
    const jobs = Object.fromEntries(this.#outcomes);
    const result: RunResult = {
      reason: finishedAll ? "done" : aborted ? "aborted" : "stopped",
      ...(finishedAll ? {} : { stopReason: reason }),
      tasks: {
        done: this.#totals.done,
        failed: this.#totals.failed,
        timedOut: this.#totals.timedOut,
        retried: this.#totals.retried,
        cancelled: this.#totals.cancelled,
      },
      failedJobs: Object.keys(jobs).filter((name) => jobs[name]!.outcome === "failed"),
      jobs,
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

  /** A task event, built as one object literal (the hot path adds its outcome fields to it rather than copying it). */
  #event(running: RunningTask): TaskEvent {
    return {
      job: running.state.name,
      runId: running.runId,
      task: running.task,
      label: running.label,
      signature: running.task.signature,
      attempt: running.attempt,
      submittedAt: running.submittedAt,
      startedAt: running.startedAt > 0 ? running.startedAt : undefined,
    };
  }
}
