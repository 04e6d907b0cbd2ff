import { availableParallelism } from "node:os";
import { randomBytes } from "node:crypto";
import { BroadcastChannel } from "node:worker_threads";
import { Tinypool, type TinypoolChannel } from "tinypool";
import type { WorkerMessage } from "./worker.js";
import { isProgressMessage } from "./worker-progress.js";
import {
  normaliseProgress,
  resolveTaskModule,
  toTaskFailure,
  ujrError,
  type Executor,
  type LogLevel,
  type ProgressListener,
  type TaskFailure,
  type TaskOutcome,
  type TaskRun,
} from "@ujr/core";

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
}

// Workers run built JavaScript (Node 20 cannot load TypeScript there); when this module is
// itself loaded from source (the package's own tests), use the build next to it.
const workerFile = new URL(import.meta.url.endsWith(".ts") ? "../dist/worker.js" : "./worker.js", import.meta.url);

/**
 * Runs tasks in a tinypool pool of threads or child processes. The pool starts on the
 * first task, so constructing a runner inside a task worker (a script re-imported for
 * its tasks) starts nothing.
 */
export class TinypoolExecutor implements Executor {
  /** Tasks accepted at once: running (one per worker) plus queued. */
  readonly size: number;
  readonly workers: number;
  readonly isolation: Isolation;
  readonly #options: TinypoolExecutorOptions;
  #pool: Tinypool | undefined;
  #inFlight = 0;
  readonly #controllers = new Map<string, AbortController>();
  readonly #started = new Set<string>();
  #startListener: ((runId: string) => void) | undefined;
  #progressListener: ProgressListener | undefined;
  /** Threads post progress here (see worker.ts); created with the pool. */
  #progressBroadcast: BroadcastChannel | undefined;
  /** Child processes send progress over IPC; tinypool hands such messages to this channel. */
  readonly #progressChannel: TinypoolChannel = { postMessage: (message: unknown) => this.#onWorkerMessage(message) };

  constructor(options: TinypoolExecutorOptions = {}) {
    this.isolation = options.isolation ?? "process";
    this.workers = Math.max(1, options.workers ?? availableParallelism());
    // Child processes answer over IPC, slower than a thread's message port: queue deeper.
    const defaultQueue = this.isolation === "process" ? 2 * this.workers : this.workers;
    this.size = this.workers + Math.max(0, options.queue ?? defaultQueue);
    this.#options = options;
  }

  capacity(): number {
    return this.size - this.#inFlight;
  }

  /** Progress that tasks report in workers (throttled there to one message per 100 ms per task) goes to `listener`. */
  setProgressListener(listener: ProgressListener | undefined): void {
    this.#progressListener = listener;
  }

  #onWorkerMessage(message: unknown): void {
    if (!isProgressMessage(message)) return;
    const [, runId, reported] = message;
    const progress = normaliseProgress(reported);
    if (!progress || !this.#controllers.has(runId)) return;
    try {
      this.#progressListener?.(runId, progress);
    } catch {
      // A listener's failure must not reach the pool.
    }
  }

  #ensurePool(): Tinypool {
    if (this.#pool) return this.#pool;
    const env: Record<string, string> = {};
    for (const [key, value] of Object.entries(process.env)) if (value !== undefined) env[key] = value;
    env.UJR_LOG_LEVEL = this.#options.logLevel ?? env.UJR_LOG_LEVEL ?? "info";
    env.UJR_LOG_PRETTY = this.#options.prettyLogs ? "1" : "0";
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
      minThreads: this.workers,
      maxThreads: this.workers,
      concurrentTasksPerWorker: 1,
      isolateWorkers: false,
      // Structured clone over IPC too, so that a task's arguments and result arrive the
      // same way (Dates, Maps, typed arrays...) whichever the isolation.
      serialization: "advanced",
      env,
      ...(memory && this.isolation === "thread" ? { resourceLimits: { maxOldGenerationSizeMb: memory } } : {}),
      ...(memory && this.isolation === "process" ? { execArgv: [`--max-old-space-size=${memory}`] } : {}),
    });
    // A worker that dies is replaced by tinypool; its task's promise rejects. Without a
    // listener, the pool's own 'error' event would crash the runner.
    pool.on("error", () => {});
    this.#pool = pool;
    return pool;
  }

  async submit(run: TaskRun): Promise<TaskOutcome> {
    this.#inFlight++;
    const controller = new AbortController();
    this.#controllers.set(run.id, controller);
    try {
      const moduleUrl = resolveTaskModule(run.ref.module, run.resolveFrom);
      // A compact message: child processes pay for every byte of IPC.
      const message: WorkerMessage = [moduleUrl, run.ref.module, run.ref.export, run.args, run.job, run.id, run.attempt, run.signature];
      if (this.#progressListener) message.push(1);
      const pool = this.#ensurePool();
      const options = this.isolation === "process" ? { signal: controller.signal, channel: this.#progressChannel } : { signal: controller.signal };
      const outcome = pool.run(message, options) as Promise<TaskOutcome>;
      this.#reportStarts();
      return await outcome;
    } catch (error) {
      if (controller.signal.aborted) return { ok: false, error: controller.signal.reason as TaskFailure };
      return { ok: false, error: this.#classify(run, error) };
    } finally {
      this.#inFlight--;
      this.#controllers.delete(run.id);
      this.#started.delete(run.id);
      this.#reportStarts();
    }
  }

  setStartListener(listener: ((runId: string) => void) | undefined): void {
    this.#startListener = listener;
  }

  /**
   * Tinypool starts tasks in submission order, one per worker: the oldest `workers`
   * tasks in flight are the running ones. Tell the runner when a task joins them.
   */
  #reportStarts(): void {
    const listener = this.#startListener;
    if (!listener) return;
    let position = 0;
    for (const runId of this.#controllers.keys()) {
      if (position++ >= this.workers) break;
      if (this.#started.has(runId)) continue;
      this.#started.add(runId);
      listener(runId);
    }
  }

  #classify(run: TaskRun, error: unknown): TaskFailure {
    const failure = toTaskFailure(error);
    if (failure.code?.startsWith("UJR_")) return failure;
    // Anything that rejects the pool's promise (rather than coming back as an outcome)
    // means the worker itself went away: exit, fatal error, out of memory.
    let reason = failure.message;
    if (failure.code === "ERR_WORKER_OUT_OF_MEMORY" || /out of memory|heap/i.test(reason)) reason = `out of memory: ${reason}`;
    const crash = toTaskFailure(ujrError("UJR_WORKER_CRASHED", { job: run.job, task: `${run.ref.module}#${run.ref.export}`, reason }));
    return { ...crash, details: { cause: failure.message } };
  }

  /**
   * Tinypool starts tasks in the order they were submitted, one per worker: the oldest
   * `workers` tasks in flight are running, the rest wait in its queue.
   */
  cancelQueued(reason: TaskFailure): string[] {
    const queued = [...this.#controllers.keys()].slice(this.workers);
    for (const runId of queued) this.#controllers.get(runId)?.abort(reason);
    return queued;
  }

  cancel(runId: string, reason: TaskFailure): void {
    // Aborting a tinypool run terminates its worker: the task's work really stops.
    this.#controllers.get(runId)?.abort(reason);
  }

  async close(): Promise<void> {
    const pool = this.#pool;
    this.#pool = undefined;
    this.#progressBroadcast?.close();
    this.#progressBroadcast = undefined;
    if (pool) await pool.destroy();
  }
}
