import type { TaskFailure } from "./executor.js";
import type { Task } from "./task.js";

export interface TaskEvent {
  job: string;
  runId: string;
  task: Task;
  /** `module#export` of the task's code. */
  label: string;
  signature?: string | undefined;
  attempt: number;
}

export interface TaskDoneEvent extends TaskEvent {
  result: unknown;
  durationMs: number;
}

export interface TaskFailedEvent extends TaskEvent {
  error: TaskFailure;
  durationMs: number;
}

export interface TaskRetryEvent extends TaskFailedEvent {
  delayMs: number;
}

export interface TaskProgressEvent extends TaskEvent {
  progress: { done?: number; total?: number; message?: string };
}

export interface JobErrorEvent {
  job: string;
  error: TaskFailure;
  backoffMs: number;
}

/** Every event a runner emits, with its payload. */
export interface RunnerEvents {
  "task:started": [TaskEvent];
  "task:done": [TaskDoneEvent];
  "task:failed": [TaskFailedEvent];
  "task:timeout": [TaskFailedEvent];
  "task:retry": [TaskRetryEvent];
  "task:cancelled": [TaskFailedEvent];
  "task:progress": [TaskProgressEvent];
  "job:added": [{ job: string }];
  "job:done": [{ job: string }];
  "job:failed": [{ job: string; error: TaskFailure }];
  "job:removed": [{ job: string }];
  "job:error": [JobErrorEvent];
  "changes:error": [{ error: TaskFailure }];
  "runner:stopping": [{ graceMs: number; reason: string }];
  "runner:stopped": [RunResult];
}

export interface RunResult {
  /** done: every job finished; stopped: stop() after running tasks finished; aborted: running tasks were stopped. */
  reason: "done" | "stopped" | "aborted";
  tasks: { done: number; failed: number; timedOut: number; retried: number; cancelled: number };
  failedJobs: string[];
}
