import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, isAbsolute, join, resolve as resolvePath } from "node:path";
import { pathToFileURL } from "node:url";
import { resolve as resolveEsm } from "import-meta-resolve";
import { isPlugin, PLUGIN_API_VERSION, ujrError, type Plugin } from "@ujr/core";

export interface LoadedPlugin {
  specifier: string;
  /** File URL of the plugin's entry module. */
  url: string;
  plugin: Plugin;
}

/** Which command installs a package in `folder`: the package manager its lockfile shows. */
export function installCommand(pkg: string, folder: string): string {
  for (let current = folder; ; current = dirname(current)) {
    if (existsSync(join(current, "pnpm-lock.yaml")) || existsSync(join(current, "pnpm-workspace.yaml"))) return `pnpm add ${pkg}`;
    if (existsSync(join(current, "yarn.lock"))) return `yarn add ${pkg}`;
    if (existsSync(join(current, "package-lock.json"))) break;
    if (dirname(current) === current) break;
  }
  return `npm install ${pkg}`;
}

function isPathSpecifier(specifier: string): boolean {
  return specifier.startsWith("./") || specifier.startsWith("../") || specifier === "." || specifier === ".." || isAbsolute(specifier) || specifier.startsWith("file:");
}

/** Resolves a plugin specifier from the folder of the config that names it. */
export function resolvePlugin(specifier: string, configDir: string, where: { path: string; file: string }): string {
  if (isPathSpecifier(specifier)) {
    const target = specifier.startsWith("file:") ? new URL(specifier).pathname : resolvePath(configDir, specifier);
    if (existsSync(target) && statSync(target).isDirectory()) {
      const manifest = join(target, "package.json");
      if (existsSync(manifest)) {
        const pkg = JSON.parse(readFileSync(manifest, "utf8")) as { name?: string; main?: string };
        if (pkg.name) {
          try {
            return resolveEsm(pkg.name, pathToFileURL(join(target, "__ujr__.js")).href);
          } catch {
            // not self-referencable: fall through to main / index.js
          }
        }
        const main = join(target, pkg.main ?? "index.js");
        if (existsSync(main)) return pathToFileURL(main).href;
      }
      const index = join(target, "index.js");
      if (existsSync(index)) return pathToFileURL(index).href;
    } else if (existsSync(target)) {
      return pathToFileURL(target).href;
    }
    throw ujrError("UJR_PLUGIN_NOT_FOUND", {
      plugin: specifier,
      path: where.path,
      file: where.file,
      searched: target,
      install: `create ${target}, or fix the path (it is relative to the config file's folder)`,
    });
  }
  try {
    return resolveEsm(specifier, pathToFileURL(join(configDir, "__ujr__.js")).href);
  } catch {
    throw ujrError("UJR_PLUGIN_NOT_FOUND", {
      plugin: specifier,
      path: where.path,
      file: where.file,
      searched: `${join(configDir, "node_modules")} (and node_modules folders above it)`,
      install: `cd ${configDir} && ${installCommand(specifier, configDir)}`,
    });
  }
}

/** Imports a plugin and checks that it is a ujr plugin of the API version this runner speaks. */
export async function loadPlugin(specifier: string, configDir: string, where: { path: string; file: string }): Promise<LoadedPlugin> {
  const url = resolvePlugin(specifier, configDir, where);
  let namespace: Record<string, unknown>;
  try {
    namespace = (await import(url)) as Record<string, unknown>;
  } catch (error) {
    throw ujrError("UJR_PLUGIN_LOAD_FAILED", { plugin: specifier, path: where.path, reason: (error as Error).message }, { cause: error });
  }
  const candidate = namespace.default ?? namespace.plugin;
  if (!isPlugin(candidate)) throw ujrError("UJR_PLUGIN_INVALID", { plugin: specifier, path: where.path });
  if (candidate.apiVersion !== PLUGIN_API_VERSION) {
    throw ujrError("UJR_PLUGIN_API_VERSION", {
      plugin: specifier,
      path: where.path,
      actual: String(candidate.apiVersion),
      expected: String(PLUGIN_API_VERSION),
    });
  }
  return { specifier, url, plugin: candidate };
}
