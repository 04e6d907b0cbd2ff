import type { RunResult } from "@ujr/core";

/**
 * Exit codes of `ujr run`, one rule for every job and plugin (the README's "Exit codes"):
 * 0 when every job ended done — tasks that failed while their job went on and finished
 * are warnings, not failures; 1 when a job ended failed (a job that could not do its
 * work throws JobFailed); 2 bad input found before any task runs (config, flags,
 * plugins, a job's create()); 130 stopped by a signal.
 */
export const ExitCode = {
  /** Every job done. */
  ok: 0,
  /** A job failed (it threw JobFailed): its work was not done. */
  failedWork: 1,
  /** Bad input: config, plugin, arguments, a job that could not be created. */
  userError: 2,
  /** Stopped by a signal (SIGINT, SIGTERM) before every job was done. */
  interrupted: 130,
} as const;

export function exitCodeForRun(result: RunResult): number {
  if (result.failedJobs.length > 0) return ExitCode.failedWork;
  if (result.reason !== "done") return ExitCode.interrupted;
  return ExitCode.ok;
}

/** One line per job for the run's last words: what happened to each. */
export function describeJobOutcomes(result: RunResult): string[] {
  return Object.entries(result.jobs).map(([name, job]) => {
    const warnings = job.outcome === "done" && job.tasks.failed > 0 ? ` (${job.tasks.failed} task(s) failed and were recovered: warnings)` : "";
    const why = job.error ? `: ${job.error.message}` : "";
    return `${name}: ${job.outcome}, ${job.tasks.done} task(s) done${warnings}${why}`;
  });
}
