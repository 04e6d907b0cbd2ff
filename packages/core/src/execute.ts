import type { TaskFailure, TaskOutcome, TaskRun } from "./executor.js";
import { toTaskFailure } from "./executor.js";
import { ujrError } from "./errors.js";
import { registerSecretsIn, type Logger } from "./logger.js";
import { isTaskDefinition, normaliseProgress, type TaskContext, type TaskFunction, type TaskProgress } from "./task.js";

const WORKER_FLAG = Symbol.for("ujr.task-worker");

/** True inside a task worker: scripts use it (or rely on run() returning at once) to avoid starting a runner there. */
export function isTaskWorker(): boolean {
  return (globalThis as Record<symbol, unknown>)[WORKER_FLAG] === true;
}

export function markTaskWorker(): void {
  (globalThis as Record<symbol, unknown>)[WORKER_FLAG] = true;
}

const loaded = new Map<string, TaskFunction<unknown, unknown>>();

async function loadTaskFunction(moduleUrl: string, run: TaskRun): Promise<TaskFunction<unknown, unknown>> {
  const key = `${moduleUrl}#${run.ref.export}`;
  const cached = loaded.get(key);
  if (cached) return cached;
  const fn = await importTaskFunction(moduleUrl, run);
  loaded.set(key, fn);
  return fn;
}

async function importTaskFunction(moduleUrl: string, run: TaskRun): Promise<TaskFunction<unknown, unknown>> {
  let namespace: Record<string, unknown>;
  try {
    namespace = (await import(moduleUrl)) as Record<string, unknown>;
  } catch (error) {
    throw ujrError("UJR_TASK_MODULE_LOAD_FAILED", { module: run.ref.module, reason: toTaskFailure(error).message }, { cause: error });
  }
  const exported = namespace[run.ref.export];
  if (isTaskDefinition(exported)) return exported.run;
  if (typeof exported === "function") return exported as TaskFunction<unknown, unknown>;
  const known = Object.keys(namespace).filter((key) => isTaskDefinition(namespace[key]) || typeof namespace[key] === "function");
  throw ujrError("UJR_TASK_EXPORT_NOT_FOUND", { module: run.ref.module, export: run.ref.export, known: known.join(", ") || "(none)" });
}

export interface ExecuteOptions {
  moduleUrl: string;
  signal: AbortSignal;
  logger: Logger;
  /** Receives the task's progress reports, normalised to plain `{ done, total, message }`. */
  onProgress?: (progress: TaskProgress) => void;
}

/**
 * Runs one try of a task where it executes (a pool worker, another machine, or in
 * process): loads the module, finds the export, calls it with a task context. Never
 * throws: the outcome is plain data.
 */
export async function executeTaskRun(run: TaskRun, options: ExecuteOptions): Promise<TaskOutcome> {
  try {
    registerSecretsIn(run.args);
    const fn = await loadTaskFunction(options.moduleUrl, run);
    let logger: Logger | undefined;
    const onProgress = options.onProgress;
    const context: TaskContext = {
      signal: options.signal,
      // Made on first use: most tasks never log, and a child logger per task is costly.
      get logger() {
        logger ??= options.logger.child({ job: run.job, task: `${run.ref.module}#${run.ref.export}`, runId: run.id });
        return logger;
      },
      attempt: run.attempt,
      job: run.job,
      taskId: run.id,
      progress: onProgress
        ? (progress: TaskProgress) => {
            const normalised = normaliseProgress(progress);
            if (!normalised) return;
            try {
              onProgress(normalised);
            } catch {
              // Reporting progress must never fail the task.
            }
          }
        : () => {},
    };
    const value = await fn(run.args, context);
    return { ok: true, value };
  } catch (error) {
    const failure: TaskFailure = toTaskFailure(error);
    return { ok: false, error: failure };
  }
}
