/**
 * The error catalogue of @ujr/history: stable codes, messages that say what to do. Check by `code`.
 */
import { defineErrors } from "@ujr/core";

export const historyErrorCatalogue = {
  UJR_HISTORY_OPEN_FAILED: {
    message: "The run history {file} could not be opened: {reason}. Check that its folder exists and is writable, or set runner.history: false to run without a history.",
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
  UJR_HISTORY_NEWER: {
    message: "The run history {file} was written by a newer ujr (schema v{actual}; this one reads up to v{expected}). Upgrade ujr to read it.",
    exitCode: 2,
  },
} as const satisfies Record<string, { message: string; exitCode: 1 | 2 }>;

export type HistoryErrorCode = keyof typeof historyErrorCatalogue;

export const historyError = defineErrors(historyErrorCatalogue);
