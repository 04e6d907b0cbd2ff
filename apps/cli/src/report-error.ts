import { exitCodeOf, isUjrError, scrubString } from "@ujr/core";
import type { Output } from "./output.js";

/**
 * Prints an error the way a user should see it: catalogue errors as their code and
 * message, no stack trace; anything else as an internal error with its stack.
 * Returns the exit code.
 */
export function reportError(error: unknown, output: Output): number {
  if (isUjrError(error)) {
    output.err(`ujr: ${error.code}\n${scrubString(error.message)}`);
    return exitCodeOf(error);
  }
  const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
  output.err(`ujr: internal error (please report it)\n${scrubString(text)}`);
  return 1;
}
