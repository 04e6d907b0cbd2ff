import { distance } from "fastest-levenshtein";

/**
 * The candidates close enough to `name` to be what was meant (a typo: a few edits, or a
 * different case), best first. Short names allow one edit, longer ones about a third of
 * their length, so that unrelated names are never offered.
 */
export function closeNames(name: string, candidates: Iterable<string>, limit = 3): string[] {
  const lower = name.toLowerCase();
  const allowed = lower.length <= 3 ? 1 : Math.max(2, Math.floor(lower.length / 3));
  const scored: Array<{ candidate: string; score: number }> = [];
  for (const candidate of new Set(candidates)) {
    if (candidate === name) continue;
    const score = distance(lower, candidate.toLowerCase());
    if (score <= allowed) scored.push({ candidate, score });
  }
  return scored
    .sort((a, b) => a.score - b.score || a.candidate.localeCompare(b.candidate))
    .slice(0, limit)
    .map((entry) => entry.candidate);
}

/** ` Did you mean "x"?` (or `"x" or "y"`) when a candidate is close to `name`, else "". */
export function didYouMean(name: string, candidates: Iterable<string>): string {
  const close = closeNames(name, candidates);
  if (close.length === 0) return "";
  return ` Did you mean ${close.map((candidate) => `"${candidate}"`).join(" or ")}?`;
}
