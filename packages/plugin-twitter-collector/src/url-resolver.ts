import http from "node:http";
import https from "node:https";
import type { lookup as dnsLookup } from "node:dns";
import { checkLiteralHost, guardedLookup } from "./internal/address-guard.js";
import { awakeTimeout } from "@ujr/core/task";
import { errorKindOf, type ErrorKind } from "./internal/url-error-kind.js";
import { Semaphore } from "./internal/semaphore.js";

export interface UrlResolverOptions {
  /** Follow links to loopback/private/link-local addresses (default false). */
  allowPrivateAddresses?: boolean;
  /** Per request (one hop), ms (default 10000). */
  timeoutMs?: number;
  /** Redirects followed at most (default 10). */
  maxHops?: number;
  /** Links resolved at once (default 8). */
  concurrency?: number;
  /** Requests to one host at once (default 2). */
  perHostConcurrency?: number;
  userAgent?: string;
  /**
   * Resolve only links on these hosts (or their subdomains); others are recorded as
   * skipped without a request. Empty: every host.
   */
  onlyHosts?: string[];
  signal?: AbortSignal;
  /** The DNS lookup the address guard wraps (default `dns.lookup`; tests inject failures). */
  dnsLookup?: typeof dnsLookup;
}

/**
 * Where a link ends. `error` is null when the link was resolved (whatever the final
 * status: a 404 is a result); otherwise `error_kind` says whether trying again later may
 * help (`transient`: DNS temporary failure, timeout, reset, 429, 5xx) or not (`permanent`:
 * no such host, refused by the address guard, bad scheme, redirect loop, ...).
 */
export interface Resolution {
  final_url: string | null;
  status: number | null;
  hops: number;
  error: string | null;
  error_kind: ErrorKind | null;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
/** Answers to HEAD after which we try GET: servers that refuse or mishandle HEAD. */
const HEAD_REFUSED = new Set([400, 403, 404, 405, 501]);

class HopTimeout extends Error {
  constructor(ms: number) {
    super(`timeout after ${ms} ms`);
  }
}

function failed(final_url: string | null, status: number | null, hops: number, error: string, kind?: ErrorKind): Resolution {
  return { final_url, status, hops, error, error_kind: kind ?? errorKindOf(error) };
}

function describe(error: unknown): string {
  if (error instanceof HopTimeout) return error.message;
  const e = error as { code?: unknown; message?: unknown };
  if (e?.code === "UJR_COLLECTOR_URL_REFUSED") return String(e.message);
  if (typeof e?.code === "string") return `${e.code}${typeof e.message === "string" && !e.message.includes(e.code) ? `: ${e.message}` : ""}`;
  return typeof e?.message === "string" ? e.message : String(error);
}

/**
 * Follows the redirects of links (HEAD, or GET when HEAD is refused), with a per-hop
 * timeout, a hop limit, loop detection, bounded concurrency overall and per host, a
 * cache (each link resolved once), and refusal of private addresses at connect time.
 */
export class UrlResolver {
  /** Resolved links and permanent failures: what may be reused forever. */
  readonly cache: Map<string, Resolution>;
  /** Transient failures seen by this resolver (never persisted). */
  readonly transient = new Map<string, Resolution>();
  readonly #options: Required<Omit<UrlResolverOptions, "signal" | "dnsLookup">> & { signal?: AbortSignal | undefined };
  readonly #global: Semaphore;
  readonly #hosts = new Map<string, Semaphore>();
  readonly #inflight = new Map<string, Promise<Resolution>>();
  readonly #lookup: ReturnType<typeof guardedLookup>;
  /** Links resolved over the network (not from the cache). */
  resolvedCount = 0;

  constructor(options: UrlResolverOptions = {}, cache: Map<string, Resolution> = new Map()) {
    this.#options = {
      allowPrivateAddresses: options.allowPrivateAddresses ?? false,
      timeoutMs: options.timeoutMs ?? 10_000,
      maxHops: options.maxHops ?? 10,
      concurrency: options.concurrency ?? 8,
      perHostConcurrency: options.perHostConcurrency ?? 2,
      userAgent: options.userAgent ?? "ujr-collector/0.1.0",
      onlyHosts: (options.onlyHosts ?? []).map((host) => host.toLowerCase()),
      signal: options.signal,
    };
    this.cache = cache;
    this.#global = new Semaphore(this.#options.concurrency);
    this.#lookup = guardedLookup(this.#options.allowPrivateAddresses, options.dnsLookup);
  }

  /**
   * Resolves one link: from the cache when it was resolved or failed for good before.
   * A transient failure is not cached (kept in `transient` for this resolver's lifetime
   * only, so one task does not hammer a failing host): a later task asks again.
   */
  resolve(start: string): Promise<Resolution> {
    const cached = this.cache.get(start) ?? this.transient.get(start);
    if (cached) return Promise.resolve(cached);
    let pending = this.#inflight.get(start);
    if (!pending) {
      pending = this.#global.use(() => this.#follow(start)).then((resolution) => {
        this.#inflight.delete(start);
        if (!this.#options.signal?.aborted) {
          if (resolution.error_kind === "transient") this.transient.set(start, resolution);
          else this.cache.set(start, resolution);
          this.resolvedCount++;
        }
        return resolution;
      });
      this.#inflight.set(start, pending);
    }
    return pending;
  }

  async #follow(start: string): Promise<Resolution> {
    let current: URL;
    try {
      current = new URL(start);
    } catch {
      return failed(null, null, 0, "invalid URL", "permanent");
    }
    const visited = new Set([current.href]);
    let hops = 0;
    for (;;) {
      if (this.#options.signal?.aborted) return failed(current.href, null, hops, "cancelled", "transient");
      if (current.protocol !== "http:" && current.protocol !== "https:") {
        return failed(current.href, null, hops, `unsupported scheme ${current.protocol}`, "permanent");
      }
      if (!this.#hostAllowed(current.hostname)) {
        return failed(current.href, null, hops, `host ${current.hostname} is not in urlResolution.onlyHosts`, "permanent");
      }
      let answer: { status: number; location?: string | undefined };
      try {
        checkLiteralHost(current.hostname, this.#options.allowPrivateAddresses);
        answer = await this.#hop(current, "HEAD");
        if (HEAD_REFUSED.has(answer.status)) answer = await this.#hop(current, "GET");
      } catch (error) {
        return failed(current.href, null, hops, describe(error));
      }
      if (REDIRECTS.has(answer.status) && answer.location) {
        let next: URL;
        try {
          next = new URL(answer.location, current);
        } catch {
          return failed(current.href, answer.status, hops, "invalid redirect location", "permanent");
        }
        hops++;
        if (visited.has(next.href)) return failed(next.href, answer.status, hops, "redirect loop", "permanent");
        if (hops > this.#options.maxHops) {
          return failed(next.href, answer.status, hops, `too many redirects (more than ${this.#options.maxHops})`, "permanent");
        }
        visited.add(next.href);
        current = next;
        continue;
      }
      // The server could not answer now (overloaded, rate limited): where the link leads is unknown yet.
      if (answer.status === 429 || answer.status >= 500) {
        return failed(current.href, answer.status, hops, `HTTP ${answer.status}`, "transient");
      }
      return { final_url: current.href, status: answer.status, hops, error: null, error_kind: null };
    }
  }

  #hostAllowed(hostname: string): boolean {
    const only = this.#options.onlyHosts;
    if (only.length === 0) return true;
    const host = hostname.toLowerCase();
    return only.some((allowed) => host === allowed || host.endsWith(`.${allowed}`));
  }

  #hostLimit(host: string): Semaphore {
    let semaphore = this.#hosts.get(host);
    if (!semaphore) {
      semaphore = new Semaphore(this.#options.perHostConcurrency);
      this.#hosts.set(host, semaphore);
    }
    return semaphore;
  }

  #hop(url: URL, method: "HEAD" | "GET"): Promise<{ status: number; location?: string | undefined }> {
    return this.#hostLimit(url.host).use(
      () =>
        new Promise((resolve, reject) => {
          const client = url.protocol === "https:" ? https : http;
          const request = client.request(
            url,
            {
              method,
              agent: false,
              lookup: this.#lookup as never,
              headers: { "user-agent": this.#options.userAgent, accept: "*/*" },
              ...(this.#options.signal ? { signal: this.#options.signal } : {}),
            },
            (response) => {
              const location = response.headers.location;
              resolve({ status: response.statusCode ?? 0, location: typeof location === "string" ? location : undefined });
              // Only the status and Location matter: do not download bodies.
              response.destroy();
              request.destroy();
            },
          );
          // running time only (awakeTimeout of @ujr/core): a stop of the process is not the host's slowness
          const timer = awakeTimeout(this.#options.timeoutMs, () => new HopTimeout(this.#options.timeoutMs));
          timer.signal.addEventListener("abort", () => request.destroy(timer.signal.reason as Error), { once: true });
          request.on("error", reject);
          request.on("close", () => timer.clear());
          request.end();
        }),
    );
  }
}
