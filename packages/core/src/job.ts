import type { Task } from "./task.js";
import type { TaskFailure } from "./executor.js";
import type { Logger } from "./logger.js";
import type { StatusPanel } from "./status-panel.js";

/**
 * A discrete piece of work with a purpose. When asked, it returns the tasks that should
 * run now; it never runs them itself and never handles their uncaught errors.
 */
export interface Job {
  readonly name: string;
  /** While this is in the future (epoch ms or Date), the job is not asked for tasks. */
  nextCheck?: number | Date | null | undefined;
  /** Tasks to run now. Throw `new JobDone()` when the job is finished. */
  getRunnableTasks(): Iterable<Task> | Promise<Iterable<Task>>;
  onTaskDone?(task: Task, result: unknown): void | Promise<void>;
  onTaskFailed?(task: Task, failure: TaskFailure): void | Promise<void>;
  /** The job's own status summary for the dashboard, `ujr status` and `/status` (see status-panel.ts). */
  statusPanel?(): StatusPanel | undefined;
  /** Called once when the job is done, removed or the runner stops. */
  close?(): void | Promise<void>;
}

/** What a plugin's job factory gets from the runner. */
export interface JobContext {
  /** The job's name from the config: unique within a runner. */
  readonly name: string;
  /** A folder of the job's own for state (created before the job is). */
  readonly stateDir: string;
  /** Folder of the config file (or script) that defined the job: resolve relative paths from it. */
  readonly configDir: string;
  readonly logger: Logger;
}

/** Thrown by `getRunnableTasks` when the job is finished. */
export class JobDone extends Error {
  override readonly name = "JobDone";
  readonly code = "UJR_JOB_DONE";
  constructor(message = "job done") {
    super(message);
  }
}

/**
 * Thrown by `getRunnableTasks` when the job ends unsuccessfully (e.g. a rejected credential).
 * Its code is always UJR_JOB_FAILED (what ended the job); `causes` are the codes of why (a
 * plugin's own, e.g. UJR_TIDY_INPUT_MISSING), which reach the log line, the `job:failed`
 * event and the run's result as `details.causes`, so that a caller checks them by code.
 */
export class JobFailed extends Error {
  override readonly name = "JobFailed";
  readonly code = "UJR_JOB_FAILED";
  /** `{ causes }` when the job said why by code (see toTaskFailure: details are kept). */
  readonly details: { causes: string[] } | undefined;
  constructor(message?: string, options?: { causes?: readonly string[] | undefined }) {
    super(message);
    const causes = [...new Set(options?.causes ?? [])];
    this.details = causes.length > 0 ? { causes } : undefined;
  }
}

export function isJobDone(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === "UJR_JOB_DONE";
}

export function isJobFailed(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === "UJR_JOB_FAILED";
}

export function nextCheckMs(job: Pick<Job, "nextCheck">): number | undefined {
  const value = job.nextCheck;
  if (value === undefined || value === null) return undefined;
  const ms = value instanceof Date ? value.getTime() : value;
  return Number.isFinite(ms) ? ms : undefined;
}
