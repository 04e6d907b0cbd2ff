import { InProcessExecutor } from "../in-process-executor.js";
import { Runner, type JobSettings } from "../runner.js";
import type { Job } from "../job.js";
import type { RunResult, TaskDoneEvent, TaskEvent, TaskFailedEvent } from "../events.js";
import type { Task } from "../task.js";
import type { Logger } from "../logger.js";

export { InProcessExecutor } from "../in-process-executor.js";

export interface RunJobOptions extends JobSettings {
  /** Tasks that may run at once (default 4). */
  concurrency?: number;
  logger?: Logger;
  /** Folders task modules resolve from (default: the working directory). */
  resolveFrom?: string[];
  /** Stop after this many ms even if the job is not done (default: no limit). */
  stopAfterMs?: number;
}

export interface RunJobResult extends RunResult {
  started: TaskEvent[];
  done: TaskDoneEvent[];
  failed: TaskFailedEvent[];
}

/**
 * Runs one job to completion with tasks executed in this thread, and records what
 * happened: the plugin author's test helper. Task modules are imported by their
 * reference, exactly as a worker would.
 */
export async function runJob(job: Job, options: RunJobOptions = {}): Promise<RunJobResult> {
  const executor = new InProcessExecutor({ size: options.concurrency ?? 4, ...(options.logger ? { logger: options.logger } : {}) });
  const runner = new Runner({
    executor,
    jobs: [{ job, settings: options }],
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.resolveFrom ? { resolveFrom: options.resolveFrom } : {}),
  });
  const started: TaskEvent[] = [];
  const done: TaskDoneEvent[] = [];
  const failed: TaskFailedEvent[] = [];
  runner.on("task:started", (event) => started.push(event));
  runner.on("task:done", (event) => done.push(event));
  runner.on("task:failed", (event) => failed.push(event));
  runner.on("task:timeout", (event) => failed.push(event));
  let timer: NodeJS.Timeout | undefined;
  if (options.stopAfterMs !== undefined) timer = setTimeout(() => runner.stop({ graceMs: 0 }), options.stopAfterMs);
  try {
    const result = await runner.run();
    return { ...result, started, done, failed };
  } finally {
    if (timer) clearTimeout(timer);
  }
}

/** Asks a job once for its tasks (with JobDone surfaced as `done: true`). */
export async function collectTasks(job: Job): Promise<{ tasks: Task[]; done: boolean }> {
  try {
    return { tasks: [...(await job.getRunnableTasks())], done: false };
  } catch (error) {
    if ((error as { code?: string }).code === "UJR_JOB_DONE") return { tasks: [], done: true };
    throw error;
  }
}
