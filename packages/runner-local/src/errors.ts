/**
 * The error catalogue of @ujr/runner-local (beyond core's): each error has a stable code,
 * a message that says what to do, and the exit code a CLI uses for it. Check by `code`.
 */
import { defineErrors } from "@ujr/core";

export const localErrorCatalogue = {
  UJR_STATUS_LISTEN_FAILED: {
    message:
      "The status server could not listen on {host}:{port}: {reason}. Choose another port (--status-port or runner.status.port; 0 picks a free one) or stop what uses it.",
    exitCode: 2,
  },
  UJR_DATA_DIR_UNWRITABLE: {
    message:
      "runner.dataDir {dataDir} (from {source}) cannot be used: {reason}. The runner keeps each job's state and the run history there: set runner.dataDir to a folder on a writable filesystem that the user running ujr may write (or fix that folder's permissions).",
    exitCode: 2,
  },
} as const satisfies Record<string, { message: string; exitCode: 1 | 2 }>;

export type LocalErrorCode = keyof typeof localErrorCatalogue;

/** Makes an error of this catalogue (name "UjrError", checked by `code`). */
export const localError = defineErrors(localErrorCatalogue);
