import type { Logger } from "./logger.js";
import { normaliseRetry, type RetryPolicy } from "./retry.js";

/**
 * Where a task's code lives, in a form another process or machine can resolve: a
 * package specifier (`@scope/plugin/tasks`) or, for ad-hoc scripts, a file URL; and the
 * name of the export in that module.
 */
export interface TaskRef {
  module: string;
  export: string;
}

/** A task is data: what to run, with which arguments. */
export interface Task<Args = unknown> {
  readonly ref: TaskRef;
  /** Structured-clonable arguments. */
  readonly args: Args;
  /** Tells two tasks of one job with the same code apart; see `taskIdentity`. */
  readonly signature?: string | undefined;
  /** Stop the task (terminating its worker) after this many milliseconds. */
  readonly timeoutMs?: number | undefined;
  readonly retry?: RetryPolicy | undefined;
}

/** Progress a task reports while it runs (shown by status views). */
export interface TaskProgress {
  done?: number;
  total?: number;
  message?: string;
}

/**
 * Keeps only the fields of a progress report that status views use, as plain data (it
 * crosses thread and process boundaries): finite numbers and a string of at most 200
 * characters. Returns undefined when nothing usable is left.
 */
export function normaliseProgress(progress: unknown): TaskProgress | undefined {
  if (typeof progress !== "object" || progress === null) return undefined;
  const source = progress as Record<string, unknown>;
  const result: TaskProgress = {};
  if (typeof source.done === "number" && Number.isFinite(source.done)) result.done = source.done;
  if (typeof source.total === "number" && Number.isFinite(source.total)) result.total = source.total;
  if (typeof source.message === "string") result.message = source.message.slice(0, 200);
  return Object.keys(result).length > 0 ? result : undefined;
}

/** What a task function receives besides its arguments. */
export interface TaskContext {
  /** Aborted when the task is cancelled or its worker is shutting down. */
  readonly signal: AbortSignal;
  readonly logger: Logger;
  /** 1 for the first try, 2 for the first retry, ... */
  readonly attempt: number;
  readonly job: string;
  readonly taskId: string;
  progress(progress: TaskProgress): void;
}

export type TaskFunction<Args, Result> = (args: Args, context: TaskContext) => Result | Promise<Result>;

export interface TaskOptions {
  signature?: string;
  timeoutMs?: number;
  retry?: RetryPolicy | number;
}

export const TASK_DEFINITION_TYPE = "@ujr/task-definition";

/** A task declared once in a module; `.with(args)` makes the tasks that refer to it. */
export interface TaskDefinition<Args = unknown, Result = unknown> {
  readonly $$type: typeof TASK_DEFINITION_TYPE;
  readonly ref: TaskRef;
  readonly run: TaskFunction<Args, Result>;
  with(args: Args, options?: TaskOptions): Task<Args>;
}

const defined: TaskDefinition[] = [];

/**
 * Every task defined in this process so far, oldest first. Loading a plugin defines the
 * tasks its modules declare: the runner checks that their modules resolve before anything
 * runs, without the plugin having to list them.
 */
export function definedTasks(): readonly TaskDefinition[] {
  return defined;
}

/**
 * Declares a task. `module` is how other processes find this module: the package
 * specifier of the file (e.g. "@ujr/plugin-tweet-tidier/tasks") or, in a script,
 * `import.meta.url`. `name` must be the name this definition is exported under.
 */
export function defineTask<Args, Result>(definition: {
  module: string;
  name: string;
  run: TaskFunction<Args, Result>;
}): TaskDefinition<Args, Result> {
  const ref: TaskRef = Object.freeze({ module: definition.module, export: definition.name });
  const task: TaskDefinition<Args, Result> = Object.freeze({
    $$type: TASK_DEFINITION_TYPE,
    ref,
    run: definition.run,
    with(args: Args, options: TaskOptions = {}): Task<Args> {
      return makeTask(ref, args, options);
    },
  });
  defined.push(task as TaskDefinition);
  return task;
}

export function makeTask<Args>(ref: TaskRef, args: Args, options: TaskOptions = {}): Task<Args> {
  return {
    ref,
    args,
    signature: options.signature,
    timeoutMs: options.timeoutMs,
    retry: normaliseRetry(options.retry),
  };
}

export function isTaskDefinition(value: unknown): value is TaskDefinition {
  return typeof value === "object" && value !== null && (value as { $$type?: unknown }).$$type === TASK_DEFINITION_TYPE;
}

/** Short human-readable name of a task's code: `module#export`. */
export function taskLabel(task: Pick<Task, "ref">): string {
  return `${task.ref.module}#${task.ref.export}`;
}

/**
 * The dedup identity of a task: (job, code reference, signature). Without a signature
 * every task of the job with the same code counts as the same task, as in the original.
 */
export function taskIdentity(job: string, task: Pick<Task, "ref" | "signature">): string {
  return `${job}\u0000${task.ref.module}#${task.ref.export}\u0000${task.signature ?? ""}`;
}

/** Checks the shape of something a job returned as a task; returns why it is not one. */
export function whyNotATask(value: unknown): string | undefined {
  if (typeof value !== "object" || value === null) return `got ${value === null ? "null" : typeof value}`;
  const ref = (value as { ref?: unknown }).ref as Partial<TaskRef> | undefined;
  if (!ref || typeof ref !== "object") return "it has no `ref`";
  if (typeof ref.module !== "string" || ref.module === "") return "its `ref.module` is not a module specifier";
  if (typeof ref.export !== "string" || ref.export === "") return "its `ref.export` is not an export name";
  return undefined;
}
