import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { basename, dirname, extname, isAbsolute, join, resolve as resolvePath } from "node:path";
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

/** The plugins the ujr project publishes: a near miss of one of them is a typo to fix even when none is installed. */
export const UJR_PLUGINS: readonly string[] = ["@ujr/plugin-twitter-collector", "@ujr/plugin-tweet-tidier", "@ujr/plugin-dataset-summary"];

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

export function isPathSpecifier(specifier: string): boolean {
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
      throw ujrError("UJR_PLUGIN_LOAD_FAILED", {
        plugin: specifier,
        path: where.path,
        reason: `${packageDir} is installed but Node cannot resolve its entry module (${(error as Error).message.split("\n")[0]})`,
        fix: loadFix(specifier),
      });
    }
    const folders = nodeModulesFolders(configDir);
    const near = closeNames(name, folders.flatMap(({ names }) => names));
    // A name one typo away from an installed package, or from one of ujr's own plugins, is a
    // typo, not a package to install: the look-alike on the registry may be someone else's
    // (typosquatting).
    const nearOwn = near.length > 0 ? [] : closeNames(name, UJR_PLUGINS);
    const hint =
      near.length > 0
        ? `  did you mean ${near.map((candidate) => `"${candidate}" (installed in ${folders.find(({ names }) => names.includes(candidate))!.folder})`).join(" or ")}? Fix the name in ${where.file}.`
        : nearOwn.length > 0
          ? `  did you mean ${nearOwn.map((candidate) => `"${candidate}"`).join(" or ")} (a ujr plugin, not installed here)? Fix the name in ${where.file}, then install it: cd ${configDir} && ${installCommand(nearOwn[0]!, configDir)}`
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

/** What to do about a failed import: the generic advice fits a package, not a file of the user's. */
function loadFix(specifier: string): string {
  return isPathSpecifier(specifier) ? "Fix that file, or the modules it imports." : "Check that the package is built and installed correctly.";
}

/** The package.json nearest above a file: the one whose "type" decides what its .js files are. */
function nearestPackageJson(file: string): string | undefined {
  for (let current = dirname(file); ; current = dirname(current)) {
    const candidate = join(current, "package.json");
    if (existsSync(candidate)) return candidate;
    if (dirname(current) === current) return undefined;
  }
}

const toPath = (location: string): string => (location.startsWith("file:") ? fileURLToPath(location) : location);

/** The file a SyntaxError is in: V8 puts it on the stack's first line ("/x/plugin.js:1" or "file:///x/plugin.mjs:1"). */
function fileOfSyntaxError(error: Error): string | undefined {
  const match = /^((?:file:\/\/|\/|[A-Za-z]:\\)[^\n]*?):\d+\n/.exec(error.stack ?? "");
  return match ? toPath(match[1]!) : undefined;
}

/** The file a module specifier names from an importing file, if Node can resolve it. */
function resolvedFrom(specifier: string, importer: string): string | undefined {
  try {
    const url = resolveEsm(specifier, pathToFileURL(importer).href);
    return url.startsWith("file:") ? fileURLToPath(url) : undefined;
  } catch {
    return undefined;
  }
}

function textOf(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return "";
  }
}

const esmSyntax = /^\s*(import\s*[\w{*"'(]|export\s)/m;

/**
 * An ES module that Node read as CommonJS (npm 11's `npm init -y` writes "type":
 * "commonjs"), or CommonJS that require()s an ES module: the generic "check the package
 * is built" sends the user the wrong way, so the reason names the file, the package.json
 * that decides and the fix.
 */
function moduleKindFailure(error: unknown): { reason: string; fix: string } | undefined {
  const failure = error as Error & { code?: string };
  const message = failure?.message ?? "";
  let file: string | undefined;
  if (failure?.name === "SyntaxError" && /^(Cannot use import statement outside a module|Unexpected token 'export'|Cannot use 'import\.meta' outside a module)/.test(message)) {
    file = fileOfSyntaxError(failure);
  } else if (failure?.name === "SyntaxError" && /^Named export '[^']+' not found\. The requested module '[^']+' is a CommonJS module/.test(message)) {
    // The importer is an ES module; the module it names was read as CommonJS. Only when that
    // module is written as ESM is the package.json the cause (real CommonJS lacks the export).
    const importer = fileOfSyntaxError(failure);
    const requested = /The requested module '([^']+)'/.exec(message)![1]!;
    const target = importer ? resolvedFrom(requested, importer) : undefined;
    if (target && esmSyntax.test(textOf(target))) file = target;
  } else if (failure?.code === "ERR_REQUIRE_ESM") {
    const [, required, requirer] = /require\(\) of ES Module (\S+) from (\S+) not supported/.exec(message) ?? [];
    if (required && requirer) {
      const manifest = nearestPackageJson(toPath(requirer));
      return {
        reason: `${toPath(requirer)} is CommonJS and require()s the ES module ${toPath(required)}`,
        fix: `Write ${toPath(requirer)} as an ES module (import, not require) and add "type": "module" to ${manifest ?? `a package.json beside it`}, or rename it .mjs.`,
      };
    }
  }
  if (!file) return undefined;
  if (extname(file) === ".cjs") return { reason: `${file} uses import/export, but a .cjs file is always CommonJS`, fix: `Rename it .mjs (or .js in a package with "type": "module").` };
  const manifest = nearestPackageJson(file);
  if (!manifest) return { reason: `${file} is an ES module (it uses import/export), but no package.json above it says so, so Node reads its .js files as CommonJS`, fix: `Create a package.json with "type": "module" beside it, or rename the file .mjs.` };
  return {
    reason: `${file} is an ES module (it uses import/export), but ${manifest} makes .js files CommonJS (its "type" is not "module")`,
    fix: `Add "type": "module" to ${manifest} (npm pkg set type=module), or rename the file .mjs.`,
  };
}

/** Who is named in a message about a plugin: a file the config points at is not a "package". */
function pluginSource(specifier: string): string {
  return isPathSpecifier(specifier) ? "File" : "Package";
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);

function describeValue(value: unknown): string {
  if (typeof value === "string") return `the string ${JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value)}`;
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") return "an object";
  return `${typeof value === "undefined" ? "" : "a "}${typeof value}`;
}

/**
 * What is wrong with the shape of a plugin that claims to be one: the runner calls into it
 * (job types' config, create, tasks), so a wrong shape must be a problem that names the
 * job type and the field, not a TypeError from deep inside the runner.
 */
export function pluginShapeProblems(plugin: Plugin): string[] {
  const jobs: unknown = plugin.jobs;
  if (!isObject(jobs)) return [`its jobs is ${describeValue(jobs)}; it must be an object of job types made with defineJobType(), keyed by their names`];
  const problems: string[] = [];
  for (const [name, jobType] of Object.entries(jobs)) {
    const where = `job type "${name}"`;
    if (!isObject(jobType)) {
      problems.push(`${where} is ${describeValue(jobType)}; make it with defineJobType({ config, create })`);
      continue;
    }
    if (typeof (jobType.config as { safeParse?: unknown } | undefined)?.safeParse !== "function") {
      problems.push(`${where}: config is ${describeValue(jobType.config)}; it must be a zod schema, such as z.object({ ... }) (z from @ujr/core)`);
    }
    if (typeof jobType.create !== "function") problems.push(`${where}: create is ${describeValue(jobType.create)}; it must be a function (config, ctx) => job`);
    const tasks: unknown = jobType.tasks;
    if (tasks === undefined) continue;
    if (!Array.isArray(tasks)) {
      problems.push(`${where}: tasks is ${describeValue(tasks)}; it must be an array of tasks made with defineTask() from @ujr/core`);
      continue;
    }
    tasks.forEach((task: unknown, index) => {
      if (!isTaskDefinition(task)) {
        problems.push(`${where}: tasks[${index}] is ${describeValue(task)}; each entry of tasks must be a task made with defineTask() from @ujr/core (the defined task itself, imported from its module, not the module's URL)`);
      }
    });
  }
  return problems;
}

/** UJR_PLUGIN_INVALID when a plugin's job types are not shaped as the runner needs them. */
export function checkPluginShape(plugin: Plugin, source: string, specifier: string, path: string): void {
  const problems = pluginShapeProblems(plugin);
  if (problems.length > 0) throw ujrError("UJR_PLUGIN_INVALID", { source, plugin: specifier, path, what: "a valid ujr plugin", reason: problems.join("; ") });
}

/** UJR_PLUGIN_INVALID for a value that is not a plugin at all: a module's default export, or an object handed over in code. */
export function notAPlugin(source: string, specifier: string, path: string, given: "export" | "object" = "export"): Error {
  const reason = given === "object" ? "make it with definePlugin() from @ujr/core" : "its default export must be made with definePlugin() from @ujr/core";
  return ujrError("UJR_PLUGIN_INVALID", { source, plugin: specifier, path, what: "a ujr plugin", reason });
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
    const kind = moduleKindFailure(error);
    const reason = kind ? kind.reason : loadFailure(error);
    throw ujrError("UJR_PLUGIN_LOAD_FAILED", { plugin: specifier, path: where.path, reason, fix: kind ? kind.fix : loadFix(specifier) }, { cause: error });
  }
  const candidate = namespace.default ?? namespace.plugin;
  if (!isPlugin(candidate)) throw notAPlugin(pluginSource(specifier), specifier, where.path);
  if (candidate.apiVersion !== PLUGIN_API_VERSION) {
    throw ujrError("UJR_PLUGIN_API_VERSION", {
      plugin: specifier,
      path: where.path,
      actual: String(candidate.apiVersion),
      expected: String(PLUGIN_API_VERSION),
    });
  }
  checkPluginShape(candidate, pluginSource(specifier), specifier, where.path);
  const exported = Object.values(namespace).filter((value): value is TaskDefinition => isTaskDefinition(value));
  const tasks = [...new Set([...definedTasks().slice(before), ...exported])];
  return { specifier, url, folder: dirname(fileURLToPath(url)), plugin: candidate, tasks };
}
