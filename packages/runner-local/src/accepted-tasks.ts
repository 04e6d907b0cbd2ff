import type { TaskOutcome, TaskRun } from "@ujr/core";

/** A task a pool accepted: settled once, with its outcome. */
export interface AcceptedTask {
  run: TaskRun;
  resolve(outcome: TaskOutcome): void;
}

/**
 * The tasks a session pool (process-sessions.ts, thread-sessions.ts) accepted and has not
 * settled, by run id, and those of them still waiting for a worker, oldest first. Each is
 * settled once: the late result of a task cancelled meanwhile is dropped.
 */
export class AcceptedTasks<T extends AcceptedTask> {
  /** Waiting for a worker, oldest first. */
  readonly waiting: T[] = [];
  readonly #byRunId = new Map<string, T>();

  /** Accepts a task at the back of the waiting line. */
  add(task: T): void {
    this.#byRunId.set(task.run.id, task);
    this.waiting.push(task);
  }

  get size(): number {
    return this.#byRunId.size;
  }

  has(runId: string): boolean {
    return this.#byRunId.has(runId);
  }

  get(runId: string): T | undefined {
    return this.#byRunId.get(runId);
  }

  /** True while `task` is not settled. */
  isOpen(task: T): boolean {
    return this.#byRunId.get(task.run.id) === task;
  }

  /** Settles `task` with `outcome` unless it is settled already; true if this call did. */
  settle(task: T, outcome: TaskOutcome): boolean {
    if (!this.isOpen(task)) return false;
    this.#byRunId.delete(task.run.id);
    task.resolve(outcome);
    return true;
  }

  /** Takes `task` out of the waiting line, if it is there. */
  unqueue(task: T): void {
    const index = this.waiting.indexOf(task);
    if (index >= 0) this.waiting.splice(index, 1);
  }

  /** Settles every waiting task with `outcome(task)`; returns them. */
  settleWaiting(outcome: (task: T) => TaskOutcome): T[] {
    const tasks = this.waiting.splice(0);
    for (const task of tasks) this.settle(task, outcome(task));
    return tasks;
  }
}
