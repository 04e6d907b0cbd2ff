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
  /** When the runner handed this try to its executor (ms since the epoch). */
  submittedAt: number;
  /**
   * When the try's code started in a worker (ms since the epoch): later than `submittedAt`
   * when the executor queued it. Undefined for a try that never started (cancelled while
   * queued, or its module could not be loaded).
   */
  startedAt?: number | undefined;
}

export interface TaskDoneEvent extends TaskEvent {
  result: unknown;
  /** Running time: from `startedAt` to the outcome (0 for a try that never started). */
  durationMs: number;
}

export interface TaskFailedEvent extends TaskEvent {
  /** The failure, as the job's `onTaskFailed(task, error)` receives it. */
  error: TaskFailure;
  /** Running time: from `startedAt` to the outcome (0 for a try that never started). */
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

/** Why a job left the runner without finishing. */
export type JobRemovedReason = "removed" | "changed" | "deleted";

/** Every event a runner emits, with its payload. */
export interface RunnerEvents {
  /** A try's code started in a worker (not when it was queued). */
  "task:started": [TaskEvent];
  "task:done": [TaskDoneEvent];
  "task:failed": [TaskFailedEvent];
  "task:timeout": [TaskFailedEvent];
  "task:retry": [TaskRetryEvent];
  "task:cancelled": [TaskFailedEvent];
  "task:progress": [TaskProgressEvent];
  "job:added": [{ job: string }];
  /** The job threw JobDone or JobFailed: nothing new starts for it; its running tasks finish (then job:done). */
  "job:ending": [{ job: string; outcome: "done" | "failed" }];
  "job:done": [{ job: string }];
  "job:failed": [{ job: string; error: TaskFailure }];
  "job:removed": [{ job: string; reason: string }];
  "job:paused": [{ job: string }];
  "job:resumed": [{ job: string }];
  "job:error": [JobErrorEvent];
  "changes:error": [{ error: TaskFailure }];
  /** A task was handed to the executor while none was: the runner has work in flight. */
  "runner:busy": [];
  /** The last task in flight settled: nothing runs or waits in the executor. */
  "runner:idle": [];
  "runner:stopping": [{ graceMs: number; reason: string }];
  "runner:stopped": [RunResult];
}

/** How one job ended, as `RunResult.jobs` reports it. */
export interface JobOutcome {
  /**
   * done: it threw JobDone and its tasks settled; failed: it threw JobFailed; removed: a
   * configuration change or removeJob() took it away; stopped: the runner stopped first.
   */
  outcome: "done" | "failed" | "removed" | "stopped";
  /** Why it failed (JobFailed's message and code). */
  error?: TaskFailure | undefined;
  /** Its tasks' outcomes; `failed` are tasks that failed for good (warnings when the job is done). */
  tasks: { done: number; failed: number; timedOut: number; retried: number; cancelled: number };
}

export interface RunResult {
  /** done: every job finished; stopped: stop() after running tasks finished; aborted: running tasks were stopped. */
  reason: "done" | "stopped" | "aborted";
  /** The reason given to stop() (a signal's name when the CLI stopped on a signal). */
  stopReason?: string | undefined;
  tasks: { done: number; failed: number; timedOut: number; retried: number; cancelled: number };
  /** Jobs whose last outcome is `failed`. */
  failedJobs: string[];
  /** Every job this run had, by name, with how it ended (the last job of that name). */
  jobs: Record<string, JobOutcome>;
}
