import type { Registry } from "prom-client";
import { promClient } from "./prom-client.js";
import type { Runner, RunnerEvents } from "@ujr/core";

/** Outcomes counted by `ujr_tasks_total`. */
export const TASK_OUTCOMES = ["done", "failed", "timeout", "cancelled", "retried"] as const;
const JOB_STATUSES = ["active", "draining", "closing", "done", "failed", "removed"] as const;

export interface StatusMetrics {
  /** The registry the metrics live in (never prom-client's global one). */
  readonly registry: Registry;
  /** Prometheus text exposition of every metric. */
  text(): Promise<string>;
  /** Stops listening to the runner. */
  dispose(): void;
}

/**
 * Prometheus metrics of a runner in their own registry, fed by its events (counters,
 * durations) and read from its snapshot at scrape time (gauges), plus process metrics:
 *
 * - `ujr_tasks_total{job,outcome}`: tries that ended, by outcome (done, failed, timeout, cancelled, retried)
 * - `ujr_task_duration_seconds{job}`: how long tries ran (done, failed, timed out or retried)
 * - `ujr_tasks_running{job}`, `ujr_queue_depth`, `ujr_jobs{status}`, `ujr_executor_slots{state}`
 */
export function createStatusMetrics(runner: Runner): StatusMetrics {
  const { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } = promClient();
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });

  const tasks = new Counter({
    name: "ujr_tasks_total",
    help: "Task tries that ended, by job and outcome (done, failed, timeout, cancelled, retried).",
    labelNames: ["job", "outcome"] as const,
    registers: [registry],
  });
  const durations = new Histogram({
    name: "ujr_task_duration_seconds",
    help: "How long task tries ran, by job (done, failed, timed out or retried tries).",
    labelNames: ["job"] as const,
    buckets: [0.005, 0.025, 0.1, 0.25, 1, 2.5, 10, 30, 60, 300, 900, 3600],
    registers: [registry],
  });
  // Jobs that failed leave the runner's snapshot; remember them to report their status.
  const finished = { done: 0, failed: new Set<string>(), removed: 0 };

  new Gauge({
    name: "ujr_tasks_running",
    help: "Tasks running now, by job.",
    labelNames: ["job"] as const,
    registers: [registry],
    collect() {
      this.reset();
      const snapshot = runner.snapshot();
      for (const job of snapshot.jobs) this.set({ job: job.name }, 0);
      for (const task of snapshot.running) this.inc({ job: task.job });
    },
  });
  new Gauge({
    name: "ujr_queue_depth",
    help: "Tasks waiting for a retry or for capacity to retry.",
    registers: [registry],
    collect() {
      this.set(runner.snapshot().queueDepth);
    },
  });
  new Gauge({
    name: "ujr_jobs",
    help: "Jobs by status: active, draining, closing (in the runner now); done, failed, removed (since the runner started).",
    labelNames: ["status"] as const,
    registers: [registry],
    collect() {
      const counts: Record<string, number> = Object.fromEntries(JOB_STATUSES.map((status) => [status, 0]));
      for (const job of runner.snapshot().jobs) if (!finished.failed.has(job.name)) counts[job.status] = (counts[job.status] ?? 0) + 1;
      counts.done = finished.done;
      counts.failed = finished.failed.size;
      counts.removed = finished.removed;
      for (const [status, count] of Object.entries(counts)) this.set({ status }, count);
    },
  });
  new Gauge({
    name: "ujr_executor_slots",
    help: "Task slots of the executor: size (running plus queued at once) and free.",
    labelNames: ["state"] as const,
    registers: [registry],
    collect() {
      const { size, free } = runner.snapshot().executor;
      this.set({ state: "size" }, size);
      this.set({ state: "free" }, free);
    },
  });

  /** A try that ran to an end: counted under `outcome`, its duration observed. */
  const ended = (outcome: string) => (event: { job: string; durationMs: number }) => {
    tasks.inc({ job: event.job, outcome });
    durations.observe({ job: event.job }, event.durationMs / 1000);
  };
  const listeners: { [K in keyof RunnerEvents]?: (...args: RunnerEvents[K]) => void } = {
    "task:done": ended("done"),
    "task:failed": ended("failed"),
    "task:timeout": ended("timeout"),
    "task:retry": ended("retried"),
    "task:cancelled": (event) => tasks.inc({ job: event.job, outcome: "cancelled" }),
    "job:done": () => finished.done++,
    "job:failed": (event) => finished.failed.add(event.job),
    "job:removed": () => finished.removed++,
  };
  for (const [name, listener] of Object.entries(listeners)) runner.on(name as keyof RunnerEvents, listener as never);

  return {
    registry,
    text: () => registry.metrics(),
    dispose() {
      for (const [name, listener] of Object.entries(listeners)) runner.off(name as keyof RunnerEvents, listener as never);
    },
  };
}
