/**
 * The error catalogue of @ujr/cli (beyond core's and runner-local's): each error has a
 * stable code, a message that says what to do, and the exit code. Check by `code`.
 */
import { defineErrors } from "@ujr/core";

export const cliErrorCatalogue = {
  UJR_CLI_PACKAGE_MISSING: {
    message:
      "`ujr {command}` needs the package {package} ({purpose}), which is not installed.\n  looked in:  {searched}\n  install it: {install}\n  (with ujr installed globally: npm install --global {package})",
    exitCode: 2,
  },
  UJR_CLI_PACKAGE_LOAD_FAILED: {
    message: "`ujr {command}` found {package} at {url} but could not load it: {reason}. Reinstall it (npm install {package}) with the same version as @ujr/cli.",
    exitCode: 2,
  },
} as const satisfies Record<string, { message: string; exitCode: 1 | 2 }>;

export type CliErrorCode = keyof typeof cliErrorCatalogue;

/** Makes an error of this catalogue (name "UjrError", checked by `code`). */
export const cliError = defineErrors(cliErrorCatalogue);
