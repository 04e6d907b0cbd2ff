import type { IncomingMessage } from "node:http";
import type { Runner, Task, TaskFailedEvent } from "@ujr/core";

/** The runner's control methods the dashboard's buttons call. */
interface RunnerControls {
  pauseJob?(name: string): boolean;
  resumeJob?(name: string): boolean;
  checkJobNow?(name: string): boolean;
  cancelTask?(runId: string, reason?: string): boolean;
  runTaskNow?(job: string, task: Task): boolean;
}

export interface ActionResult {
  status: number;
  body: { ok: boolean; message: string };
}

const loopbackAddresses = new Set(["127.0.0.1", "::1", "::ffff:127.0.0.1"]);

/** Actions come from this machine only (an SSH tunnel arrives on loopback too). */
export function fromLoopback(request: IncomingMessage): boolean {
  return loopbackAddresses.has(request.socket.remoteAddress ?? "");
}

const KEEP_FAILED = 500;

/**
 * The dashboard's actions: pause / resume a job, ask it now, cancel a running task, retry
 * a failed one. A failed task is kept in memory (the last 500) so that it can be retried
 * as it was: its arguments are never written to the history.
 */
export class DashboardActions {
  readonly #runner: Runner;
  readonly #failed = new Map<string, { job: string; task: Task }>();
  readonly #onFailed = (event: TaskFailedEvent) => {
    this.#failed.set(event.runId, { job: event.job, task: event.task });
    if (this.#failed.size > KEEP_FAILED) this.#failed.delete(this.#failed.keys().next().value as string);
  };

  constructor(runner: Runner) {
    this.#runner = runner;
    runner.on("task:failed", this.#onFailed);
    runner.on("task:timeout", this.#onFailed);
  }

  /** Run ids of failed tasks that can be retried from here. */
  retryable(): string[] {
    return [...this.#failed.keys()];
  }

  run(action: string, target: string): ActionResult {
    const controls = this.#runner as unknown as RunnerControls;
    const missing = (what: string): ActionResult => ({ status: 501, body: { ok: false, message: `this runner cannot ${what} (upgrade @ujr/core)` } });
    const answer = (ok: boolean, done: string, refused: string): ActionResult => (ok ? { status: 200, body: { ok, message: done } } : { status: 409, body: { ok, message: refused } });
    switch (action) {
      case "pause":
        if (!controls.pauseJob) return missing("pause jobs");
        return answer(controls.pauseJob(target), `job ${target} paused: it is not asked for tasks; its running tasks finish`, `job ${target} is not running here, or is paused already`);
      case "resume":
        if (!controls.resumeJob) return missing("resume jobs");
        return answer(controls.resumeJob(target), `job ${target} resumed`, `job ${target} is not paused`);
      case "check":
        if (!controls.checkJobNow) return missing("ask a job now");
        return answer(controls.checkJobNow(target), `job ${target} is asked for tasks now`, `job ${target} is not running here`);
      case "cancel":
        if (!controls.cancelTask) return missing("cancel tasks");
        return answer(controls.cancelTask(target, "cancelled from the dashboard"), `task ${target} is being cancelled`, `task ${target} is not running (it may have ended)`);
      case "retry": {
        if (!controls.runTaskNow) return missing("retry tasks");
        const failed = this.#failed.get(target);
        if (!failed) return { status: 404, body: { ok: false, message: `task ${target} is not among the failed tasks of this run of the runner (only those can be retried)` } };
        const ok = controls.runTaskNow(failed.job, failed.task);
        if (ok) this.#failed.delete(target);
        return answer(ok, `task ${target} of job ${failed.job} started again`, `the runner refused to start it now (same task running, job limit or pool full, or the job ended): try again later`);
      }
      default:
        return { status: 404, body: { ok: false, message: `unknown action "${action}"` } };
    }
  }

  close(): void {
    this.#runner.off("task:failed", this.#onFailed);
    this.#runner.off("task:timeout", this.#onFailed);
  }
}
