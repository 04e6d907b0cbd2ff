import type { Tinypool } from "tinypool";
import type { TaskFailure, TaskOutcome, TaskRun } from "@ujr/core";
import type { PoolHooks } from "./process-sessions.js";
import type { WorkerMessage } from "./session-protocol.js";

/**
 * Runs tasks in a tinypool pool of threads, one tinypool run per task: tinypool's own
 * queue holds the tasks accepted beyond the running ones.
 */
export class ThreadRuns {
  readonly #pool: Tinypool;
  readonly #workers: number;
  readonly #hooks: PoolHooks;
  readonly #controllers = new Map<string, AbortController>();
  readonly #started = new Set<string>();

  constructor(pool: Tinypool, workers: number, hooks: PoolHooks) {
    this.#pool = pool;
    this.#workers = workers;
    this.#hooks = hooks;
  }

  async run(run: TaskRun, message: WorkerMessage): Promise<TaskOutcome> {
    const controller = new AbortController();
    this.#controllers.set(run.id, controller);
    try {
      const outcome = this.#pool.run(message, { signal: controller.signal }) as Promise<TaskOutcome>;
      this.#reportStarts();
      return await outcome;
    } catch (error) {
      if (controller.signal.aborted) return { ok: false, error: controller.signal.reason as TaskFailure };
      return { ok: false, error: this.#hooks.crashed(run, error) };
    } finally {
      this.#controllers.delete(run.id);
      this.#started.delete(run.id);
      this.#reportStarts();
    }
  }

  /** Tasks accepted and not settled yet. */
  get inFlight(): number {
    return this.#controllers.size;
  }

  has(runId: string): boolean {
    return this.#controllers.has(runId);
  }

  /**
   * Tinypool starts tasks in submission order, one per worker: the oldest `workers`
   * tasks in flight are the running ones. Tell the runner when a task joins them.
   */
  #reportStarts(): void {
    let position = 0;
    for (const runId of this.#controllers.keys()) {
      if (position++ >= this.#workers) break;
      if (this.#started.has(runId)) continue;
      this.#started.add(runId);
      this.#hooks.started(runId);
    }
  }

  cancel(runId: string, reason: TaskFailure): void {
    // Aborting a tinypool run terminates its worker: the task's work really stops.
    this.#controllers.get(runId)?.abort(reason);
  }

  /** The tasks in flight beyond the oldest `workers` wait in tinypool's queue: drops them. */
  cancelQueued(reason: TaskFailure): string[] {
    const queued = [...this.#controllers.keys()].slice(this.#workers);
    for (const runId of queued) this.#controllers.get(runId)?.abort(reason);
    return queued;
  }

  close(): void {}
}
