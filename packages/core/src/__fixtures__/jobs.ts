import type { Job, Task, TaskFailure } from "../index.js";
import { JobDone, makeTask } from "../index.js";

export const fixtureModule = new URL("./tasks.mjs", import.meta.url).href;

export function fixtureTask(name: string, args: unknown = {}, options: { signature?: string; timeoutMs?: number; retry?: number | { attempts: number; baseMs?: number; jitter?: number } } = {}): Task {
  return makeTask({ module: fixtureModule, export: name }, args, options);
}

/** A job that emits the given tasks (each once), then finishes when they have all settled. */
export class ListJob implements Job {
  nextCheck?: number;
  readonly results: unknown[] = [];
  readonly failures: TaskFailure[] = [];
  asked = 0;
  closed = false;
  #pending: Task[];

  constructor(readonly name: string, tasks: Task[]) {
    this.#pending = [...tasks];
  }

  getRunnableTasks(): Task[] {
    this.asked++;
    if (this.#pending.length === 0) throw new JobDone();
    return this.#pending;
  }

  onTaskDone(task: Task, result: unknown): void {
    this.#take(task);
    this.results.push(result);
  }

  onTaskFailed(task: Task, failure: TaskFailure): void {
    this.#take(task);
    this.failures.push(failure);
  }

  /** Tasks leave the pending list only once they settle, so dropped ones are emitted again. */
  #take(task: Task): void {
    const index = this.#pending.findIndex((candidate) => candidate.ref.export === task.ref.export && candidate.signature === task.signature && candidate.args === task.args);
    if (index >= 0) this.#pending.splice(index, 1);
  }

  close(): void {
    this.closed = true;
  }
}
