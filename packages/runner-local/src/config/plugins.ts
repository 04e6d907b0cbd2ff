import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { basename, dirname, isAbsolute, join, resolve as resolvePath } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { resolve as resolveEsm } from "import-meta-resolve";
import { closeNames, definedTasks, findPackageDir, isPlugin, isTaskDefinition, type TaskDefinition, PLUGIN_API_VERSION, splitPackageSpecifier, ujrError, type Plugin } from "@ujr/core";

export interface LoadedPlugin {
  specifier: string;
  /** File URL of the plugin's entry module. */
  url: string;
  /** The folder its task modules resolve from (its entry module's folder). */
  folder: string;
  plugin: Plugin;
  /** Task definitions its modules defined while it loaded, and those its entry exports (checked to resolve before anything runs). */
  tasks: TaskDefinition[];
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
      hint: nearFiles(target) || `  create ${target}, or fix the path (it is relative to the config file's folder)`,
    });
  }
  try {
    return resolveEsm(specifier, pathToFileURL(join(configDir, "__ujr__.js")).href);
  } catch (error) {
    const { name, subpath } = splitPackageSpecifier(specifier);
    const packageDir = findPackageDir(name, configDir);
    if ((error as { code?: string }).code === "ERR_PACKAGE_PATH_NOT_EXPORTED" && packageDir) {
      throw ujrError("UJR_PLUGIN_NOT_EXPORTED", { plugin: specifier, path: where.path, file: where.file, packageDir, subpath });
    }
    if (packageDir) {
      // Installed, but its entry cannot be resolved (no main/exports file, not built...).
      throw ujrError("UJR_PLUGIN_LOAD_FAILED", { plugin: specifier, path: where.path, reason: `${packageDir} is installed but Node cannot resolve its entry module (${(error as Error).message.split("\n")[0]})` });
    }
    const folders = nodeModulesFolders(configDir);
    const near = closeNames(name, folders.flatMap(({ names }) => names));
    // A name one typo away from an installed package is a typo, not a package to install:
    // the look-alike on the registry may be someone else's (typosquatting).
    const hint =
      near.length > 0
        ? `  did you mean ${near.map((candidate) => `"${candidate}" (installed in ${folders.find(({ names }) => names.includes(candidate))!.folder})`).join(" or ")}? Fix the name in ${where.file}.`
        : `  install it there: cd ${configDir} && ${installCommand(name, configDir)}`;
    throw ujrError("UJR_PLUGIN_NOT_FOUND", {
      plugin: specifier,
      path: where.path,
      file: where.file,
      searched: folders.length > 0 ? folders.map(({ folder }) => folder).join(", ") : `${join(configDir, "node_modules")} (and node_modules folders above it; none exists)`,
      hint,
    });
  }
}

/** "  did you mean ./plugin.js?" when the folder of a missing path has a file of a close name. */
function nearFiles(target: string): string {
  let names: string[];
  try {
    names = readdirSync(dirname(target));
  } catch {
    return "";
  }
  const near = closeNames(basename(target), names);
  return near.length > 0 ? `  did you mean ${near.map((name) => join(dirname(target), name)).join(" or ")}? Fix the path (it is relative to the config file's folder).` : "";
}

/** The node_modules folders Node looks in from `folder` (walking up) that exist, with the packages in each. */
export function nodeModulesFolders(folder: string): Array<{ folder: string; names: string[] }> {
  const found: Array<{ folder: string; names: string[] }> = [];
  for (let current = folder; ; current = dirname(current)) {
    const modules = join(current, "node_modules");
    if (existsSync(modules)) found.push({ folder: modules, names: packagesIn(modules) });
    if (dirname(current) === current) return found;
  }
}

function packagesIn(modules: string): string[] {
  const names: string[] = [];
  let entries: string[];
  try {
    entries = readdirSync(modules);
  } catch {
    return names;
  }
  for (const entry of entries) {
    if (entry.startsWith(".")) continue;
    if (!entry.startsWith("@")) names.push(entry);
    else {
      try {
        for (const inner of readdirSync(join(modules, entry))) if (!inner.startsWith(".")) names.push(`${entry}/${inner}`);
      } catch {
        // not a scope folder
      }
    }
  }
  return names;
}

/** Why an import failed, without the runner's own file as "imported from" (the user did not import it). */
function loadFailure(error: unknown): string {
  const message = (error as Error)?.message ?? String(error);
  return (error as { code?: string }).code === "ERR_MODULE_NOT_FOUND" ? message.replace(/ imported from \S+$/, "") : message;
}

/** Imports a plugin and checks that it is a ujr plugin of the API version this runner speaks. */
export async function loadPlugin(specifier: string, configDir: string, where: { path: string; file: string }): Promise<LoadedPlugin> {
  const url = resolvePlugin(specifier, configDir, where);
  let namespace: Record<string, unknown>;
  // Tasks defined while the plugin's modules load are the plugin's (a module already loaded
  // by an earlier plugin counts for that one).
  const before = definedTasks().length;
  try {
    namespace = (await import(url)) as Record<string, unknown>;
  } catch (error) {
    throw ujrError("UJR_PLUGIN_LOAD_FAILED", { plugin: specifier, path: where.path, reason: loadFailure(error) }, { cause: error });
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
  const exported = Object.values(namespace).filter((value): value is TaskDefinition => isTaskDefinition(value));
  const tasks = [...new Set([...definedTasks().slice(before), ...exported])];
  return { specifier, url, folder: dirname(fileURLToPath(url)), plugin: candidate, tasks };
}
