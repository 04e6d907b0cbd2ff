import { availableParallelism } from "node:os";
import { Tinypool } from "tinypool";
import { resolveTaskModule, toTaskFailure, ujrError, type Executor, type LogLevel, type TaskFailure, type TaskOutcome, type TaskRun } from "@ujr/core";

export type Isolation = "process" | "thread";

export interface TinypoolExecutorOptions {
  /** Pool size; default: available CPUs. */
  workers?: number | undefined;
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
  readonly size: number;
  readonly isolation: Isolation;
  readonly #options: TinypoolExecutorOptions;
  #pool: Tinypool | undefined;
  #inFlight = 0;
  readonly #controllers = new Map<string, AbortController>();

  constructor(options: TinypoolExecutorOptions = {}) {
    this.size = Math.max(1, options.workers ?? availableParallelism());
    this.isolation = options.isolation ?? "process";
    this.#options = options;
  }

  capacity(): number {
    return this.size - this.#inFlight;
  }

  #ensurePool(): Tinypool {
    if (this.#pool) return this.#pool;
    const env: Record<string, string> = {};
    for (const [key, value] of Object.entries(process.env)) if (value !== undefined) env[key] = value;
    env.UJR_LOG_LEVEL = this.#options.logLevel ?? env.UJR_LOG_LEVEL ?? "info";
    env.UJR_LOG_PRETTY = this.#options.prettyLogs ? "1" : "0";
    const memory = this.#options.maxWorkerMemoryMb;
    const pool = new Tinypool({
      filename: workerFile.href,
      runtime: this.isolation === "process" ? "child_process" : "worker_threads",
      minThreads: this.size,
      maxThreads: this.size,
      concurrentTasksPerWorker: 1,
      isolateWorkers: false,
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
      return (await this.#ensurePool().run({ run, moduleUrl }, { signal: controller.signal })) as TaskOutcome;
    } catch (error) {
      if (controller.signal.aborted) return { ok: false, error: controller.signal.reason as TaskFailure };
      return { ok: false, error: this.#classify(run, error) };
    } finally {
      this.#inFlight--;
      this.#controllers.delete(run.id);
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

  cancel(runId: string, reason: TaskFailure): void {
    // Aborting a tinypool run terminates its worker: the task's work really stops.
    this.#controllers.get(runId)?.abort(reason);
  }

  async close(): Promise<void> {
    const pool = this.#pool;
    this.#pool = undefined;
    if (pool) await pool.destroy();
  }
}
