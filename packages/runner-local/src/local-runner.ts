import { createLogger, isTaskWorker, Runner, type Executor, type LogLevel, type RunnerOptions, type RunResult } from "@ujr/core";
import { handleStopSignals } from "./signals.js";
import { TinypoolExecutor, type Isolation } from "./tinypool-executor.js";

export interface LocalJobsRunnerOptions extends Omit<RunnerOptions, "executor"> {
  /** Pool size; default: available CPUs. */
  workers?: number | undefined;
  /** `process` (default, as the original's process pool) or `thread`. */
  isolation?: Isolation | undefined;
  maxWorkerMemoryMb?: number | undefined;
  logLevel?: LogLevel | undefined;
  prettyLogs?: boolean | undefined;
  /** Stop gracefully on SIGINT/SIGTERM (default true). */
  handleSignals?: boolean | undefined;
  /** Run tasks somewhere else than a local pool. */
  executor?: Executor | undefined;
}

const emptyResult: RunResult = { reason: "done", tasks: { done: 0, failed: 0, timedOut: 0, retried: 0, cancelled: 0 }, failedJobs: [], jobs: {} };

/**
 * The runner loop with a local tinypool pool. `await new LocalJobsRunner({ jobs }).run()`
 * returns when every job is done.
 */
export class LocalJobsRunner extends Runner {
  readonly #handleSignals: boolean;
  readonly #grace: number;
  #signal: NodeJS.Signals | undefined;

  constructor(options: LocalJobsRunnerOptions = {}) {
    const logger = options.logger ?? createLogger({ level: options.logLevel ?? "info", pretty: options.prettyLogs });
    const executor = options.executor ?? TinypoolExecutor.fromSettings(options, logger);
    super({ ...options, executor, logger });
    this.#handleSignals = options.handleSignals ?? true;
    this.#grace = options.shutdownGrace ?? 30_000;
  }

  /** The stop signal that ended the last run, if one did. */
  get stopSignal(): NodeJS.Signals | undefined {
    return this.#signal;
  }

  override async run(): Promise<RunResult> {
    // A script that defines tasks is imported again inside each worker to reach them;
    // there its runner must not start.
    if (isTaskWorker()) return emptyResult;
    const signals = this.#handleSignals ? handleStopSignals(this, { graceMs: this.#grace, logger: this.logger }) : undefined;
    try {
      return await super.run();
    } finally {
      this.#signal = signals?.received;
      signals?.dispose();
    }
  }
}
