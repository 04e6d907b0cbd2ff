import type { Executor, Logger, LogLevel, RunnerConfig } from "@ujr/core";
import { TinypoolExecutor } from "@ujr/runner-local";
import { BullmqExecutor } from "./bullmq-executor.js";

export interface ExecutorFromConfigOptions {
  logger?: Logger | undefined;
  logLevel?: LogLevel | undefined;
  prettyLogs?: boolean | undefined;
  maxWorkerMemoryMb?: number | undefined;
  /** For `kind: bullmq`: most tasks queued or running at once; `runner.executor.size` wins, then this, then 64. */
  size?: number | undefined;
  /** For `kind: bullmq`: how long to wait for Redis before failing (ms, default 10 s). */
  connectTimeoutMs?: number | undefined;
}

/**
 * The executor that `runner.executor` of a config asks for: the local tinypool pool
 * (the default) or a BullMQ queue whose tasks `ujr worker` processes run. For BullMQ,
 * waits until Redis answers and fails with UJR_BULLMQ_REDIS_UNREACHABLE otherwise.
 * Pass the result as the `executor` of a ConfigFileRunner / LocalJobsRunner.
 */
export async function createExecutorFromConfig(runner: Pick<RunnerConfig, "executor" | "workers" | "isolation" | "logLevel">, options: ExecutorFromConfigOptions = {}): Promise<Executor> {
  const spec = runner.executor ?? { kind: "local" as const };
  if (spec.kind === "bullmq") {
    const executor = new BullmqExecutor({ redis: spec.redis, queue: spec.queue, prefix: spec.prefix, size: spec.size ?? options.size, logger: options.logger });
    try {
      await executor.ready(options.connectTimeoutMs);
    } catch (error) {
      await executor.close();
      throw error;
    }
    return executor;
  }
  return TinypoolExecutor.fromSettings(
    { workers: runner.workers, isolation: runner.isolation, maxWorkerMemoryMb: options.maxWorkerMemoryMb, logLevel: options.logLevel ?? runner.logLevel, prettyLogs: options.prettyLogs },
    options.logger,
  );
}
