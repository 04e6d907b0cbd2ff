/**
 * The plugin's error catalogue: every error has a stable code (`UJR_HELLO_*`) and a
 * message that says what to do. Errors cross worker boundaries as plain objects, so
 * callers check `error.code`, never `instanceof`.
 */
export const helloErrors = {
  UJR_HELLO_NAME_INVALID: {
    message: 'Cannot greet "{name}": a name must not contain "/", "\\\\" or start with ".". Fix the name in the job\'s config.',
    retryable: false,
  },
  UJR_HELLO_WRITE_FAILED: {
    message: "Could not write the greeting for {name} into {file}: {reason}. Check that the state folder is writable.",
    retryable: true,
  },
} as const;

export type HelloErrorCode = keyof typeof helloErrors;

export class HelloError extends Error {
  override readonly name = "HelloError";
  readonly code: HelloErrorCode;
  /** False when trying again cannot help: the runner then does not retry the task. */
  readonly retryable: boolean;

  constructor(code: HelloErrorCode, params: Record<string, string>, options?: { cause?: unknown }) {
    const spec = helloErrors[code];
    super(spec.message.replace(/\{(\w+)\}/g, (whole, key: string) => params[key] ?? whole), options);
    this.code = code;
    this.retryable = spec.retryable;
  }
}
