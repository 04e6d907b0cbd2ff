import { setImmediate as realSetImmediate, setTimeout as realSetTimeout } from "node:timers";
import { InProcessExecutor } from "../in-process-executor.js";
import { Runner, type JobSettings } from "../runner.js";
import type { Job } from "../job.js";
import type { JobErrorEvent, RunResult, TaskDoneEvent, TaskEvent, TaskFailedEvent, TaskProgressEvent, TaskRetryEvent } from "../events.js";
import type { TaskFailure, TaskOutcome, TaskRun } from "../executor.js";
import type { Task } from "../task.js";
import type { Logger } from "../logger.js";

export interface RunJobOptions extends JobSettings {
  /** Tasks that may run at once (default 4). */
  concurrency?: number;
  logger?: Logger;
  /** Folders task modules resolve from (default: the working directory). */
  resolveFrom?: string[];
  /** Stop after this many ms even if the job is not done (default: no limit). Fake ms under fake timers. */
  stopAfterMs?: number;
  /**
   * How time passes while the job waits (for its `nextCheck`, a retry's backoff, a
   * timeout...). "auto" (default): under fake timers (`vi.useFakeTimers()`), whenever
   * the job is idle (no task running, no call into the job pending; a task still running
   * after 100 real ms counts as waiting on fake time, unless it is at real work: a file, a
   * child process, a DNS lookup), fake time jumps to the next timer, so a job that checks again in an hour finishes in milliseconds; with
   * real timers, time passes for real. A function: called to move time on instead (e.g.
   * `() => vi.advanceTimersToNextTimerAsync()`). false: never move fake time.
   */
  advanceTime?: "auto" | false | (() => unknown);
  /** Under fake time, most jumps before the run is stopped (a job that never finishes). Default 10 000. */
  maxTimeJumps?: number;
}

export interface RunJobResult extends Omit<RunResult, "reason"> {
  /**
   * done: the job finished (JobDone); failed: it threw JobFailed (its error in
   * `jobFailure`); stopped/aborted: `stopAfterMs` or the time-jump limit ended it.
   */
  reason: RunResult["reason"] | "failed";
  /** Why the job failed, when `reason` is "failed". */
  jobFailure?: TaskFailure | undefined;
  started: TaskEvent[];
  done: TaskDoneEvent[];
  failed: TaskFailedEvent[];
  retried: TaskRetryEvent[];
  progress: TaskProgressEvent[];
  /** Times `getRunnableTasks` threw (other than JobDone/JobFailed) and the job was backed off. */
  jobErrors: JobErrorEvent[];
  /** How many times `getRunnableTasks` was called. */
  checks: number;
  /** Under fake time: how many times time jumped to the next timer. */
  timeJumps: number;
}

/** The clock @sinonjs/fake-timers (vitest's and jest's fake timers) hangs on the timer functions it replaces. */
interface FakeClock {
  nextAsync(): Promise<number>;
}

function installedFakeClock(): FakeClock | undefined {
  const clock = (globalThis.setTimeout as unknown as { clock?: Partial<FakeClock> }).clock;
  return clock && typeof clock.nextAsync === "function" ? (clock as FakeClock) : undefined;
}

/** Counts calls into a job that have not settled yet, without changing what the runner sees. */
function trackJob(job: Job, pending: Set<Promise<unknown>>, onCheck: () => void): Job {
  const tracked = new Set(["getRunnableTasks", "onTaskDone", "onTaskFailed", "close"]);
  return new Proxy(job, {
    get(target, key) {
      // Read and call on the job itself, so getters and methods using #private fields work.
      const value = Reflect.get(target, key, target) as unknown;
      if (typeof value !== "function") return value;
      if (typeof key !== "string" || !tracked.has(key)) return (value as (...a: unknown[]) => unknown).bind(target);
      return (...args: unknown[]) => {
        if (key === "getRunnableTasks") onCheck();
        const result = (value as (...a: unknown[]) => unknown).apply(target, args);
        if (result && typeof (result as Promise<unknown>).then === "function") {
          const settled = Promise.resolve(result).then(
            () => undefined,
            () => undefined,
          );
          pending.add(settled);
          void settled.then(() => pending.delete(settled));
        }
        return result;
      };
    },
  });
}

class TrackingExecutor extends InProcessExecutor {
  readonly pending = new Set<Promise<unknown>>();
  override submit(run: TaskRun): Promise<TaskOutcome> {
    const outcome = super.submit(run);
    this.pending.add(outcome);
    void outcome.then(() => this.pending.delete(outcome));
    return outcome;
  }
}

/**
 * Requests of the file system and DNS, and child processes running (ref'd), are real work in
 * flight: unlike a socket waiting for data or a timer, each ends by itself in real time.
 */
const REAL_WORK = /^(FSReq|FileHandleCloseReq|GetAddrInfoReqWrap|GetNameInfoReqWrap|QueryReqWrap|ProcessWrap)/;
const realWorkInFlight = () => process.getActiveResourcesInfo().some((resource) => REAL_WORK.test(resource));

const realTurn = () => new Promise<void>((resolve) => realSetImmediate(resolve));
const realDelay = (ms: number) => new Promise<void>((resolve) => realSetTimeout(resolve, ms));

/**
 * Runs one job to completion with tasks executed in this thread, and records what
 * happened: the plugin author's test helper. Task modules are imported by their
 * reference, exactly as a worker would. Works under `vi.useFakeTimers()` (see
 * `advanceTime`).
 */
export async function runJob(job: Job, options: RunJobOptions = {}): Promise<RunJobResult> {
  const executor = new TrackingExecutor({ size: options.concurrency ?? 4, ...(options.logger ? { logger: options.logger } : {}) });
  const pendingJobCalls = new Set<Promise<unknown>>();
  let checks = 0;
  const runner = new Runner({
    executor,
    jobs: [{ job: trackJob(job, pendingJobCalls, () => checks++), settings: options }],
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.resolveFrom ? { resolveFrom: options.resolveFrom } : {}),
  });
  const started: TaskEvent[] = [];
  const done: TaskDoneEvent[] = [];
  const failed: TaskFailedEvent[] = [];
  const retried: TaskRetryEvent[] = [];
  const progress: TaskProgressEvent[] = [];
  const jobErrors: JobErrorEvent[] = [];
  runner.on("task:started", (event) => started.push(event));
  runner.on("task:done", (event) => done.push(event));
  runner.on("task:failed", (event) => failed.push(event));
  runner.on("task:timeout", (event) => failed.push(event));
  runner.on("task:retry", (event) => retried.push(event));
  runner.on("task:progress", (event) => progress.push(event));
  runner.on("job:error", (event) => jobErrors.push(event));
  let jobFailure: TaskFailure | undefined;
  runner.on("job:failed", (event) => (jobFailure = event.error));
  let timer: NodeJS.Timeout | undefined;
  if (options.stopAfterMs !== undefined) timer = setTimeout(() => runner.stop({ graceMs: 0 }), options.stopAfterMs);

  const advanceOption = options.advanceTime ?? "auto";
  const clock = advanceOption === "auto" ? installedFakeClock() : undefined;
  const advance = typeof advanceOption === "function" ? advanceOption : clock ? () => clock.nextAsync() : undefined;
  let timeJumps = 0;
  try {
    const running = runner.run();
    if (advance) {
      let finished = false;
      void running.then(
        () => (finished = true),
        () => (finished = true),
      );
      const maxJumps = options.maxTimeJumps ?? 10_000;
      let stopping = false;
      while (!finished) {
        // Let real I/O (task modules loading, files being written) and the runner's own
        // promise chains settle before deciding that the job is waiting for time.
        await realTurn();
        if (finished) break;
        if (pendingJobCalls.size > 0) {
          await Promise.race([Promise.race(pendingJobCalls), realDelay(100)]);
          continue;
        }
        if (executor.pending.size > 0) {
          // A task that waits on a fake timer itself only finishes when time moves: give
          // real work 100 real ms, then move time on.
          const settled = await Promise.race([Promise.race(executor.pending).then(() => true), realDelay(100).then(() => false)]);
          if (settled) continue;
          // unless a task is still at real work (a file, a child process, a lookup): that takes
          // real time, and fake time moved meanwhile would shift the job's schedule and could
          // time the task out (a loaded machine's slow disk did in an example plugin's test)
          if (realWorkInFlight()) continue;
        }
        await realTurn();
        if (finished || pendingJobCalls.size > 0) continue;
        if (timeJumps >= maxJumps && !stopping) {
          stopping = true;
          runner.stop({ graceMs: 0, reason: `runJob: fake time jumped ${maxJumps} times and the job is not done` });
          continue;
        }
        timeJumps++;
        await advance();
      }
    }
    const result = await running;
    const reason = result.failedJobs.length > 0 || jobFailure ? "failed" : result.reason;
    return { ...result, reason, jobFailure, started, done, failed, retried, progress, jobErrors, checks, timeJumps };
  } finally {
    if (timer) clearTimeout(timer);
  }
}

/** Asks a job once for its tasks (with JobDone surfaced as `done: true`, JobFailed as `failed`). */
export async function collectTasks(job: Job): Promise<{ tasks: Task[]; done: boolean; failed?: { message: string; code: string; causes?: string[] } }> {
  try {
    return { tasks: [...(await job.getRunnableTasks())], done: false };
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === "UJR_JOB_DONE") return { tasks: [], done: true };
    if (code === "UJR_JOB_FAILED") {
      // the codes of why, when the job said them (JobFailed's causes)
      const causes = (error as { details?: { causes?: string[] } }).details?.causes;
      return { tasks: [], done: false, failed: { message: (error as Error).message, code, ...(causes ? { causes } : {}) } };
    }
    throw error;
  }
}
