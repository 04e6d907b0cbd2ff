import { ujrError } from "./errors.js";

const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const durationPattern = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/;

/** Parses "500ms", "30s", "5m", "2h", "1d" or a number of milliseconds. */
export function parseDuration(value: string | number): number {
  if (typeof value === "number") {
    if (Number.isFinite(value) && value >= 0) return value;
    throw ujrError("UJR_DURATION_INVALID", { value: String(value) });
  }
  const match = durationPattern.exec(value);
  if (!match) throw ujrError("UJR_DURATION_INVALID", { value });
  return Math.round(Number(match[1]) * units[match[2] ?? "ms"]!);
}

export function isDuration(value: string): boolean {
  return durationPattern.test(value);
}
