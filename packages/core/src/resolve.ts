import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { resolve as resolveEsm } from "import-meta-resolve";
import { ujrError } from "./errors.js";

const cache = new Map<string, string>();

/** `@scope/pkg/sub/path` → { name: "@scope/pkg", subpath: "./sub/path" }; `pkg` → subpath ".". */
export function splitPackageSpecifier(specifier: string): { name: string; subpath: string } {
  const parts = specifier.split("/");
  const length = specifier.startsWith("@") ? 2 : 1;
  const rest = parts.slice(length).join("/");
  return { name: parts.slice(0, length).join("/"), subpath: rest ? `./${rest}` : "." };
}

/** The folder of package `name` as Node finds it from `folder` (node_modules, walking up), if installed. */
export function findPackageDir(name: string, folder: string): string | undefined {
  for (let current = folder; ; current = dirname(current)) {
    const candidate = join(current, "node_modules", name);
    if (existsSync(join(candidate, "package.json"))) return candidate;
    if (dirname(current) === current) return undefined;
  }
}

/**
 * Resolves a task module specifier to a file URL the way Node's ESM loader would from
 * each folder in `from` (file URLs ending in "/"), first match wins. File URLs pass
 * through. Needed because under pnpm's strict node_modules the runner cannot import a
 * plugin by bare name: only the folder that installed the plugin can. A package that is
 * installed but does not export the subpath is reported as that (the fix is in its
 * package.json), not as a missing package.
 */
export function resolveTaskModule(specifier: string, from: readonly string[]): string {
  if (specifier.startsWith("file:") || specifier.startsWith("data:") || specifier.startsWith("node:")) return specifier;
  const key = from.length === 1 ? `${specifier}\u0000${from[0]}` : `${specifier}\u0000${from.join("\u0000")}`;
  const cached = cache.get(key);
  if (cached) return cached;
  let notExported: { folder: string } | undefined;
  for (const folder of from) {
    try {
      const url = resolveEsm(specifier, new URL("__ujr_resolve__.js", folder).href);
      cache.set(key, url);
      return url;
    } catch (error) {
      // Try the next folder; remember a package that was found but hides the subpath.
      if ((error as { code?: string }).code === "ERR_PACKAGE_PATH_NOT_EXPORTED") notExported ??= { folder };
    }
  }
  if (notExported) {
    const { name, subpath } = splitPackageSpecifier(specifier);
    const packageDir = findPackageDir(name, fileURLToPath(notExported.folder));
    throw ujrError("UJR_TASK_MODULE_NOT_EXPORTED", {
      module: specifier,
      package: name,
      packageJson: packageDir ? join(packageDir, "package.json") : `${name}/package.json`,
      subpath,
    });
  }
  throw ujrError("UJR_TASK_MODULE_NOT_FOUND", {
    module: specifier,
    searched: from.map((folder) => fileURLToPath(folder)).join(", ") || "(nowhere)",
  });
}
