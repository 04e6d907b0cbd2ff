import type { RunnerConfig } from "@ujr/core";
import type { LocalJobsRunnerOptions } from "../local-runner.js";

/** The LocalJobsRunner options a config's `runner` section stands for (shared by the file and by createRunner). */
export function localRunnerOptions(runner: RunnerConfig, dir: string): LocalJobsRunnerOptions {
  return {
    workers: runner.workers,
    isolation: runner.isolation,
    checkInterval: runner.checkInterval,
    maxTasksPerJob: runner.maxTasksPerJob,
    taskTimeout: runner.taskTimeout,
    shutdownGrace: runner.shutdownGrace,
    exitWhenIdle: !runner.keepAlive,
    resolveFrom: dir,
    ...(runner.retry ? { retry: runner.retry } : {}),
    ...(runner.logLevel ? { logLevel: runner.logLevel } : {}),
  };
}
