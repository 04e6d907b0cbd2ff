import type { EndpointName } from "./types.js";

export interface RateLimitConfig {
  /** Requests allowed per window, per endpoint and token. */
  limit: number;
  /** Window length in ms (the real API uses 15 minutes). */
  windowMs: number;
}

/** `rateLimit` option: one config for every endpoint, per-endpoint overrides, or `false` (no limit: the headers, still sent, always say the whole budget is left; never 429). */
export type RateLimitOption =
  | false
  | (Partial<RateLimitConfig> & {
      endpoints?: Partial<Record<EndpointName, Partial<RateLimitConfig>>>;
      /**
       * `x-rate-limit-reset` in whole epoch seconds, rounded up (default, as the real API), or
       * with milliseconds (`"1700000000.250"`): for sub-second windows in tests and benchmarks.
       */
      resetPrecision?: "seconds" | "milliseconds";
    });

/** The `x-rate-limit-reset` header value for a window ending at `resetAt` (epoch ms). */
export function resetHeader(resetAt: number, option: RateLimitOption | undefined): string {
  if (option && option.resetPrecision === "milliseconds") return (resetAt / 1000).toFixed(3);
  return String(Math.ceil(resetAt / 1000));
}

/** The real API's app-auth limits per 15-minute window. */
export const DEFAULT_RATE_LIMITS: Record<EndpointName, RateLimitConfig> = {
  "search/recent": { limit: 450, windowMs: 900_000 },
  "search/all": { limit: 300, windowMs: 900_000 },
  "users/tweets": { limit: 1500, windowMs: 900_000 },
  "users/lookup": { limit: 300, windowMs: 900_000 },
};

export interface RateLimitState {
  limit: number;
  remaining: number;
  /** Epoch milliseconds when the window resets. */
  resetAt: number;
  limited: boolean;
}

/**
 * Fixed windows per (endpoint, token), started by the first request of the window. A
 * clock that went back before a window's start (a laptop's clock set back by NTP or by
 * hand, a fake clock in a test) starts a new window: the old one would otherwise stay
 * closed, with a reset that far in the future, for as long as the clock went back.
 */
export class RateLimiter {
  private windows = new Map<string, { start: number; count: number }>();
  private option: RateLimitOption;

  get current(): RateLimitOption {
    return this.option;
  }

  constructor(option: RateLimitOption | undefined, private readonly now: () => number) {
    this.option = option ?? {};
  }

  configure(option: RateLimitOption | undefined): void {
    this.option = option ?? {};
  }

  configFor(endpoint: EndpointName): RateLimitConfig {
    const base = DEFAULT_RATE_LIMITS[endpoint];
    if (this.option === false) return base;
    const over = this.option.endpoints?.[endpoint];
    return {
      limit: over?.limit ?? this.option.limit ?? base.limit,
      windowMs: over?.windowMs ?? this.option.windowMs ?? base.windowMs,
    };
  }

  /** Counts one request and says whether it is allowed. A 429 does not consume the window further. */
  hit(endpoint: EndpointName, tokenKey: string): RateLimitState {
    const { limit, windowMs } = this.configFor(endpoint);
    const key = `${endpoint}\u0000${tokenKey}`;
    const now = this.now();
    let w = this.windows.get(key);
    if (!w || now >= w.start + windowMs || now < w.start) {
      w = { start: now, count: 0 };
      this.windows.set(key, w);
    }
    // `false`: no limit, and the headers say so (the whole budget left), since a client that
    // honours them (the collector) would otherwise wait for a reset no answer ever enforced
    if (this.option === false) return { limit, remaining: limit, resetAt: w.start + windowMs, limited: false };
    const limited = w.count >= limit;
    if (!limited) w.count++;
    return { limit, remaining: Math.max(0, limit - w.count), resetAt: w.start + windowMs, limited };
  }

  /** Forgets every window (all endpoints and tokens), or those of one endpoint. */
  reset(endpoint?: EndpointName): void {
    if (endpoint === undefined) this.windows.clear();
    else for (const key of [...this.windows.keys()]) if (key.startsWith(`${endpoint}\u0000`)) this.windows.delete(key);
  }
}
