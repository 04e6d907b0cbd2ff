/**
 * The error catalogue of @ujr/runner-local (beyond core's): each error has a stable code,
 * a message that says what to do, and the exit code a CLI uses for it. Check by `code`.
 */
import { formatMessage, type ErrorParams } from "@ujr/core";

export const localErrorCatalogue = {
  UJR_STATUS_LISTEN_FAILED: {
    message:
      "The status server could not listen on {host}:{port}: {reason}. Choose another port (--status-port or runner.status.port; 0 picks a free one) or stop what uses it.",
    exitCode: 2,
  },
} as const satisfies Record<string, { message: string; exitCode: 1 | 2 }>;

export type LocalErrorCode = keyof typeof localErrorCatalogue;

export class LocalRunnerError extends Error {
  override readonly name = "UjrError";
  readonly code: LocalErrorCode;
  readonly exitCode: 1 | 2;
  readonly params: ErrorParams;

  constructor(code: LocalErrorCode, params: ErrorParams = {}, options?: { cause?: unknown }) {
    const spec = localErrorCatalogue[code];
    super(formatMessage(spec.message, params), options);
    this.code = code;
    this.exitCode = spec.exitCode;
    this.params = params;
  }
}
