/**
 * Error catalogue of @ujr/plugin-dataset-summary.
 *
 * Every error carries a stable `code` (`UJR_SUMMARY_<WHAT>`) and a message that says what
 * to do. Check errors by `code` (or `name === "SummaryError"`), never by `instanceof`:
 * errors cross worker boundaries as plain objects.
 */
export const SummaryErrorCode = {
  /** The job's config is invalid beyond what the zod schema checks. */
  CONFIG: "UJR_SUMMARY_CONFIG",
  /** The database could not be opened (missing file, unreachable server, bad URL, a WAL database in a folder the user cannot write). */
  DB_OPEN: "UJR_SUMMARY_DB_OPEN",
  /** A query tried to write: summary connections are read-only. */
  READ_ONLY: "UJR_SUMMARY_READ_ONLY",
  /** A query ran longer than its timeout and was stopped. */
  QUERY_TIMEOUT: "UJR_SUMMARY_QUERY_TIMEOUT",
  /** A query failed in the database (syntax error, missing table or column, ...). */
  QUERY_FAILED: "UJR_SUMMARY_QUERY_FAILED",
  /** A query's `file` could not be read. */
  QUERY_FILE: "UJR_SUMMARY_QUERY_FILE",
  /** A query uses a named parameter that has no value. */
  QUERY_PARAM: "UJR_SUMMARY_QUERY_PARAM",
  /** A built-in report name is unknown. */
  UNKNOWN_REPORT: "UJR_SUMMARY_UNKNOWN_REPORT",
  /** Results could not be written to the output folder (a full disk or quota says so). */
  OUTPUT: "UJR_SUMMARY_OUTPUT",
  /** A notification target's address is loopback, private or link-local. */
  ADDRESS_REFUSED: "UJR_SUMMARY_ADDRESS_REFUSED",
  /** A webhook could not be delivered (after its retries). */
  WEBHOOK_FAILED: "UJR_SUMMARY_WEBHOOK_FAILED",
  /** An email could not be delivered. */
  EMAIL_FAILED: "UJR_SUMMARY_EMAIL_FAILED",
  /** The report could not be copied into a folder target. */
  FOLDER_FAILED: "UJR_SUMMARY_FOLDER_FAILED",
  /** A notification refers to a run whose stored results are missing. */
  NO_RESULTS: "UJR_SUMMARY_NO_RESULTS",
  /** The task was cancelled (runner shutdown, job removed, timeout). */
  ABORTED: "UJR_SUMMARY_ABORTED",
} as const;

export type SummaryErrorCode = (typeof SummaryErrorCode)[keyof typeof SummaryErrorCode];

export interface SummaryErrorInfo {
  name: "SummaryError";
  code: SummaryErrorCode;
  message: string;
  /** The query this error is about, when there is one. */
  query?: string;
}

export class SummaryError extends Error {
  override readonly name = "SummaryError" as const;
  readonly code: SummaryErrorCode;
  readonly query: string | undefined;
  constructor(code: SummaryErrorCode, message: string, options?: { cause?: unknown; query?: string }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.query = options?.query;
  }
  toJSON(): SummaryErrorInfo {
    return { name: this.name, code: this.code, message: this.message, ...(this.query ? { query: this.query } : {}) };
  }
}

export function summaryError(
  code: SummaryErrorCode,
  message: string,
  options?: { cause?: unknown; query?: string },
): SummaryError {
  return new SummaryError(code, message, options);
}

/** True when `err` (possibly a plain object from another thread) carries `code`. */
export function hasCode(err: unknown, code: SummaryErrorCode): boolean {
  return typeof err === "object" && err !== null && (err as { code?: unknown }).code === code;
}

/** A plain, structured-clonable description of any thrown value. */
export function toErrorInfo(err: unknown): { code: string; message: string } {
  if (typeof err === "object" && err !== null) {
    const e = err as { code?: unknown; message?: unknown };
    const code = typeof e.code === "string" && e.code.startsWith("UJR_") ? e.code : SummaryErrorCode.QUERY_FAILED;
    return { code, message: typeof e.message === "string" ? e.message : String(err) };
  }
  return { code: SummaryErrorCode.QUERY_FAILED, message: String(err) };
}
