import { pathToFileURL } from "node:url";
import { ujrError } from "../errors.js";
import type { Logger } from "../logger.js";
import { resolveTaskModule } from "../resolve.js";
import { isTaskDefinition, taskLabel, type Task, type TaskContext, type TaskDefinition, type TaskFunction, type TaskProgress } from "../task.js";
import { capturingLogger, type LogRecord } from "./context.js";

export interface RunTaskOptions {
  /** The try number the task sees as `ctx.attempt` (default 1). */
  attempt?: number;
  /** Abort it to test cancellation (default: a signal that never aborts). */
  signal?: AbortSignal;
  /** `ctx.job` (default "test-job"). */
  job?: string;
  /** A logger of your own (default: a capturing logger, see `logs`). */
  logger?: Logger;
  /** Folders a task's bare module specifier resolves from, when running an emitted Task (default: the working directory). */
  resolveFrom?: string[];
}

export interface RunTaskResult<Result> {
  /** What the task returned (after a structured-clone round trip, as the runner would deliver it). */
  result: Result;
  /** Every `ctx.progress(...)` report, in order. */
  progress: TaskProgress[];
  /** Lines the task logged (empty when you passed a logger of your own). */
  logs: LogRecord[];
}

/**
 * Runs one task function directly, in this thread, with a fake TaskContext: the unit
 * test of a task. Accepts a task definition with its arguments, or a Task a job emitted
 * (e.g. from `collectTasks`), whose module is then imported by its reference exactly as
 * a worker would. Arguments and the result must survive `structuredClone` (as they must
 * between processes): if not, it throws `UJR_TASK_RESULT_NOT_CLONABLE`. Errors the task
 * throws are rethrown as they are: check them by `code`.
 */
export async function runTask<Args, Result>(definition: TaskDefinition<Args, Result>, args: Args, options?: RunTaskOptions): Promise<RunTaskResult<Result>>;
export async function runTask<Result = unknown>(task: Task, options?: RunTaskOptions): Promise<RunTaskResult<Result>>;
export async function runTask(
  target: TaskDefinition | Task,
  argsOrOptions?: unknown,
  maybeOptions?: RunTaskOptions,
): Promise<RunTaskResult<unknown>> {
  let fn: TaskFunction<unknown, unknown>;
  let args: unknown;
  let options: RunTaskOptions;
  let label: string;
  if (isTaskDefinition(target)) {
    fn = target.run;
    args = argsOrOptions;
    options = maybeOptions ?? {};
    label = taskLabel(target);
  } else {
    args = target.args;
    options = (argsOrOptions as RunTaskOptions | undefined) ?? {};
    label = taskLabel(target);
    fn = await importTask(target, options.resolveFrom ?? [process.cwd()]);
  }
  const job = options.job ?? "test-job";
  const cloned = clone(args, job, label, "its arguments");
  const captured = options.logger ? { logger: options.logger, logs: [] } : capturingLogger();
  const progress: TaskProgress[] = [];
  const context: TaskContext = {
    signal: options.signal ?? new AbortController().signal,
    logger: captured.logger.child({ job, task: label }),
    attempt: options.attempt ?? 1,
    job,
    taskId: `test-${label}`,
    progress: (report) => void progress.push({ ...report }),
  };
  const value = await fn(cloned, context);
  return { result: clone(value, job, label, "its result"), progress, logs: captured.logs };
}

function clone(value: unknown, job: string, task: string, what: string): unknown {
  try {
    return structuredClone(value);
  } catch (error) {
    throw ujrError("UJR_TASK_RESULT_NOT_CLONABLE", { job, task, reason: `${what}: ${(error as Error).message}` });
  }
}

async function importTask(task: Task, from: string[]): Promise<TaskFunction<unknown, unknown>> {
  const folders = from.map((folder) => (folder.startsWith("file:") ? folder : pathToFileURL(folder).href)).map((url) => (url.endsWith("/") ? url : `${url}/`));
  const namespace = (await import(resolveTaskModule(task.ref.module, folders))) as Record<string, unknown>;
  const exported = namespace[task.ref.export];
  if (isTaskDefinition(exported)) return exported.run;
  if (typeof exported === "function") return exported as TaskFunction<unknown, unknown>;
  throw ujrError("UJR_TASK_EXPORT_NOT_FOUND", { module: task.ref.module, export: task.ref.export, known: Object.keys(namespace).join(", ") || "(none)" });
}
