import type { RunResult } from "@ujr/core";

/**
 * Exit codes of `ujr run`, one rule for every job and plugin (the README's "Exit codes"):
 * 0 when every job ended done — tasks that failed while their job went on and finished
 * are warnings, not failures; 1 when a job ended failed (a job that could not do its
 * work throws JobFailed); 2 bad input found before any task runs (config, flags,
 * plugins, a job's create()); 130 stopped by a signal before every job was done.
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

/** The exit-code lines of `ujr help`, the same rule as the README's "Exit codes" table. */
export const exitCodesHelp = `Exit codes:
  0    every job ended done (tasks that failed for good while their job went on to finish
       are warnings), or a signal ended --keep-alive's wait after every job was done
  1    a job ended failed (it threw JobFailed: its work could not be done)
  2    bad input, found before any task runs: config, flags, plugins, a job's create()
  130  stopped by a signal (SIGINT or SIGTERM) before every job was done`;

/** How the run came to stop, beyond what RunResult says. */
export interface RunEnding {
  /**
   * No job was left when the stop came: every job had ended and the runner only waited
   * (--keep-alive). A signal then interrupted no work.
   */
  idleWhenStopped?: boolean | undefined;
}

export function exitCodeForRun(result: RunResult, ending: RunEnding = {}): number {
  if (result.failedJobs.length > 0) return ExitCode.failedWork;
  if (result.reason === "done") return ExitCode.ok;
  // "aborted" means running tasks were stopped: never a clean end, whatever was left.
  if (result.reason === "stopped" && ending.idleWhenStopped === true && Object.values(result.jobs).every((job) => job.outcome !== "stopped")) return ExitCode.ok;
  return ExitCode.interrupted;
}

/** One line per job for the run's last words: what happened to each. */
export function describeJobOutcomes(result: RunResult): string[] {
  return Object.entries(result.jobs).map(([name, job]) => {
    // `retried` counts failed attempts that were tried again (whatever the later attempt
    // did); `failed` counts tasks whose last attempt failed: the two say different things.
    const retried = job.tasks.retried > 0 ? `, ${job.tasks.retried} failed attempt(s) retried` : "";
    // a stopped or failed job's failed tasks are said too: a continuous job stopped with work it could not do
    const warnings =
      job.tasks.failed === 0
        ? ""
        : job.outcome === "done"
          ? ` (${job.tasks.failed} task(s) failed for good; the job finished anyway: see the warnings)`
          : `, ${job.tasks.failed} task(s) failed (see the warnings)`;
    const why = job.error ? `: ${job.error.message}` : "";
    return `${name}: ${job.outcome}, ${job.tasks.done} task(s) done${retried}${warnings}${why}`;
  });
}
