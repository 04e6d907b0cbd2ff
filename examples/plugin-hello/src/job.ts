import { join } from "node:path";
import { JobDone, JobFailed, type Job, type JobContext, type Logger, type Task, type TaskFailure } from "@ujr/core";
import { greet, summarise, type GreetResult, type Summary } from "./tasks.js";

export interface GreetConfig {
  names: string[];
  greeting: string;
  mode: "once" | "continuous";
  /** Milliseconds between rounds in continuous mode. */
  everyMs: number;
  signingKey?: string | undefined;
}

/**
 * Greets every name (one task per name, in parallel, deduplicated by signature), then
 * writes a summary (one task). In "once" mode the job is then done; in "continuous"
 * mode it sleeps (`nextCheck`) and greets everyone again every `everyMs`.
 * The job only decides what runs next; the tasks do the work.
 */
export class GreetJob implements Job {
  readonly name: string;
  nextCheck: number | undefined;
  round = 1;
  readonly #config: GreetConfig;
  readonly #logger: Logger;
  readonly #stateDir: string;
  #greeted = new Map<string, GreetResult>();
  #failed = new Map<string, TaskFailure>();
  #summary: Summary | undefined;

  constructor(config: GreetConfig, ctx: JobContext) {
    this.name = ctx.name;
    this.#config = config;
    this.#logger = ctx.logger;
    this.#stateDir = ctx.stateDir;
  }

  /** The last summary written, if any. */
  get summary(): Summary | undefined {
    return this.#summary;
  }

  getRunnableTasks(): Task[] {
    if (this.#summary) {
      if (this.#config.mode === "once") throw new JobDone();
      this.#startRound(this.round + 1);
    }
    const pending = this.#config.names.filter((name) => !this.#greeted.has(name) && !this.#failed.has(name));
    if (pending.length > 0) {
      const dir = join(this.#stateDir, "greetings");
      return pending.map((name) => greet.with({ name, greeting: this.#config.greeting, dir, round: this.round }, { signature: name, timeoutMs: 10_000, retry: 3 }));
    }
    if (this.#greeted.size === 0) throw new JobFailed(`no name could be greeted: ${[...this.#failed.values()].map((failure) => failure.code).join(", ")}`);
    return [
      summarise.with({
        file: join(this.#stateDir, "summary.json"),
        round: this.round,
        greeted: [...this.#greeted.values()],
        failed: [...this.#failed].map(([name, failure]) => ({ name, code: failure.code, message: failure.message })),
        signingKey: this.#config.signingKey,
      }),
    ];
  }

  onTaskDone(task: Task, result: unknown): void {
    if (task.ref.export === greet.ref.export) {
      const greeted = result as GreetResult;
      this.#greeted.set(greeted.name, greeted);
    } else {
      this.#summary = result as Summary;
      this.#logger.info({ round: this.round, greeted: this.#summary.greeted.length }, "summary written");
      if (this.#config.mode === "continuous") this.nextCheck = Date.now() + this.#config.everyMs;
    }
  }

  onTaskFailed(task: Task, failure: TaskFailure): void {
    // Called once a task has failed for good (after its retries). Check errors by code.
    if (task.ref.export === greet.ref.export && task.signature) {
      this.#failed.set(task.signature, failure);
      this.#logger.warn({ name: task.signature, code: failure.code }, "could not greet");
    }
  }

  #startRound(round: number): void {
    this.round = round;
    this.#greeted = new Map();
    this.#failed = new Map();
    this.#summary = undefined;
  }
}
