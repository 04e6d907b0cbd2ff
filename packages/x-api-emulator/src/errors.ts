/**
 * The error catalogue of @ujr/x-api-emulator. Check errors by `code` (or `name`),
 * never by `instanceof`.
 */
export const EmulatorErrorCodes = {
  CORPUS_READ: "UJR_EMULATOR_CORPUS_READ",
  CORPUS_INVALID: "UJR_EMULATOR_CORPUS_INVALID",
  OPTION_INVALID: "UJR_EMULATOR_OPTION_INVALID",
  LISTEN: "UJR_EMULATOR_LISTEN",
} as const;

export type EmulatorErrorCode = (typeof EmulatorErrorCodes)[keyof typeof EmulatorErrorCodes];

export interface EmulatorError extends Error {
  name: "EmulatorError";
  code: EmulatorErrorCode;
}

export function emulatorError(code: EmulatorErrorCode, message: string, cause?: unknown): EmulatorError {
  const err = new Error(message, cause === undefined ? undefined : { cause }) as EmulatorError;
  err.name = "EmulatorError";
  err.code = code;
  return err;
}

export function isEmulatorError(value: unknown): value is EmulatorError {
  return (
    typeof value === "object" &&
    value !== null &&
    (value as { name?: unknown }).name === "EmulatorError" &&
    typeof (value as { code?: unknown }).code === "string"
  );
}
