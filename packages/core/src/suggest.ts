import { readdirSync } from "node:fs";
import { basename, dirname, join, relative, resolve } from "node:path";
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

/**
 * Entries of the folder of `path` (resolved from `baseDir`) whose names are close to its
 * last part, as paths relative to `baseDir`, best first: what a setting naming a missing
 * file or folder may have meant. None when that folder cannot be read.
 */
export function closePaths(baseDir: string, path: string): string[] {
  const abs = resolve(baseDir, path);
  const parent = dirname(abs);
  let names: string[];
  try {
    names = readdirSync(parent);
  } catch {
    return [];
  }
  return closeNames(basename(abs), names).map((name) => relative(baseDir, join(parent, name)) || name);
}
