/**
 * The error catalogue of @ujr/core. Every user-facing error has a stable `code` and a
 * message that says what to do. Errors cross worker boundaries as plain objects, so
 * callers check `code` (see `isUjrError`), never `instanceof`.
 */

export type ErrorParams = Record<string, string | number | undefined>;

interface ErrorSpec {
  /** Message template: `{name}` placeholders are filled from the params. */
  message: string;
  /** Process exit code when this error ends a CLI command. */
  exitCode: 1 | 2;
  /** false: retrying cannot help (bad input, a 401...), so the runner does not retry the task. */
  retryable?: boolean;
}

export const errorCatalogue = {
  UJR_CONFIG_NOT_FOUND: {
    message: "Config file not found: {path}. Create it (see the README's config reference) or pass the path of an existing file.",
    exitCode: 2,
  },
  UJR_CONFIG_UNREADABLE: { message: "Cannot read config file {path}: {reason}.", exitCode: 2 },
  UJR_CONFIG_YAML: {
    message: "{file}:{line}:{col}: YAML syntax error: {reason}. Fix the syntax at that position.",
    exitCode: 2,
  },
  UJR_CONFIG_INVALID: {
    message: "{file} has {count} problem(s):\n{list}",
    exitCode: 2,
  },
  UJR_CONFIG_ENV_MISSING: {
    message: "Environment variable {variable} is not set (used at {path}). Set it, or give a default with ${{variable}:-default}.",
    exitCode: 2,
  },
  UJR_PLUGIN_NOT_FOUND: {
    message: 'Plugin "{plugin}" was not found.\n  asked for by: {path} in {file}\n  looked in:    {searched}\n{hint}',
    exitCode: 2,
  },
  UJR_PLUGIN_NOT_EXPORTED: {
    message:
      'Plugin "{plugin}" (asked for by {path} in {file}) is installed at {packageDir}, but its package.json "exports" does not export "{subpath}" (ERR_PACKAGE_PATH_NOT_EXPORTED). The plugin must export its entry module: "exports": { "{subpath}": "./dist/index.js" }.',
    exitCode: 2,
  },
  UJR_PLUGIN_LOAD_FAILED: {
    message: 'Plugin "{plugin}" (asked for by {path}) failed to load: {reason}. {fix}',
    exitCode: 2,
  },
  UJR_PLUGIN_INVALID: {
    message: '{source} "{plugin}" (asked for by {path}) is not {what}: {reason}.',
    exitCode: 2,
  },
  UJR_PLUGIN_API_VERSION: {
    message:
      'Plugin "{plugin}" (asked for by {path}) was built for ujr plugin API v{actual}, but this runner speaks v{expected}. Install a version of the plugin for API v{expected}, or upgrade ujr.',
    exitCode: 2,
  },
  UJR_JOB_TYPE_UNKNOWN: {
    message: 'Plugin "{plugin}" has no job type "{type}" (at {path}).{suggestion} Known job types: {known}.',
    exitCode: 2,
  },
  UJR_JOB_CREATE_FAILED: {
    message: 'Job "{job}" could not be created: {reason}',
    exitCode: 2,
  },
  UJR_TASK_INVALID: {
    message: 'Job "{job}" returned something that is not a task ({reason}). Build tasks with defineTask(...).with(args).',
    exitCode: 1,
  },
  UJR_JOB_ANSWER_INVALID: {
    message:
      'Job "{job}": getRunnableTasks() returned {got}, not tasks. Return an array or another iterable of tasks (an empty array when there is nothing to do now), or throw JobDone when the job is finished.',
    exitCode: 1,
  },
  UJR_TASK_MODULE_NOT_FOUND: {
    message: 'Task module "{module}" could not be resolved from {searched}. Install the package that provides it where the config (or script) lives.',
    exitCode: 1,
  },
  UJR_TASK_MODULE_NOT_EXPORTED: {
    message:
      'Task module "{module}" cannot be imported: package "{package}" ({packageJson}) is installed, but its "exports" has no "{subpath}" (ERR_PACKAGE_PATH_NOT_EXPORTED). Add it to the package\'s exports, e.g. "exports": { ".": "./dist/index.js", "{subpath}": "./dist/tasks.js" }, rebuild and reinstall the plugin.',
    exitCode: 2,
  },
  UJR_TASK_MODULE_LOAD_FAILED: { message: 'Task module "{module}" failed to load: {reason}', exitCode: 1 },
  UJR_TASK_EXPORT_NOT_FOUND: {
    message: 'Task module "{module}" has no task export "{export}". Its exports are: {known}.',
    exitCode: 1,
  },
  UJR_TASK_TIMEOUT: { message: "Task {task} of job {job} timed out after {timeoutMs} ms and was stopped.", exitCode: 1 },
  UJR_TASK_CANCELLED: { message: "Task {task} of job {job} was cancelled: {reason}.", exitCode: 1 },
  UJR_WORKER_CRASHED: {
    message: "The worker running task {task} of job {job} crashed ({reason}). The task failed; the pool replaced the worker.",
    exitCode: 1,
  },
  UJR_TASK_ARGS_NOT_CLONABLE: {
    message:
      "Task {task} of job {job} was given arguments that cannot be sent to a worker ({reason}). Pass plain data (strings, numbers, arrays, objects, Dates, Maps, Sets...), not functions, class instances with methods or open handles.",
    exitCode: 1,
  },
  UJR_TASK_RESULT_NOT_CLONABLE: {
    message: "Task {task} of job {job} returned a value that cannot be sent between processes ({reason}). Return plain data.",
    exitCode: 1,
  },
  UJR_RUNNER_ALREADY_RUNNING: { message: "This runner is already running; create another runner instead.", exitCode: 1 },
  UJR_DURATION_INVALID: { message: 'Invalid duration "{value}": use a number of milliseconds or e.g. "500ms", "30s", "5m", "2h", "1d".', exitCode: 2 },
} as const satisfies Record<string, ErrorSpec>;

export type UjrErrorCode = keyof typeof errorCatalogue;

/**
 * An error of a catalogue (core's or a package's own, see `defineErrors`). Its name is
 * always "UjrError"; check it with `isUjrError(err, code)`.
 */
export class CatalogueError<Code extends string = string> extends Error {
  override readonly name = "UjrError";
  readonly code: Code;
  readonly exitCode: 1 | 2;
  readonly params: ErrorParams;
  /** Set to false on errors that retrying cannot fix. */
  retryable?: boolean;

  constructor(code: Code, spec: ErrorSpec, params: ErrorParams = {}, options?: { cause?: unknown }) {
    super(formatMessage(spec.message, params), options);
    this.code = code;
    this.exitCode = spec.exitCode;
    this.params = params;
    if (spec.retryable !== undefined) this.retryable = spec.retryable;
  }
}

/**
 * Declares a package's error catalogue, as fastify's lib/errors.js does: each code with a
 * message template (`{name}` placeholders) that says what to do, and the exit code a CLI
 * uses for it. Returns the function that makes those errors.
 */
export function defineErrors<const Catalogue extends Record<string, ErrorSpec>>(catalogue: Catalogue) {
  return function error(code: keyof Catalogue & string, params?: ErrorParams, options?: { cause?: unknown }): CatalogueError<keyof Catalogue & string> {
    return new CatalogueError(code, catalogue[code]!, params, options);
  };
}

export type { ErrorSpec };

/** An error of core's catalogue. Check it with `isUjrError(err, code)`. */
export class UjrError extends CatalogueError<UjrErrorCode> {
  constructor(code: UjrErrorCode, params: ErrorParams = {}, options?: { cause?: unknown }) {
    super(code, errorCatalogue[code], params, options);
  }
}

export function formatMessage(template: string, params: ErrorParams): string {
  return template.replace(/\{(\w+)\}/g, (whole, key: string) => {
    const value = params[key];
    return value === undefined ? whole : String(value);
  });
}

export function ujrError(code: UjrErrorCode, params?: ErrorParams, options?: { cause?: unknown }): UjrError {
  return new UjrError(code, params, options);
}

/** True for catalogue errors (of `code`, when given), including plain-object copies from workers. */
export function isUjrError(value: unknown, code?: string): value is { code: string; message: string; name: string } {
  if (typeof value !== "object" || value === null) return false;
  const candidate = value as { code?: unknown };
  if (typeof candidate.code !== "string" || !candidate.code.startsWith("UJR_")) return false;
  return code === undefined || candidate.code === code;
}

/** The exit code a CLI should use for an error: 2 for user errors of the catalogue, else 1. */
export function exitCodeOf(value: unknown): number {
  if (typeof value === "object" && value !== null && "exitCode" in value) {
    const code = (value as { exitCode: unknown }).exitCode;
    if (code === 1 || code === 2) return code;
  }
  return 1;
}
