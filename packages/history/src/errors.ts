/**
 * The error catalogue of @ujr/history: stable codes, messages that say what to do. Check by `code`.
 */
import { defineErrors } from "@ujr/core";

export const historyErrorCatalogue = {
  UJR_HISTORY_OPEN_FAILED: {
    message: "The run history {file} could not be opened: {reason}. Check that its folder exists and is writable and that its disk has room, or set runner.history: false to run without a history.",
    exitCode: 2,
  },
  UJR_HISTORY_DRIVER_UNAVAILABLE: {
    message: "The run history {file} could not be opened: {reason}. {fix} Or set runner.history: false to run without a history.",
    exitCode: 2,
  },
  UJR_HISTORY_NOT_FOUND: {
    message: "No run history at {file}: nothing has run with this config yet, or runner.history points elsewhere (or is false). Run `ujr run {config}` first.",
    exitCode: 2,
  },
  UJR_HISTORY_WRITE_FAILED: {
    message:
      "The run history {file} could not be written ({reason}). {runs} run(s) and {events} job event(s) wait in memory and are written as soon as it can be, tried again every {retry} (tasks go on). {advice}",
    exitCode: 1,
  },
  UJR_HISTORY_RUNS_DROPPED: {
    message:
      "The run history {file} still cannot be written ({reason}), and more runs wait than the {limit} kept in memory: the oldest runs are dropped from the run list from now on ({runs} so far, {failures} of them failed). The job totals still count them, and each job gets an 'error' event saying how many it lost once the history can be written. {advice}",
    exitCode: 1,
  },
  UJR_HISTORY_RUNS_NOT_RECORDED: {
    message: "{runs} run(s) ({failures} failed) ended while the run history could not be written ({reason}) and are not in the run list; the job totals count them.",
    exitCode: 1,
  },
  UJR_HISTORY_NOT_WRITTEN: {
    message:
      "The run history {file} could not be written before the runner stopped ({reason}): {runs} run(s) and {events} job event(s) are not in it. {advice}",
    exitCode: 1,
  },
  UJR_HISTORY_NEWER: {
    message: "The run history {file} was written by a newer ujr (schema v{actual}; this one reads up to v{expected}). Upgrade ujr to read it.",
    exitCode: 2,
  },
} as const satisfies Record<string, { message: string; exitCode: 1 | 2 }>;

export type HistoryErrorCode = keyof typeof historyErrorCatalogue;

export const historyError = defineErrors(historyErrorCatalogue);
