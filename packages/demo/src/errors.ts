/**
 * The error catalogue of @ujr/demo (beyond core's): each error has a stable code, a
 * message that says what to do, and the exit code `ujr demo` ends with. Check by `code`.
 */
import { defineErrors } from "@ujr/core";

export const demoErrorCatalogue = {
  UJR_DEMO_FOLDER_NOT_OURS: {
    message:
      "{dir} exists and was not made by `ujr demo`; the demo clears its folder before it starts, so it leaves this one alone: choose another folder with --dir (a new or empty one).",
    exitCode: 2,
  },
  UJR_DEMO_LINK_FAILED: {
    message: "The demo could not make {plugin} findable from {dir} (linking {link} to {target}): {reason}. Check that the folder is writable, or choose another with --dir.",
    exitCode: 2,
  },
} as const satisfies Record<string, { message: string; exitCode: 1 | 2 }>;

export type DemoErrorCode = keyof typeof demoErrorCatalogue;

/** Makes an error of this catalogue (name "UjrError", checked by `code`). */
export const demoError = defineErrors(demoErrorCatalogue);
