import { collectorError } from "../errors.js";
import { awakeTimeout } from "@ujr/core/task";

export interface RateInfo {
  limit?: number | undefined;
  remaining?: number | undefined;
  /** Epoch ms when the window resets. */
  resetMs?: number | undefined;
  /** The API's clock when it answered (its `Date` header, whole seconds), epoch ms. */
  serverNowMs?: number | undefined;
}

export type ApiOutcome =
  | { kind: "ok"; body: Record<string, unknown>; rate: RateInfo }
  | { kind: "rate-limited"; rate: RateInfo };

/** The request URL for an API path: credentials in baseUrl are dropped (they never reach files or logs). */
export function apiUrl(baseUrl: string, path: string, params: Record<string, string | undefined>): URL {
  const url = new URL(baseUrl);
  url.username = "";
  url.password = "";
  url.pathname = `${url.pathname.replace(/\/+$/, "")}${path}`;
  url.search = "";
  url.hash = "";
  for (const [key, value] of Object.entries(params)) if (value !== undefined) url.searchParams.set(key, value);
  return url;
}

function rateInfo(headers: Headers): RateInfo {
  const num = (name: string) => {
    const value = headers.get(name);
    if (value === null || value.trim() === "") return undefined;
    const n = Number(value);
    return Number.isFinite(n) ? n : undefined;
  };
  const reset = num("x-rate-limit-reset");
  const date = Date.parse(headers.get("date") ?? "");
  return {
    limit: num("x-rate-limit-limit"),
    remaining: num("x-rate-limit-remaining"),
    resetMs: reset === undefined ? undefined : reset * 1000,
    serverNowMs: Number.isFinite(date) ? date : undefined,
  };
}

function problemDetail(text: string): string {
  try {
    const body = JSON.parse(text) as { detail?: unknown; title?: unknown; errors?: Array<{ message?: unknown }> };
    const first = body.errors?.[0]?.message;
    const parts = [typeof first === "string" ? first : undefined, typeof body.detail === "string" ? body.detail : undefined];
    const detail = parts.filter(Boolean).join("; ");
    if (detail) return detail.slice(0, 500);
    if (typeof body.title === "string") return body.title;
  } catch {
    /* not JSON */
  }
  return text.slice(0, 200) || "no details";
}

function causeCode(error: unknown): string {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string") return code;
    current = (current as { cause?: unknown }).cause;
  }
  return (error as Error)?.message ?? String(error);
}

/**
 * One GET of the X API with the bearer token in the header (never in the URL), bounded by
 * `timeoutMs` (connect, headers and body). Classifies the answer: data, rate-limited, or a
 * catalogue error (retryable or not).
 */
export async function apiGet(url: URL, options: { token: string; timeoutMs: number; signal: AbortSignal; label: string }): Promise<ApiOutcome> {
  const endpoint = options.label;
  // Running time only: a laptop's process stopped with a request in flight (Ctrl-Z, kill
  // -STOP, a frozen container) does not report the answer waiting in its socket as a timeout.
  const timeout = awakeTimeout(options.timeoutMs, () => new Error(`no answer within ${options.timeoutMs} ms`));
  const signal = AbortSignal.any([options.signal, timeout.signal]);
  const failed = (error: unknown): never => {
    if (options.signal.aborted) throw collectorError("UJR_COLLECTOR_CANCELLED", { reason: String((options.signal.reason as Error)?.message ?? "aborted") });
    if (timeout.signal.aborted) throw collectorError("UJR_COLLECTOR_TIMEOUT", { endpoint, timeoutMs: options.timeoutMs });
    throw collectorError("UJR_COLLECTOR_NETWORK", { endpoint, reason: causeCode(error) });
  };
  let response: Response;
  let text: string;
  try {
    try {
      response = await fetch(url, {
        headers: { authorization: `Bearer ${options.token}`, accept: "application/json", "user-agent": "ujr-collector/0.1.0" },
        signal,
      });
    } catch (error) {
      return failed(error);
    }
    try {
      text = await response.text();
    } catch (error) {
      return failed(error);
    }
  } finally {
    timeout.clear();
  }
  const rate = rateInfo(response.headers);
  const status = response.status;
  if (status === 429) return { kind: "rate-limited", rate };
  if (status === 401) throw collectorError("UJR_COLLECTOR_UNAUTHORIZED", { status, endpoint });
  if (status === 403) throw collectorError("UJR_COLLECTOR_FORBIDDEN", { endpoint, detail: problemDetail(text) });
  if (status === 400) throw collectorError("UJR_COLLECTOR_BAD_REQUEST", { endpoint, detail: problemDetail(text) });
  if (status === 404) throw collectorError("UJR_COLLECTOR_NOT_FOUND", { endpoint, baseUrl: `${url.protocol}//${url.host}` });
  if (status >= 500 || status === 408) throw collectorError("UJR_COLLECTOR_HTTP", { status, endpoint });
  if (status !== 200) throw collectorError("UJR_COLLECTOR_CLIENT_ERROR", { status, endpoint, detail: problemDetail(text) });
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (error) {
    throw collectorError("UJR_COLLECTOR_BAD_RESPONSE", { endpoint, reason: (error as Error).message.slice(0, 120) });
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw collectorError("UJR_COLLECTOR_BAD_RESPONSE", { endpoint, reason: "not a JSON object" });
  }
  return { kind: "ok", body: body as Record<string, unknown>, rate };
}
