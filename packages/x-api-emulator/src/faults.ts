import { mulberry32 } from "./internal/prng.js";
import type { EndpointName } from "./types.js";

export type FaultKind = "503" | "500" | "reset" | "slow" | "truncate";

/**
 * One fault rule. A request is faulted when its number is in `at` or, with `rate`, when
 * the rule's seeded PRNG draws below `rate`. Numbers count from 1 and count the requests
 * that reach the endpoint handler (after a successful bearer-token check and rate-limit
 * check), per endpoint by default (`scope: "endpoint"`) or across all API endpoints
 * (`scope: "global"`). Short-link requests (`endpoint: "shortlinks"`) are counted on their own.
 */
export interface FaultRule {
  kind: FaultKind;
  /** Request numbers (1-based) that fail. */
  at?: number[];
  /** Probability in [0, 1] per request (deterministic with `seed`). */
  rate?: number;
  /** PRNG seed for `rate` (default 1). */
  seed?: number;
  /** Which endpoints the rule applies to (default: every API endpoint). */
  endpoint?: FaultEndpoint | FaultEndpoint[];
  /** How `at` numbers count: per endpoint (default) or across all API endpoints. */
  scope?: "endpoint" | "global";
  /** For `slow`: delay before the (normal) response, ms (default 1000). */
  delayMs?: number;
  /** For `truncate`: fraction of the body sent (default 0.5). */
  keepFraction?: number;
}

export type FaultEndpoint = EndpointName | "shortlinks";

export interface FaultDecision {
  kind: FaultKind;
  delayMs: number;
  keepFraction: number;
}

interface CompiledRule {
  rule: FaultRule;
  random: () => number;
  endpoints: FaultEndpoint[] | undefined;
}

/** Decides, per request, whether a fault applies. The first matching rule wins. */
export class FaultInjector {
  private rules: CompiledRule[] = [];
  private perEndpoint = new Map<FaultEndpoint, number>();
  private global = 0;

  constructor(rules: FaultRule[] = []) {
    this.set(rules);
  }

  /** Replaces the rules; counters keep running unless `resetCounters` is true. */
  set(rules: FaultRule[], resetCounters = false): void {
    this.rules = rules.map((rule) => ({
      rule,
      random: mulberry32(rule.seed ?? 1),
      endpoints: rule.endpoint === undefined ? undefined : Array.isArray(rule.endpoint) ? rule.endpoint : [rule.endpoint],
    }));
    if (resetCounters) this.resetCounters();
  }

  resetCounters(): void {
    this.perEndpoint.clear();
    this.global = 0;
  }

  /** Counts one request to `endpoint` and returns the fault to inject, if any. */
  next(endpoint: FaultEndpoint): { fault: FaultDecision | undefined; number: number; globalNumber: number } {
    const number = (this.perEndpoint.get(endpoint) ?? 0) + 1;
    this.perEndpoint.set(endpoint, number);
    const globalNumber = endpoint === "shortlinks" ? 0 : ++this.global;
    let fault: FaultDecision | undefined;
    for (const c of this.rules) {
      const applies = c.endpoints ? c.endpoints.includes(endpoint) : endpoint !== "shortlinks";
      if (!applies) continue;
      const n = c.rule.scope === "global" && endpoint !== "shortlinks" ? globalNumber : number;
      // Every applicable rate rule draws once per request so the sequence stays deterministic.
      const drawn = c.rule.rate !== undefined ? c.random() < c.rule.rate : false;
      if (fault === undefined && ((c.rule.at?.includes(n) ?? false) || drawn)) {
        fault = { kind: c.rule.kind, delayMs: c.rule.delayMs ?? 1000, keepFraction: c.rule.keepFraction ?? 0.5 };
      }
    }
    return { fault, number, globalNumber };
  }
}
