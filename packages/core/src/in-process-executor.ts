import type { Executor, ProgressListener, TaskFailure, TaskOutcome, TaskRun } from "./executor.js";
import { executeTaskRun } from "./execute.js";
import { silentLogger, type Logger } from "./logger.js";
import { resolveTaskModule } from "./resolve.js";

/**
 * Runs tasks in the calling thread. For tests and for small scripts whose tasks are
 * cheap: there is no isolation, and a cancelled task is only asked to stop (its signal
 * aborts); its outcome is reported as failed at once.
 */
export class InProcessExecutor implements Executor {
  readonly size: number;
  readonly #logger: Logger;
  readonly #running = new Map<string, { controller: AbortController; settle: (outcome: TaskOutcome) => void }>();
  /** Receives the progress tasks report; the runner sets it through `setProgressListener`. */
  onProgress?: ProgressListener | undefined;

  constructor(options: { size?: number; logger?: Logger } = {}) {
    this.size = options.size ?? 4;
    this.#logger = options.logger ?? silentLogger();
  }

  setProgressListener(listener: ProgressListener | undefined): void {
    this.onProgress = listener;
  }

  capacity(): number {
    return this.size - this.#running.size;
  }

  submit(run: TaskRun): Promise<TaskOutcome> {
    const controller = new AbortController();
    return new Promise<TaskOutcome>((resolve) => {
      let settled = false;
      const settle = (outcome: TaskOutcome) => {
        if (settled) return;
        settled = true;
        this.#running.delete(run.id);
        resolve(outcome);
      };
      this.#running.set(run.id, { controller, settle });
      let moduleUrl: string;
      try {
        moduleUrl = resolveTaskModule(run.ref.module, run.resolveFrom);
      } catch (error) {
        settle({ ok: false, error: { name: "UjrError", message: (error as Error).message, code: (error as { code?: string }).code } });
        return;
      }
      void executeTaskRun(run, {
        moduleUrl,
        signal: controller.signal,
        logger: this.#logger,
        onProgress: (progress) => this.onProgress?.(run.id, progress),
      }).then(settle);
    });
  }

  cancel(runId: string, reason: TaskFailure): void {
    const entry = this.#running.get(runId);
    if (!entry) return;
    entry.controller.abort(reason);
    entry.settle({ ok: false, error: reason });
  }

  async close(): Promise<void> {
    for (const [runId] of this.#running) {
      this.cancel(runId, { name: "UjrError", code: "UJR_TASK_CANCELLED", message: "executor closed" });
    }
  }
}
