import type { Logger } from "@ujr/core";
import { startProbeServer, type ProbeServer } from "@ujr/runner-local";

interface WorkerLike {
  readonly queue: string;
  readonly concurrency: number;
  readonly running: number;
  readonly closed: Promise<void>;
}

/**
 * `ujr worker --status-port`: /healthz (200 `ok` while the worker takes tasks, 503
 * `stopping` after a stop signal, `stopped` once closed) and /metrics (process metrics,
 * tasks running and the concurrency) for an orchestrator's probes and Prometheus.
 */
export async function startWorkerProbes(worker: WorkerLike, options: { port: number; host?: string | undefined; logger?: Logger | undefined }): Promise<ProbeServer> {
  let state = "ok";
  const stopping = () => {
    if (state === "ok") state = "stopping";
  };
  process.once("SIGINT", stopping);
  process.once("SIGTERM", stopping);
  void worker.closed.then(() => {
    state = "stopped";
    process.off("SIGINT", stopping);
    process.off("SIGTERM", stopping);
  });
  return startProbeServer({
    port: options.port,
    host: options.host,
    name: "worker probes",
    logger: options.logger,
    health: () => state,
    gauges: {
      ujr_worker_tasks_running: { help: "Tasks running on this worker now.", value: () => worker.running },
      ujr_worker_concurrency: { help: "Tasks this worker takes from the queue at once.", value: () => worker.concurrency },
    },
  });
}
