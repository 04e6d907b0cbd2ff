import { pathToFileURL } from "node:url";
import type { AwakeTimeout } from "./awake-time.js";
import type { Deadline } from "./clock.js";
import type { TaskFailure } from "./executor.js";
import type { Job } from "./job.js";
import type { Logger } from "./logger.js";
import type { RetryPolicy } from "./retry.js";
import type { Task } from "./task.js";
import type { Executor } from "./executor.js";

// The runner's options, its snapshot and the state it keeps per job and per try.

export interface JobSettings {
  maxTasksPerJob?: number | undefined;
  taskTimeout?: number | undefined;
  retry?: RetryPolicy | undefined;
  /** Folders (paths or file URLs) that bare task module specifiers resolve from. */
  resolveFrom?: string[] | undefined;
}

export interface JobEntry {
  job: Job;
  settings?: JobSettings;
}

/** What `getChangedJobs` returns: jobs to delete (by name) and jobs to create. */
export interface JobChanges {
  remove?: string[];
  add?: Array<Job | JobEntry>;
}

export interface RunnerOptions {
  executor: Executor;
  jobs?: Iterable<Job | JobEntry>;
  logger?: Logger;
  /** Most tasks of one job running at once; default: the executor's size. */
  maxTasksPerJob?: number;
  /** Upper bound (ms) between rounds and between checks for changed jobs; events wake the loop sooner. */
  checkInterval?: number;
  /** Default task timeout (ms). */
  taskTimeout?: number;
  /** Default retry policy. */
  retry?: RetryPolicy;
  /** Backoff after a job's getRunnableTasks throws: doubles from baseMs up to maxMs. */
  jobErrorBackoff?: { baseMs?: number; maxMs?: number };
  /** Return from run() once no job is left (default true). */
  exitWhenIdle?: boolean;
  /** Default grace period (ms) for stop(). */
  shutdownGrace?: number;
  /** Default folders bare task module specifiers resolve from (default: the working directory). */
  resolveFrom?: string | string[];
  random?: () => number;
}

export type JobStatus = "active" | "draining" | "closing" | "done" | "failed" | "removed";

export interface Counters {
  started: number;
  done: number;
  failed: number;
  timedOut: number;
  retried: number;
  cancelled: number;
}

export interface JobState {
  job: Job;
  name: string;
  settings: JobSettings;
  resolveFrom: string[];
  status: JobStatus;
  paused: boolean;
  /** Tries of this job not settled yet (running, queued in the executor, or waiting to retry), by identity. */
  running: Map<string, RunningTask>;
  /** Not asked before this, after getRunnableTasks threw (undefined: not backed off). */
  backoff: Deadline | undefined;
  errorStreak: number;
  lastError?: TaskFailure | undefined;
  failure?: TaskFailure | undefined;
  counters: Counters;
  lastDoneAt?: number | undefined;
  lastFailedAt?: number | undefined;
  // ---- asks: what the job returned, kept and started from as capacity frees -----------
  /** The rest of what the last ask returned, not started yet. */
  pending: Iterator<Task> | undefined;
  /** An async ask is in flight. */
  asking: boolean;
  /** Something happened that may change the job's answer: ask again once `pending` is drained. */
  stale: boolean;
  /** What `pending` holds may be wrong now: drop it and ask again. */
  invalid: boolean;
  /** When the last ask began (monotonic ms, `monoNow()`). */
  askedAt: number;
  /** The job's nextCheck as the last ask left it; a change is the job saying its state changed. */
  nextCheckAtAsk: number | undefined;
  /** `nextCheckAtAsk` on both clocks: it comes when either says so (see clock.ts). */
  nextCheckDeadline: Deadline | undefined;
  /** A nextCheck in the future when the last ask ended: when it arrives, the job is asked again. */
  dueAt: number | undefined;
  /** Identities that settled since the last ask began: that ask's answer is stale for them (promise b). */
  settledSinceAsk: Set<string>;
  closed: boolean;
}

export interface RunningTask {
  runId: string;
  identity: string;
  state: JobState;
  task: Task;
  label: string;
  attempt: number;
  phase: "running" | "waiting" | "ready";
  submittedAt: number;
  /** When its code started (0: not yet, or never), wall clock, for display. */
  startedAt: number;
  /** The same on the monotonic clock, for its duration. */
  startedMono: number;
  /** Its timeout, on awake time (awake-time.ts). */
  timeout?: AwakeTimeout | undefined;
  retryTimer?: NodeJS.Timeout | undefined;
  timedOut: boolean;
  timeoutMs?: number | undefined;
  cancelReason?: TaskFailure | undefined;
  /** A waiting retry that was dropped (its job ended, or the runner stopped). */
  dropped: boolean;
  progress?: { done?: number; total?: number; message?: string } | undefined;
}

export interface JobSnapshot {
  name: string;
  /** `paused` while pauseJob() holds an active job. */
  status: JobStatus | "paused";
  nextCheck?: string | undefined;
  backoffUntil?: string | undefined;
  /** Tries whose code is running now. */
  running: number;
  /** Tries handed to the executor that have not started yet. */
  queued: number;
  waitingRetry: number;
  counters: Counters;
  lastError?: TaskFailure | undefined;
  lastDoneAt?: string | undefined;
  lastFailedAt?: string | undefined;
  /** The job's own status panel (`statusPanel()`), plain data, when it has one. */
  panel?: unknown;
}

export interface RunnerSnapshot {
  state: "idle" | "running" | "stopping" | "stopped";
  startedAt?: string | undefined;
  /** How long the runner has run (monotonic: right when the wall clock jumped). */
  uptimeMs?: number | undefined;
  jobs: JobSnapshot[];
  /** Tries whose code is running now (not those queued in the executor). */
  running: Array<{
    runId: string;
    job: string;
    task: string;
    signature?: string | undefined;
    attempt: number;
    startedAt: string;
    /** How long it has run (monotonic: right when the wall clock jumped). */
    elapsedMs?: number | undefined;
    progress?: { done?: number; total?: number; message?: string } | undefined;
  }>;
  totals: Counters;
  executor: { size: number; free: number };
  /** Tasks waiting for a retry or for capacity to retry. */
  queueDepth: number;
}

export function newCounters(): Counters {
  return { started: 0, done: 0, failed: 0, timedOut: 0, retried: 0, cancelled: 0 };
}

export function toFolderUrl(folder: string): string {
  if (folder.startsWith("file:")) return folder.endsWith("/") ? folder : `${folder}/`;
  const url = pathToFileURL(folder).href;
  return url.endsWith("/") ? url : `${url}/`;
}

