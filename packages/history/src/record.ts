import { hostname } from "node:os";
import type { Runner, TaskEvent, TaskFailedEvent, TaskFailure } from "@ujr/core";
import type { HistoryStore } from "./history-store.js";
import type { JobEventKind, RunOutcome, RunRecord } from "./types.js";

export interface RecordHistoryOptions {
  /** The plugin and job type of a job (from the config), stored with each run. */
  describeJob?: ((job: string) => { plugin?: string | undefined; jobType?: string | undefined } | undefined) | undefined;
  now?: (() => number) | undefined;
}

/** Fields the runner's task events carry once the lead's timing fields land (optional until then). */
type Timed = { submittedAt?: number; startedAt?: number };

const MESSAGE_LIMIT = 2000;

function progressText(progress: { done?: number; total?: number; message?: string } | undefined): string | undefined {
  if (!progress) return undefined;
  const count = progress.done !== undefined ? (progress.total !== undefined ? `${progress.done}/${progress.total}` : String(progress.done)) : "";
  const text = [count, progress.message ?? ""].filter(Boolean).join(" ");
  return text || undefined;
}

function failureFields(error: TaskFailure): { code?: string; message: string } {
  const message = error.message.length > MESSAGE_LIMIT ? `${error.message.slice(0, MESSAGE_LIMIT - 1)}…` : error.message;
  return error.code ? { code: error.code, message } : { message };
}

/**
 * Records a runner's task runs and job events into a history store as they happen.
 * Each handler only updates an object in memory; the store writes in batches.
 * Returns a function that stops recording.
 */
export function recordRunnerHistory(runner: Runner, store: HistoryStore, options: RecordHistoryOptions = {}): () => void {
  const now = options.now ?? Date.now;
  const host = hostname();
  const pid = process.pid;
  const live = new Map<string, RunRecord>();
  const described = new Map<string, { plugin?: string | undefined; jobType?: string | undefined }>();
  const key = (event: TaskEvent, attempt = event.attempt) => `${event.runId}\u0000${attempt}`;

  const describe = (job: string) => {
    let found = described.get(job);
    if (!found) {
      found = options.describeJob?.(job) ?? {};
      described.set(job, found);
    }
    return found;
  };

  const newRun = (event: TaskEvent, attempt: number, outcome: RunOutcome): RunRecord => {
    const { plugin, jobType } = describe(event.job);
    const timed = event as TaskEvent & Timed;
    return {
      runId: event.runId,
      attempt,
      job: event.job,
      plugin,
      jobType,
      task: event.label,
      signature: event.signature,
      queuedAt: timed.submittedAt,
      startedAt: timed.startedAt ?? (outcome === "running" ? now() : undefined),
      outcome,
      host,
      pid,
    };
  };

  const onStarted = (event: TaskEvent) => {
    const run = newRun(event, event.attempt, "running");
    live.set(key(event), run);
    store.recordRun(run);
  };

  const settle = (event: TaskEvent & { durationMs: number }, outcome: RunOutcome, error?: TaskFailure) => {
    const id = key(event);
    let run = live.get(id);
    if (run) live.delete(id);
    else {
      // Settled without a recorded start: a retry cancelled while it waited is its next attempt, never run.
      const attempt = outcome === "cancelled" && event.durationMs === 0 ? event.attempt + 1 : event.attempt;
      run = newRun(event, attempt, outcome);
    }
    const timed = event as TaskEvent & Timed;
    if (timed.startedAt !== undefined) run.startedAt = timed.startedAt;
    if (timed.submittedAt !== undefined) run.queuedAt = timed.submittedAt;
    run.outcome = outcome;
    run.endedAt = now();
    run.durationMs = event.durationMs;
    if (error) Object.assign(run, failureFields(error));
    store.recordRun(run);
  };

  const jobEvent = (job: string, event: JobEventKind, error?: TaskFailure) => {
    store.recordJobEvent({ at: now(), job, event, ...(error ? failureFields(error) : {}) });
  };

  const handlers = {
    "task:started": onStarted,
    "task:progress": (event: TaskEvent & { progress: { done?: number; total?: number; message?: string } }) => {
      const run = live.get(key(event));
      // Kept in memory only: written with the run's next change (its end).
      if (run) run.progress = progressText(event.progress);
    },
    "task:done": (event: TaskEvent & { durationMs: number }) => settle(event, "done"),
    "task:failed": (event: TaskFailedEvent) => settle(event, "failed", event.error),
    "task:timeout": (event: TaskFailedEvent) => settle(event, "timeout", event.error),
    "task:retry": (event: TaskFailedEvent) => settle(event, "retry", event.error),
    "task:cancelled": (event: TaskFailedEvent) => settle(event, "cancelled", event.error),
    "job:added": (event: { job: string }) => {
      described.delete(event.job);
      jobEvent(event.job, "added");
    },
    "job:done": (event: { job: string }) => jobEvent(event.job, "done"),
    "job:failed": (event: { job: string; error: TaskFailure }) => jobEvent(event.job, "failed", event.error),
    "job:removed": (event: { job: string }) => jobEvent(event.job, "removed"),
    "job:error": (event: { job: string; error: TaskFailure }) => jobEvent(event.job, "error", event.error),
    "job:paused": (event: { job: string }) => {
      jobEvent(event.job, "paused");
      store.setPaused(event.job, true);
    },
    "job:resumed": (event: { job: string }) => {
      jobEvent(event.job, "resumed");
      store.setPaused(event.job, false);
    },
    "runner:stopped": () => store.flush(),
  } as const;

  // job:paused / job:resumed are new runner events; listening by name works before and after they exist.
  const emitter = runner as unknown as { on(name: string, handler: (...args: never[]) => void): void; off(name: string, handler: (...args: never[]) => void): void };
  for (const [name, handler] of Object.entries(handlers)) emitter.on(name, handler);
  return () => {
    for (const [name, handler] of Object.entries(handlers)) emitter.off(name, handler);
  };
}
