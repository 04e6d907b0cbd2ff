/**
 * The error catalogue of @ujr/plugin-twitter-collector. Every error carries a stable
 * `code` (check it by code, never by `instanceof`: errors cross worker boundaries as
 * plain objects), a message that says what to do, and `retryable: false` when trying
 * again cannot help. Messages never contain the bearer token.
 */

export type CollectorErrorParams = Record<string, string | number | undefined>;

interface Spec {
  message: string;
  retryable: boolean;
}

export const collectorErrorCatalogue = {
  UJR_COLLECTOR_UNAUTHORIZED: {
    message:
      "The X API refused the bearer token (HTTP {status} from {endpoint}). Check the bearer token in the job's config (`bearerToken`, e.g. ${X_BEARER_TOKEN}): it is missing, mistyped or revoked. The job stopped without retrying.",
    retryable: false,
  },
  UJR_COLLECTOR_FORBIDDEN: {
    message:
      "The X API forbade the request (HTTP 403 from {endpoint}: {detail}). Check the bearer token and that its app has access to this endpoint (full-archive search needs a plan that includes it). The job stopped without retrying.",
    retryable: false,
  },
  UJR_COLLECTOR_BAD_REQUEST: {
    message:
      "The X API rejected the request (HTTP 400 from {endpoint}: {detail}). Check the query and the job's config (query syntax and operators, startTime/endTime, maxResults). The job stopped without retrying.",
    retryable: false,
  },
  UJR_COLLECTOR_NOT_FOUND: {
    message: "The X API answered HTTP 404 for {endpoint}. Check `baseUrl` ({baseUrl}) and the user id/username. The job stopped.",
    retryable: false,
  },
  UJR_COLLECTOR_USER_NOT_FOUND: {
    message: "The X API found no user {user}: {detail}. Check `userId`/`username` in the job's config.",
    retryable: false,
  },
  UJR_COLLECTOR_HTTP: {
    message: "The X API answered HTTP {status} for {endpoint}; the page is retried with backoff from the saved position.",
    retryable: true,
  },
  UJR_COLLECTOR_CLIENT_ERROR: {
    message: "The X API answered HTTP {status} for {endpoint}: {detail}. This is not retried; check the job's config.",
    retryable: false,
  },
  UJR_COLLECTOR_NETWORK: {
    message: "Could not reach the X API at {endpoint} ({reason}); the page is retried with backoff from the saved position.",
    retryable: true,
  },
  UJR_COLLECTOR_TIMEOUT: {
    message: "The X API did not answer {endpoint} within {timeoutMs} ms; the page is retried with backoff from the saved position.",
    retryable: true,
  },
  UJR_COLLECTOR_BAD_RESPONSE: {
    message: "The X API sent a response for {endpoint} that is not valid JSON ({reason}), e.g. a truncated body; the page is retried.",
    retryable: true,
  },
  UJR_COLLECTOR_STATE_CORRUPT: {
    message: "The collector state file {path} cannot be read ({reason}). Restore it from a backup, or move it away to start the collection over.",
    retryable: false,
  },
  UJR_COLLECTOR_ARCHIVE_VERIFY: {
    message: "The archive {path} did not verify ({reason}); it was not kept and no original was removed. It is retried.",
    retryable: true,
  },
  UJR_COLLECTOR_BUSY: {
    message: "Another process (pid {pid}) is running the {what} of this job (e.g. a worker of a runner that was killed); this try waits and is retried. Do not point two jobs at one state folder.",
    retryable: true,
  },
  UJR_COLLECTOR_DISK_FULL: {
    message:
      "Could not write {what} in {dir}: {problem} ({code}; {free} free there). Free space there; nothing stored is lost, and the collection resumes from its saved position.",
    // trying again at once cannot help: the job's failure backoff tries later
    retryable: false,
  },
  UJR_COLLECTOR_FOLDER_UNWRITABLE: {
    message:
      "Could not make {what} {dir}: {reason}. Set {setting} to a folder that can be made, on a writable disk where the user running ujr may write; {then}.",
    // the same folder fails the same way until the config or the disk changes: the job's failure backoff tries later.
    // {then} (see folderError): a task's "nothing stored is lost, and the job tries again after its pauses",
    // the check when the job is made (ujr validate, the start of ujr run) "no task has run"
    retryable: false,
  },
  UJR_COLLECTOR_CANCELLED: { message: "The task was cancelled ({reason}); the saved position is kept.", retryable: false },
} as const satisfies Record<string, Spec>;

export type CollectorErrorCode = keyof typeof collectorErrorCatalogue;

/** An error of the catalogue (plain data once it crosses a worker boundary). */
export class CollectorError extends Error {
  override readonly name = "CollectorError";
  readonly code: CollectorErrorCode;
  readonly retryable: boolean;
  readonly params: CollectorErrorParams;

  constructor(code: CollectorErrorCode, params: CollectorErrorParams = {}, options?: { cause?: unknown }) {
    const spec: Spec = collectorErrorCatalogue[code];
    super(
      spec.message.replace(/\{(\w+)\}/g, (whole, key: string) => (params[key] === undefined ? whole : String(params[key]))),
      options,
    );
    this.code = code;
    this.retryable = spec.retryable;
    this.params = params;
  }
}

export function collectorError(code: CollectorErrorCode, params?: CollectorErrorParams, options?: { cause?: unknown }): CollectorError {
  return new CollectorError(code, params, options);
}

/** True for collector errors (of `code`, when given), including plain-object copies. */
export function isCollectorError(value: unknown, code?: CollectorErrorCode): value is { code: CollectorErrorCode; message: string } {
  if (typeof value !== "object" || value === null) return false;
  const c = (value as { code?: unknown }).code;
  if (typeof c !== "string" || !c.startsWith("UJR_COLLECTOR_")) return false;
  return code === undefined || c === code;
}

/** Errors that end the job at once (the request or the credential is wrong). */
export const FATAL_CODES: ReadonlySet<string> = new Set<CollectorErrorCode>([
  "UJR_COLLECTOR_UNAUTHORIZED",
  "UJR_COLLECTOR_FORBIDDEN",
  "UJR_COLLECTOR_BAD_REQUEST",
  "UJR_COLLECTOR_NOT_FOUND",
  "UJR_COLLECTOR_USER_NOT_FOUND",
  "UJR_COLLECTOR_CLIENT_ERROR",
  "UJR_COLLECTOR_STATE_CORRUPT",
]);
