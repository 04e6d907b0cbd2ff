import { resolve as resolveEsm } from "import-meta-resolve";
import { ujrError } from "./errors.js";

const cache = new Map<string, string>();

/**
 * Resolves a task module specifier to a file URL the way Node's ESM loader would from
 * each folder in `from` (file URLs ending in "/"), first match wins. File URLs pass
 * through. Needed because under pnpm's strict node_modules the runner cannot import a
 * plugin by bare name: only the folder that installed the plugin can.
 */
export function resolveTaskModule(specifier: string, from: readonly string[]): string {
  if (specifier.startsWith("file:") || specifier.startsWith("data:") || specifier.startsWith("node:")) return specifier;
  const key = from.length === 1 ? `${specifier}\u0000${from[0]}` : `${specifier}\u0000${from.join("\u0000")}`;
  const cached = cache.get(key);
  if (cached) return cached;
  for (const folder of from) {
    try {
      const url = resolveEsm(specifier, new URL("__ujr_resolve__.js", folder).href);
      cache.set(key, url);
      return url;
    } catch {
      // try the next folder
    }
  }
  throw ujrError("UJR_TASK_MODULE_NOT_FOUND", {
    module: specifier,
    searched: from.map((folder) => decodeURIComponent(new URL(folder).pathname)).join(", ") || "(nowhere)",
  });
}
