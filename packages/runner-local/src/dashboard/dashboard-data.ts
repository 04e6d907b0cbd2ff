import { normalizeStatusPanel, scrub, type Runner, type RunnerSnapshot } from "@ujr/core";
import type { DashboardHistory, DashboardJobSummary } from "./dashboard-history.js";

export interface OverviewJob {
  name: string;
  /** What a person reads: running, waiting, backed off, paused, done, failed, idle… */
  state: string;
  status: string;
  running: number;
  waitingRetry: number;
  nextCheck?: string | undefined;
  backoffUntil?: string | undefined;
  counters: RunnerSnapshot["jobs"][number]["counters"];
  lastError?: { code?: string | undefined; message: string } | undefined;
  panel?: unknown;
  history?: DashboardJobSummary | undefined;
}

export interface Overview {
  generatedAt: string;
  state: RunnerSnapshot["state"];
  startedAt?: string | undefined;
  jobs: OverviewJob[];
  running: RunnerSnapshot["running"];
  totals: RunnerSnapshot["totals"];
  pool: RunnerSnapshot["executor"] & { queueDepth: number };
  /** Runs and failures per hour, the last 24 hours (empty without a history). */
  hourly: Array<{ hour: number; runs: number; failures: number }>;
  history: boolean;
  actions: boolean;
  /** Jobs of the history that the runner does not run now (removed, or from an earlier config). */
  pastJobs: DashboardJobSummary[];
  /** A distributed executor's queue and workers (BullMQ), when it tells. */
  executor?: unknown;
}

/** What an executor says about itself (its queue and workers), asked at most every `maxAgeMs`. */
export class ExecutorInfoCache {
  #at = 0;
  #value: unknown;
  #pending: Promise<unknown> | undefined;
  constructor(
    readonly source: (() => Promise<unknown>) | undefined,
    readonly maxAgeMs = 5000,
  ) {}

  async read(): Promise<unknown> {
    if (!this.source) return undefined;
    if (Date.now() - this.#at >= this.maxAgeMs) {
      this.#pending ??= this.source().then(
        (value) => value,
        (error: unknown) => ({ error: (error as Error).message }),
      );
      this.#value = await this.#pending;
      this.#pending = undefined;
      this.#at = Date.now();
    }
    return this.#value;
  }
}

/** The state of a job as the dashboard writes it (words, never colour alone). */
export function jobState(job: RunnerSnapshot["jobs"][number], now = Date.now()): string {
  const status = job.status as string;
  if (status === "paused") return "paused";
  if (status === "done" || status === "failed" || status === "removed") return status;
  if (job.running > 0) return "running";
  if (job.backoffUntil && Date.parse(job.backoffUntil) > now) return "backed off";
  if (job.waitingRetry > 0) return "retry waiting";
  if (job.nextCheck && Date.parse(job.nextCheck) > now) return "waiting";
  if (status === "draining") return "finishing";
  return "idle";
}

/** Summaries from the history, cached: queried again once runs settled (at most every `minAgeMs`) or after `maxAgeMs`. */
export class HistoryCache {
  #at = 0;
  #stale = true;
  #summaries: DashboardJobSummary[] = [];
  #hourly: Overview["hourly"] = [];
  constructor(
    readonly history: DashboardHistory | undefined,
    readonly minAgeMs = 250,
    readonly maxAgeMs = 10_000,
  ) {}

  /** Runs settled: the next read queries the history again. */
  markStale(): void {
    this.#stale = true;
  }

  async read(force = false): Promise<{ summaries: DashboardJobSummary[]; hourly: Overview["hourly"] }> {
    const age = Date.now() - this.#at;
    if (this.history && (force || (this.#stale && age >= this.minAgeMs) || age >= this.maxAgeMs)) {
      this.#stale = false;
      this.#at = Date.now();
      await this.history.settled();
      this.#summaries = await this.history.jobSummaries();
      this.#hourly = await this.history.hourly({ hours: 24 });
      this.#at = Date.now();
    }
    return { summaries: this.#summaries, hourly: this.#hourly };
  }
}

function errorOf(error: { code?: string | undefined; message: string } | undefined) {
  return error ? { ...(error.code ? { code: error.code } : {}), message: error.message } : undefined;
}

export async function buildOverview(runner: Runner, cache: HistoryCache, actions: boolean, force = false, executorInfo?: ExecutorInfoCache): Promise<Overview> {
  const { summaries, hourly } = await cache.read(force);
  const executor = await executorInfo?.read();
  const snapshot = runner.snapshot();
  const byJob = new Map(summaries.map((summary) => [summary.job, summary]));
  const now = Date.now();
  const jobs: OverviewJob[] = snapshot.jobs.map((job) => {
    const panel = normalizeStatusPanel((job as { panel?: unknown }).panel);
    return {
      name: job.name,
      state: jobState(job, now),
      status: job.status,
      running: job.running,
      waitingRetry: job.waitingRetry,
      nextCheck: job.nextCheck,
      backoffUntil: job.backoffUntil,
      counters: job.counters,
      lastError: errorOf(job.lastError),
      ...(panel ? { panel } : {}),
      history: byJob.get(job.name),
    };
  });
  const live = new Set(jobs.map((job) => job.name));
  return scrub({
    generatedAt: new Date(now).toISOString(),
    state: snapshot.state,
    startedAt: snapshot.startedAt,
    jobs,
    running: snapshot.running,
    totals: snapshot.totals,
    pool: { ...snapshot.executor, queueDepth: snapshot.queueDepth },
    hourly,
    history: cache.history !== undefined,
    actions,
    pastJobs: summaries.filter((summary) => !live.has(summary.job)),
    ...(executor !== undefined ? { executor } : {}),
  }) as Overview;
}

/** A job's page: its live state, panel, and what the history says about it. */
export async function buildJobPage(runner: Runner, history: DashboardHistory | undefined, name: string, actions: boolean): Promise<unknown> {
  await history?.settled();
  const snapshot = runner.snapshot();
  const job = snapshot.jobs.find((entry) => entry.name === name);
  const summary = (await history?.jobSummaries({ job: name }))?.[0];
  if (!job && !summary) return undefined;
  const panel = job ? normalizeStatusPanel((job as { panel?: unknown }).panel) : undefined;
  return scrub({
    name,
    state: job ? jobState(job) : "not running",
    job: job ? { ...job, lastError: errorOf(job.lastError) } : undefined,
    panel,
    running: snapshot.running.filter((task) => task.job === name),
    summary,
    failures: (await history?.failuresByCode(name)) ?? [],
    durations: await history?.durations(name),
    events: (await history?.jobEvents({ job: name, limit: 20 })) ?? [],
    hourly: (await history?.hourly({ hours: 24, job: name })) ?? [],
    history: history !== undefined,
    actions,
  });
}
