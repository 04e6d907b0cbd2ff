/**
 * Webhook target: HTTP(S) POST of a JSON summary with a Slack-compatible `text` field.
 * Retries with exponential backoff (network errors, timeouts, 408, 425, 429, 5xx), a
 * timeout per attempt, and the address guard. The URL may hold a secret (Slack and Teams
 * webhooks do): logs and errors name only its origin.
 */
import http from "node:http";
import https from "node:https";
import type { LookupFunction } from "node:net";
import { SummaryErrorCode, summaryError } from "../errors.js";
import { checkHost, type ResolvedAddress, type Resolver } from "./address-guard.js";

export interface WebhookTarget {
  url: string;
  headers?: Record<string, string> | undefined;
  timeoutMs: number;
  retry: { attempts: number; baseMs: number; maxMs: number };
  allowPrivateAddresses?: boolean | undefined;
}

export interface NotifyLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export interface WebhookOptions {
  logger?: NotifyLogger | undefined;
  signal?: AbortSignal | undefined;
  resolver?: Resolver | undefined;
  sleep?: ((ms: number, signal?: AbortSignal) => Promise<void>) | undefined;
}

/** The part of a URL that is safe to log: scheme, host and port. */
export function redactUrl(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return "(invalid URL)";
  }
}

export function backoffMs(attempt: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** (attempt - 1));
}

const defaultSleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(summaryError(SummaryErrorCode.ABORTED, "the notification was cancelled."));
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });

interface AttemptResult {
  status?: number;
  retryAfterMs?: number;
  error?: string;
}

function pinnedLookup(addresses: ResolvedAddress[]): LookupFunction {
  return ((_host: string, options: { all?: boolean }, cb: (...args: unknown[]) => void) => {
    if (options?.all) cb(null, addresses.map((a) => ({ address: a.address, family: a.family })));
    else cb(null, addresses[0]!.address, addresses[0]!.family);
  }) as unknown as LookupFunction;
}

function attempt(url: URL, body: string, target: WebhookTarget, addresses: ResolvedAddress[], signal?: AbortSignal): Promise<AttemptResult> {
  return new Promise((resolve) => {
    const mod = url.protocol === "https:" ? https : http;
    const req = mod.request(
      url,
      {
        method: "POST",
        headers: {
          "content-type": "application/json; charset=utf-8",
          "content-length": Buffer.byteLength(body),
          "user-agent": "ujr-dataset-summary",
          ...(target.headers ?? {}),
        },
        lookup: pinnedLookup(addresses),
        timeout: target.timeoutMs,
        ...(signal ? { signal } : {}),
      },
      (res) => {
        res.resume();
        res.on("end", () => {
          const ra = res.headers["retry-after"];
          const retryAfterMs = ra && /^\d+$/.test(String(ra)) ? Number(ra) * 1000 : undefined;
          resolve({ status: res.statusCode ?? 0, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) });
        });
        res.on("error", () => resolve({ error: "response aborted" }));
      },
    );
    req.on("timeout", () => req.destroy(Object.assign(new Error("timeout"), { code: "ETIMEDOUT" })));
    // Only the error code: Node's messages are safe today, but codes certainly are.
    req.on("error", (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.name ?? "request failed" }));
    req.end(body);
  });
}

function retryable(r: AttemptResult): boolean {
  if (r.error) return true;
  const s = r.status ?? 0;
  return s === 408 || s === 425 || s === 429 || s >= 500;
}

export async function sendWebhook(target: WebhookTarget, payload: unknown, options: WebhookOptions = {}): Promise<{ status: number; attempts: number }> {
  let url: URL;
  try {
    url = new URL(target.url);
  } catch {
    throw summaryError(SummaryErrorCode.CONFIG, "webhook target: the URL is not valid (it is not shown here because it may hold a secret).");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw summaryError(SummaryErrorCode.CONFIG, `webhook target: only http and https URLs are supported (got ${url.protocol}).`);
  }
  const origin = url.origin;
  const what = `webhook ${origin}`;
  const addresses = await checkHost(url.hostname, { allowPrivateAddresses: target.allowPrivateAddresses, resolver: options.resolver, what });
  const body = JSON.stringify(payload);
  const sleep = options.sleep ?? defaultSleep;
  const attempts = Math.max(1, target.retry.attempts);
  let last: AttemptResult = {};
  for (let n = 1; n <= attempts; n++) {
    if (options.signal?.aborted) throw summaryError(SummaryErrorCode.ABORTED, `${what}: the notification was cancelled.`);
    last = await attempt(url, body, target, addresses, options.signal);
    if (!last.error && last.status !== undefined && last.status >= 200 && last.status < 300) {
      options.logger?.info({ target: origin, status: last.status, attempt: n }, `webhook delivered to ${origin}`);
      return { status: last.status, attempts: n };
    }
    const why = last.error ?? `HTTP ${last.status}`;
    if (!retryable(last) || n === attempts) {
      options.logger?.warn({ target: origin, attempt: n, error: why }, `webhook to ${origin} failed: ${why}`);
      break;
    }
    const delay = Math.min(target.retry.maxMs, Math.max(backoffMs(n, target.retry.baseMs, target.retry.maxMs), last.retryAfterMs ?? 0));
    options.logger?.warn({ target: origin, attempt: n, error: why, retryInMs: delay }, `webhook to ${origin} failed (${why}); retrying in ${delay} ms`);
    await sleep(delay, options.signal);
  }
  throw summaryError(
    SummaryErrorCode.WEBHOOK_FAILED,
    `${what}: delivery failed (${last.error ?? `HTTP ${last.status}`})${retryable(last) ? ` after ${attempts} attempts` : ""}; check the target's URL and that the service is up.`,
  );
}
