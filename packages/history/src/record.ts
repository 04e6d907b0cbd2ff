import { hostname } from "node:os";
import type { Logger, Runner, TaskEvent, TaskFailedEvent, TaskFailure } from "@ujr/core";
/** What the recorder writes to: a HistoryStore (SQLite) or a PgHistoryStore. */
export interface HistoryWriter {
  recordRun(run: RunRecord): void;
  recordJobEvent(event: JobEventRecord): void;
  flush(): void;
  setPaused(job: string, paused: boolean): void | Promise<void>;
}
import type { JobEventKind, JobEventRecord, RunOutcome, RunRecord } from "./types.js";

export interface RecordHistoryOptions {
  /** The plugin and job type of a job (from the config), stored with each run. */
  describeJob?: ((job: string) => { plugin?: string | undefined; jobType?: string | undefined } | undefined) | undefined;
  now?: (() => number) | undefined;
  logger?: Logger | undefined;
  /** How often tasks still running are recorded as running (ms, default 1000). */
  sweepMs?: number | undefined;
}

export interface HistoryRecorder {
  /** Records the tasks running now that are not recorded yet (also done every `sweepMs`). */
  sweep(): void;
  /** Stops recording. */
  stop(): void;
}

const MESSAGE_LIMIT = 2000;

function progressText(progress: { done?: number; total?: number; message?: string } | undefined): string | undefined {
  if (!progress) return undefined;
  const count = progress.done !== undefined ? (progress.total !== undefined ? `${progress.done}/${progress.total}` : String(progress.done)) : "";
  const text = [count, progress.message ?? ""].filter(Boolean).join(" ");
  return text || undefined;
}

/**
 * Records a runner's task runs and job events into a history store as they happen.
 * The busiest path (a task settling) only builds one record; the store writes in batches.
 * Tasks still running at a sweep (every `sweepMs`, default 1 s, while the runner has tasks
 * in flight) are recorded as running, so that a crash leaves them marked `interrupted`. An
 * idle runner is not woken: a collection that polls every few minutes for months costs
 * nothing between its tasks.
 */
export function recordRunnerHistory(runner: Runner, store: HistoryWriter, options: RecordHistoryOptions = {}): HistoryRecorder {
  const now = options.now ?? Date.now;
  const host = hostname();
  const pid = process.pid;
  /** Runs recorded as running (by run id; a retry reuses the id with the next attempt). */
  const running = new Map<string, RunRecord>();
  /** The last progress of tasks that reported some. */
  const progress = new Map<string, string>();
  const changing = new Set<string>();
  const described = new Map<string, { plugin?: string | undefined; jobType?: string | undefined }>();
  let lastJob: string | undefined;
  let lastDescription: { plugin?: string | undefined; jobType?: string | undefined } = {};

  const describe = (job: string) => {
    if (job === lastJob) return lastDescription;
    let found = described.get(job);
    if (!found) {
      found = options.describeJob?.(job) ?? {};
      described.set(job, found);
    }
    lastJob = job;
    lastDescription = found;
    return found;
  };

  const sweep = () => {
    for (const task of runningTasks()) {
      if (running.has(task.runId)) continue;
      const { plugin, jobType } = describe(task.job);
      const record: RunRecord = {
        runId: task.runId,
        attempt: task.attempt,
        job: task.job,
        plugin,
        jobType,
        task: task.task,
        signature: task.signature,
        startedAt: Date.parse(task.startedAt),
        outcome: "running",
        host,
        pid,
        progress: progressText(task.progress),
      };
      running.set(task.runId, record);
      store.recordRun(record);
    }
  };
  // runningTasks() lists them without building every job's status panel (snapshot() does)
  const runningTasks = () => (typeof runner.runningTasks === "function" ? runner.runningTasks() : runner.snapshot().running);
  let sweeper: NodeJS.Timeout | undefined;
  let stopped = false;
  const startSweeping = () => {
    if (sweeper !== undefined || stopped) return;
    sweeper = setInterval(sweep, options.sweepMs ?? 1000);
    sweeper.unref();
  };
  const stopSweeping = () => {
    if (sweeper !== undefined) clearInterval(sweeper);
    sweeper = undefined;
  };
  // a runner that had tasks in flight before this recorder was attached
  if (runningTasks().length > 0) startSweeping();

  const settle = (event: TaskEvent & { durationMs: number }, outcome: RunOutcome, error?: TaskFailure) => {
    const endedAt = now();
    // Each try has a run id of its own (a retry, a cancelled retry that never started).
    // The busiest path, a task that settles before any sweep saw it, builds one record
    // whole (one shape; the map lookup hashes the run id, so only when something ran long).
    let run = running.size > 0 ? running.get(event.runId) : undefined;
    if (run) {
      running.delete(event.runId);
      // A try that never started (cancelled while queued) has no start time.
      run.startedAt = event.startedAt;
      run.queuedAt = event.submittedAt;
      run.outcome = outcome;
      run.endedAt = endedAt;
      run.durationMs = event.durationMs;
    } else {
      const description = event.job === lastJob ? lastDescription : describe(event.job);
      run = {
        runId: event.runId,
        attempt: event.attempt,
        job: event.job,
        plugin: description.plugin,
        jobType: description.jobType,
        task: event.label,
        signature: event.signature,
        queuedAt: event.submittedAt,
        startedAt: event.startedAt,
        endedAt,
        outcome,
        code: undefined,
        message: undefined,
        durationMs: event.durationMs,
        host,
        pid,
        progress: undefined,
      };
    }
    if (progress.size > 0) {
      const last = progress.get(event.runId);
      if (last !== undefined) {
        run.progress = last;
        progress.delete(event.runId);
      }
    }
    if (error) {
      run.message = error.message.length > MESSAGE_LIMIT ? `${error.message.slice(0, MESSAGE_LIMIT - 1)}…` : error.message;
      if (error.code) run.code = error.code;
    }
    store.recordRun(run);
  };

  const keepPaused = (job: string, paused: boolean) => {
    try {
      void Promise.resolve(store.setPaused(job, paused)).catch((error: unknown) => options.logger?.error({ job, err: error }, "run history: could not keep the paused state"));
    } catch (error) {
      options.logger?.error({ job, err: error }, "run history: could not keep the paused state");
    }
  };

  const jobEvent = (job: string, event: JobEventKind, error?: TaskFailure) => {
    const record: JobEventRecord = { at: now(), job, event };
    if (error) {
      record.message = error.message.slice(0, MESSAGE_LIMIT);
      if (error.code) record.code = error.code;
    }
    store.recordJobEvent(record);
  };

  const handlers = {
    "task:progress": (event: TaskEvent & { progress: { done?: number; total?: number; message?: string } }) => {
      const text = progressText(event.progress);
      if (text !== undefined) progress.set(event.runId, text);
    },
    "task:done": (event: TaskEvent & { durationMs: number }) => settle(event, "done"),
    "task:failed": (event: TaskFailedEvent) => settle(event, "failed", event.error),
    "task:timeout": (event: TaskFailedEvent) => settle(event, "timeout", event.error),
    "task:retry": (event: TaskFailedEvent) => settle(event, "retry", event.error),
    "task:cancelled": (event: TaskFailedEvent) => settle(event, "cancelled", event.error),
    "job:added": (event: { job: string }) => {
      described.delete(event.job);
      lastJob = undefined;
      // A job changed by a config reload is removed and added again: one "changed" event.
      if (changing.delete(event.job)) return;
      jobEvent(event.job, "added");
    },
    "job:done": (event: { job: string }) => jobEvent(event.job, "done"),
    "job:failed": (event: { job: string; error: TaskFailure }) => jobEvent(event.job, "failed", event.error),
    "job:removed": (event: { job: string; reason?: string }) => {
      if (event.reason === "job changed") {
        changing.add(event.job);
        jobEvent(event.job, "changed");
      } else store.recordJobEvent({ at: now(), job: event.job, event: "removed", ...(event.reason ? { message: event.reason } : {}) });
    },
    "job:error": (event: { job: string; error: TaskFailure }) => jobEvent(event.job, "error", event.error),
    "job:paused": (event: { job: string }) => {
      jobEvent(event.job, "paused");
      keepPaused(event.job, true);
    },
    "job:resumed": (event: { job: string }) => {
      jobEvent(event.job, "resumed");
      keepPaused(event.job, false);
    },
    "runner:busy": startSweeping,
    "runner:idle": stopSweeping,
    "runner:stopped": () => {
      stopped = true;
      stopSweeping();
      store.flush();
    },
  } as const;

  // job:paused / job:resumed are new runner events; listening by name works before and after they exist.
  const emitter = runner as unknown as { on(name: string, handler: (...args: never[]) => void): void; off(name: string, handler: (...args: never[]) => void): void };
  for (const [name, handler] of Object.entries(handlers)) emitter.on(name, handler);
  return {
    sweep,
    stop() {
      stopped = true;
      stopSweeping();
      for (const [name, handler] of Object.entries(handlers)) emitter.off(name, handler);
    },
  };
}
