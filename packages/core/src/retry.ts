/** How a failed task is tried again. `attempts` counts every try, the first included. */
export interface RetryPolicy {
  attempts: number;
  /** Delay before the second try; doubles (by `factor`) for each later one. */
  baseMs?: number;
  maxMs?: number;
  factor?: number;
  /** Share of the delay that is randomised (0: none, 1: anywhere from 0 to the delay). */
  jitter?: number;
}

export const noRetry: RetryPolicy = { attempts: 1 };

/**
 * The delay before try `nextAttempt` (2 for the first retry). Jitter spreads the
 * retries of many tasks that failed together (an API outage) so they do not return
 * in one burst.
 */
export function retryDelay(policy: RetryPolicy, nextAttempt: number, random: () => number = Math.random): number {
  const base = policy.baseMs ?? 1000;
  const max = policy.maxMs ?? 60_000;
  const factor = policy.factor ?? 2;
  const jitter = Math.min(1, Math.max(0, policy.jitter ?? 0.2));
  const exponential = Math.min(max, base * factor ** Math.max(0, nextAttempt - 2));
  return Math.round(exponential * (1 - jitter * random()));
}

export function normaliseRetry(retry: RetryPolicy | number | undefined): RetryPolicy | undefined {
  if (retry === undefined) return undefined;
  if (typeof retry === "number") return { attempts: Math.max(1, Math.floor(retry)) };
  return { ...retry, attempts: Math.max(1, Math.floor(retry.attempts)) };
}
