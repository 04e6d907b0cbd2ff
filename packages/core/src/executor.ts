import type { TaskProgress, TaskRef } from "./task.js";

/** Receives the progress a running try reports (see `Executor.setProgressListener`). */
export type ProgressListener = (runId: string, progress: TaskProgress) => void;

/** One try of a task, as handed to an executor: plain data only. */
export interface TaskRun {
  /** Unique per try. */
  id: string;
  job: string;
  ref: TaskRef;
  args: unknown;
  signature?: string | undefined;
  attempt: number;
  /**
   * Folders (as file URLs ending in "/") to resolve a bare `ref.module` from, in order:
   * the folder of the config or script that named the job's plugin, then the plugin's own.
   */
  resolveFrom: string[];
}

/** A task failure as plain data: it crosses thread, process and machine boundaries. */
export interface TaskFailure {
  name: string;
  message: string;
  code?: string | undefined;
  stack?: string | undefined;
  /** False when trying again cannot help. */
  retryable?: boolean | undefined;
  /** Extra data the error carried (its own enumerable properties). */
  details?: Record<string, unknown> | undefined;
}

export type TaskOutcome = { ok: true; value: unknown } | { ok: false; error: TaskFailure };

/** Where tasks execute: a local pool, another machine... The runner loop only knows this. */
export interface Executor {
  /** How many tasks can run at once in total. */
  readonly size: number;
  /** How many more tasks can start right now. The runner never submits more. */
  capacity(): number;
  /** Runs one try. Never rejects: failures come back as `{ ok: false }`. */
  submit(run: TaskRun): Promise<TaskOutcome>;
  /** Stops a submitted try (its outcome then resolves as failed with `reason`). */
  cancel(runId: string, reason: TaskFailure): void;
  /**
   * Executors that accept more tasks than they run at once (a bounded queue) drop the
   * ones not yet started, e.g. on a stop signal, and return their run ids.
   */
  cancelQueued?(reason: TaskFailure): string[];
  /**
   * Where to send the progress tasks report (`ctx.progress(...)`) while they run. The
   * runner sets it once; executors that cannot carry progress leave it out.
   */
  setProgressListener?(listener: ProgressListener | undefined): void;
  /**
   * Executors that queue tasks before they run say when each one starts, so that a
   * task's timeout counts its running time, not its wait in the queue. Without this,
   * the runner starts the clock at submit. A start that the outcome of another try made
   * room for (a worker moving on to its next task) is reported after that outcome has
   * reached the runner: resolve the outcome first, then report the start from a
   * microtask (`queueMicrotask`), so that the runner never counts more running tries
   * than there are workers.
   */
  setStartListener?(listener: ((runId: string) => void) | undefined): void;
  close(): Promise<void>;
}

const ownKeys = new Set(["name", "message", "stack", "code", "retryable", "cause"]);

/** Turns anything thrown into a TaskFailure. */
export function toTaskFailure(error: unknown): TaskFailure {
  if (typeof error === "object" && error !== null) {
    const source = error as Record<string, unknown>;
    const failure: TaskFailure = {
      name: typeof source.name === "string" ? source.name : "Error",
      message: typeof source.message === "string" ? source.message : String(error),
    };
    if (typeof source.code === "string") failure.code = source.code;
    if (typeof source.stack === "string") failure.stack = source.stack;
    if (typeof source.retryable === "boolean") failure.retryable = source.retryable;
    const details: Record<string, unknown> = {};
    for (const key of Object.keys(source)) {
      if (ownKeys.has(key)) continue;
      const value = source[key];
      if (value === null || ["string", "number", "boolean"].includes(typeof value)) details[key] = value;
    }
    if (source.details && typeof source.details === "object") Object.assign(details, source.details);
    if (Object.keys(details).length > 0) failure.details = details;
    return failure;
  }
  return { name: "Error", message: String(error) };
}
