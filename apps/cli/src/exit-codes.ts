import type { RunResult } from "@ujr/core";

/** Exit codes of `ujr run` (documented in the README). */
export const ExitCode = {
  /** Every job done, or stopped by a signal after running tasks finished. */
  ok: 0,
  /** A job failed, or a task failed for good (after its retries). */
  failedWork: 1,
  /** Bad input: config, plugin, arguments. */
  userError: 2,
  /** Stopped by a signal and running tasks had to be cancelled (grace period over or a second signal). */
  interrupted: 130,
} as const;

export function exitCodeForRun(result: RunResult): number {
  if (result.reason === "aborted") return ExitCode.interrupted;
  if (result.failedJobs.length > 0 || result.tasks.failed > 0) return ExitCode.failedWork;
  return ExitCode.ok;
}
