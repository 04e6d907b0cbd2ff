import { availableParallelism } from "node:os";
import { randomBytes } from "node:crypto";
import { BroadcastChannel } from "node:worker_threads";
import { Tinypool } from "tinypool";
import { isProgressMessage } from "./worker-progress.js";
import { ProcessSessions, type PoolHooks } from "./process-sessions.js";
import type { WorkerMessage } from "./session-protocol.js";
import { ThreadSessions } from "./thread-sessions.js";
import { taskProcessMallocTunables } from "./malloc-tuning.js";
// @ujr/core/task and /resolve, not @ujr/core: `ujr run` starts this pool before zod and the
// config schemas have loaded (see ./pool.ts).
import { isTaskWorker, normaliseProgress, toTaskFailure, ujrError, type Executor, type LogLevel, type ProgressListener, type TaskFailure, type TaskOutcome, type TaskRun } from "@ujr/core/task";
import { resolveTaskModule } from "@ujr/core/resolve";

export type Isolation = "process" | "thread";

export interface TinypoolExecutorOptions {
  /** Pool size; default: available CPUs. */
  workers?: number | undefined;
  /**
   * Tasks accepted beyond the running ones, waiting in the pool's queue (default: one per
   * worker), so a worker that finishes starts its next task at once instead of waiting for
   * the runner's round trip. Bounded: the runner never submits more than this.
   */
  queue?: number | undefined;
  /** `process` (default: a crash or leak cannot touch the runner) or `thread` (faster start, less memory). */
  isolation?: Isolation | undefined;
  /** Heap limit of each worker; a task that exceeds it fails and its worker is replaced. */
  maxWorkerMemoryMb?: number | undefined;
  logLevel?: LogLevel | undefined;
  prettyLogs?: boolean | undefined;
  /**
   * Start every worker with the pool instead of as tasks wait for them: for a long-lived
   * process (`ujr worker`), where a task should not wait for a worker's start-up after it
   * was taken (default: false, what a `ujr run` that may need one worker wants).
   */
  warm?: boolean | undefined;
}

// Workers run built JavaScript (Node 20 cannot load TypeScript there); when this module is
// itself loaded from source (the package's own tests), use the build next to it.
const workerFile = new URL(import.meta.url.endsWith(".ts") ? "../dist/worker.js" : "./worker.js", import.meta.url);

/**
 * Runs tasks in a tinypool pool of threads or child processes, through a session per
 * worker (see thread-sessions.ts and process-sessions.ts). The
 * pool starts on the first task, so constructing a runner inside a task worker (a script
 * re-imported for its tasks) starts nothing.
 */
export class TinypoolExecutor implements Executor {
  /** Tasks accepted at once: running (one per worker) plus queued. */
  readonly size: number;
  readonly workers: number;
  readonly isolation: Isolation;
  readonly #options: TinypoolExecutorOptions;
  #pool: Tinypool | undefined;
  #tasks: ProcessSessions | ThreadSessions | undefined;
  #startListener: ((runId: string) => void) | undefined;
  #progressListener: ProgressListener | undefined;
  /** Threads post progress here (see worker.ts); created with the pool. */
  #progressBroadcast: BroadcastChannel | undefined;
  readonly #hooks: PoolHooks = {
    // The sessions settle the try that made room before they report the next one started;
    // a microtask later that settlement has reached the runner (see Executor.setStartListener).
    started: (runId) => {
      if (this.#startListener) queueMicrotask(() => this.#tasks?.has(runId) && this.#startListener?.(runId));
    },
    // Child processes send progress over IPC, next to their results.
    message: (message) => this.#onWorkerMessage(message),
    crashed: (run, error) => this.#classify(run, error),
  };

  /**
   * The pool a runner or a worker makes when it is not given an executor: the pool's
   * settings picked from the caller's options (which carry more), the log level falling
   * back to the caller's logger's. One place, so every caller's pool is made alike.
   */
  static fromSettings(settings: Omit<TinypoolExecutorOptions, "queue">, logger?: { level: string }): TinypoolExecutor {
    return new TinypoolExecutor({
      workers: settings.workers,
      isolation: settings.isolation,
      maxWorkerMemoryMb: settings.maxWorkerMemoryMb,
      logLevel: settings.logLevel ?? (logger?.level as LogLevel | undefined),
      prettyLogs: settings.prettyLogs,
      warm: settings.warm,
    });
  }

  constructor(options: TinypoolExecutorOptions = {}) {
    this.isolation = options.isolation ?? "process";
    this.workers = Math.max(1, options.workers ?? availableParallelism());
    // Child processes answer over IPC, slower than a thread's message port: queue deeper.
    const defaultQueue = this.isolation === "process" ? 2 * this.workers : this.workers;
    this.size = this.workers + Math.max(0, options.queue ?? defaultQueue);
    this.#options = options;
  }

  capacity(): number {
    return this.size - (this.#tasks?.inFlight ?? 0);
  }

  /** Progress that tasks report in workers (throttled there to one message per 100 ms per task) goes to `listener`. */
  setProgressListener(listener: ProgressListener | undefined): void {
    this.#progressListener = listener;
  }

  #onWorkerMessage(message: unknown): void {
    if (!isProgressMessage(message)) return;
    const [, runId, reported] = message;
    const progress = normaliseProgress(reported);
    if (!progress || !this.#tasks?.has(runId)) return;
    try {
      this.#progressListener?.(runId, progress);
    } catch {
      // A listener's failure must not reach the pool.
    }
  }

  #ensureTasks(): ProcessSessions | ThreadSessions {
    if (this.#tasks) return this.#tasks;
    const env: Record<string, string> = {};
    for (const [key, value] of Object.entries(process.env)) if (value !== undefined) env[key] = value;
    env.UJR_LOG_LEVEL = this.#options.logLevel ?? env.UJR_LOG_LEVEL ?? "info";
    env.UJR_LOG_PRETTY = this.#options.prettyLogs ? "1" : "0";
    if (this.isolation === "process") env.GLIBC_TUNABLES = taskProcessMallocTunables(process.env);
    if (this.isolation === "thread") {
      env.UJR_PROGRESS_CHANNEL = `ujr-progress-${process.pid}-${randomBytes(6).toString("hex")}`;
      const broadcast = new BroadcastChannel(env.UJR_PROGRESS_CHANNEL);
      broadcast.onmessage = (event) => this.#onWorkerMessage((event as MessageEvent).data);
      broadcast.unref();
      this.#progressBroadcast = broadcast;
    }
    const memory = this.#options.maxWorkerMemoryMb;
    const pool = new Tinypool({
      filename: workerFile.href,
      runtime: this.isolation === "process" ? "child_process" : "worker_threads",
      // Workers start as sessions open (one per task waiting beyond the idle sessions), not
      // all with the pool: a run whose tasks come one after another (a job that checks, then
      // loads) starts one worker instead of one per CPU, each paying Node's start-up.
      minThreads: this.#options.warm ? this.workers : 0,
      maxThreads: this.workers,
      concurrentTasksPerWorker: 1,
      isolateWorkers: false,
      // Child processes speak JSON over IPC; the sessions encode what JSON cannot carry
      // (see `encodeWire` in @ujr/core), so arguments and results arrive as structured clones, as
      // they do in threads.
      serialization: "json",
      env,
      ...(memory && this.isolation === "thread" ? { resourceLimits: { maxOldGenerationSizeMb: memory } } : {}),
      ...(memory && this.isolation === "process" ? { execArgv: [`--max-old-space-size=${memory}`] } : {}),
    });
    // A worker that dies is replaced by tinypool; its task's promise rejects. Without a
    // listener, the pool's own 'error' event would crash the runner.
    pool.on("error", () => {});
    this.#pool = pool;
    this.#tasks = this.isolation === "process" ? new ProcessSessions(pool, this.workers, this.#hooks) : new ThreadSessions(pool, this.workers, this.#hooks);
    return this.#tasks;
  }

  /**
   * Starts one worker before any task is submitted, so that it starts while the caller
   * still gets ready (loads plugins, opens the run history); the first task takes it.
   * The worker keeps the process alive until close(). Nothing in a task worker: a script
   * imported again there for its tasks starts no pool.
   */
  prestart(): void {
    if (!isTaskWorker()) this.#ensureTasks().prestart();
  }

  submit(run: TaskRun): Promise<TaskOutcome> {
    try {
      const moduleUrl = resolveTaskModule(run.ref.module, run.resolveFrom);
      // A compact message: child processes pay for every byte of IPC.
      const message: WorkerMessage = [moduleUrl, run.ref.module, run.ref.export, run.args, run.job, run.id, run.attempt, run.signature];
      if (this.#progressListener) message.push(1);
      return this.#ensureTasks().run(run, message);
    } catch (error) {
      return Promise.resolve({ ok: false, error: this.#classify(run, error) });
    }
  }

  /** Tells the runner when each task starts (leaves the queue for a worker). */
  setStartListener(listener: ((runId: string) => void) | undefined): void {
    this.#startListener = listener;
  }

  #classify(run: TaskRun, error: unknown): TaskFailure {
    const failure = toTaskFailure(error);
    if (failure.code?.startsWith("UJR_")) return failure;
    const task = `${run.ref.module}#${run.ref.export}`;
    // Arguments are cloned on their way to the worker (a thread's postMessage, or the
    // session codec of a child process): a DataCloneError there is the caller's data.
    // Retrying cannot help: the same arguments fail the same way.
    if (failure.name === "DataCloneError")
      return { ...toTaskFailure(ujrError("UJR_TASK_ARGS_NOT_CLONABLE", { job: run.job, task, reason: failure.message })), retryable: false };
    // Anything that rejects the pool's promise (rather than coming back as an outcome)
    // means the worker itself went away: exit, fatal error, out of memory.
    let reason = failure.message;
    if (failure.code === "ERR_WORKER_OUT_OF_MEMORY" || /out of memory|heap/i.test(reason)) reason = `out of memory: ${reason}`;
    const crash = toTaskFailure(ujrError("UJR_WORKER_CRASHED", { job: run.job, task, reason }));
    return { ...crash, details: { cause: failure.message } };
  }

  /** Drops the tasks accepted but not started yet (a stop); returns their run ids. */
  cancelQueued(reason: TaskFailure): string[] {
    return this.#tasks?.cancelQueued(reason) ?? [];
  }

  cancel(runId: string, reason: TaskFailure): void {
    // Stopping a running task terminates its worker: the task's work really stops.
    this.#tasks?.cancel(runId, reason);
  }

  async close(): Promise<void> {
    const pool = this.#pool;
    this.#pool = undefined;
    this.#tasks?.close();
    this.#tasks = undefined;
    this.#progressBroadcast?.close();
    this.#progressBroadcast = undefined;
    if (pool) await pool.destroy();
  }
}
