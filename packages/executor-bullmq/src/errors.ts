/**
 * The error catalogue of @ujr/executor-bullmq. Each error has a stable `code` and a
 * message that says what to do; callers check `code`, never `instanceof` (errors cross
 * process and machine boundaries as plain objects).
 */

import { defineErrors, type CatalogueError, type ErrorParams } from "@ujr/core";

export type BullmqErrorParams = ErrorParams;

export const bullmqErrorCatalogue = {
  UJR_BULLMQ_REDIS_UNREACHABLE: {
    message:
      "Cannot reach Redis at {redis} (queue {queue}): {reason}. Start Redis, or fix runner.executor.redis in the config (or --redis of `ujr worker`).",
    exitCode: 2,
  },
  UJR_BULLMQ_JOB_FAILED: {
    message:
      "Task {task} of job {job} failed on the queue {queue}: {reason}. This happens when its worker died or stalled more than maxStalledCount times; check the workers' logs.",
    exitCode: 1,
  },
  UJR_BULLMQ_EXECUTOR_CLOSED: {
    message:
      "Task {task} of job {job} was left on the queue {queue} because the coordinator closed; its result is kept in Redis and a restarted coordinator picks it up.",
    exitCode: 1,
  },
  UJR_BULLMQ_WORKER_STOPPED: {
    message: "Task {task} of job {job} was stopped because its worker shut down ({reason}); run it again or start more workers.",
    exitCode: 1,
  },
  UJR_BULLMQ_JOB_UNREADABLE: {
    message:
      "Job {jobId} on the queue {queue} is not a ujr task this worker can read ({reason}). Another program, or a coordinator of another ujr version, put it there: give each its own queue (runner.executor.queue), and run one ujr version on the coordinators and workers of a queue.",
    exitCode: 1,
  },
  UJR_BULLMQ_NO_WORKERS: {
    message:
      "No worker takes tasks from the queue {queue} on {redis}: {waiting} task(s) have waited over {seconds} s. Start one on a machine with the plugins installed: `ujr worker --config ujr.config.yaml` (or `--redis <url> --queue {queue}`).",
    exitCode: 1,
  },
  UJR_BULLMQ_OPTION_INVALID: { message: "Invalid option {option}: {reason}.", exitCode: 2 },
} as const satisfies Record<string, { message: string; exitCode: 1 | 2 }>;

export type BullmqErrorCode = keyof typeof bullmqErrorCatalogue;

/** Makes an error of this catalogue (name "UjrError", like core's; checked by `code`). */
export const bullmqError = defineErrors(bullmqErrorCatalogue);

export type BullmqExecutorError = CatalogueError<BullmqErrorCode>;

/**
 * Core's errors as a worker reports them. The code stays core's (callers check it, and it
 * means the same thing); the message names the worker machine, since whoever reads it (in
 * the coordinator's log, `ujr run`'s output, the run history) is on another machine, where
 * the module may well be installed.
 */
export const workerErrorCatalogue = {
  UJR_TASK_MODULE_NOT_FOUND: {
    message: 'Task module "{module}" could not be resolved on the worker {worker} (host {host}, pid {pid}), which looked in {searched}. {fix}',
    exitCode: 1,
  },
} as const satisfies Record<string, { message: string; exitCode: 1 | 2 }>;

export const workerError = defineErrors(workerErrorCatalogue);
