import { existsSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { findPackageDir, splitPackageSpecifier } from "@ujr/core";
import { installCommand, isPathSpecifier, nodeModulesFolders } from "@ujr/runner-local";
import { DEFAULT_CONFIG } from "./args.js";
import { pluginsNamedIn } from "./config-plugins.js";

/** An installed package with the "ujr-plugin" keyword. */
export interface InstalledPlugin {
  name: string;
  /** The node_modules folder it is in. */
  modules: string;
}

/** The installed plugins found from a folder, and where the search looked. */
export interface PluginSearch {
  /** The folder searched from (the working directory). */
  from: string;
  /** The node_modules folders of `from` and of each folder above it that exist, nearest first. */
  looked: string[];
  plugins: InstalledPlugin[];
}

/**
 * The package's keywords (none when its package.json cannot be read as JSON), or undefined
 * when the folder has no package.json: no package to Node either (see core's findPackageDir).
 */
function keywordsOf(packageDir: string): unknown[] | undefined {
  let text: string;
  try {
    text = readFileSync(join(packageDir, "package.json"), "utf8");
  } catch {
    return undefined;
  }
  try {
    const keywords = (JSON.parse(text) as { keywords?: unknown }).keywords;
    return Array.isArray(keywords) ? keywords : [];
  } catch {
    return [];
  }
}

/**
 * The packages with the "ujr-plugin" keyword that a config in `folder` can name: those
 * Node's resolution finds from there, in the node_modules of the folder and of each folder
 * above it (`npm install` in a project folder, the config in a subfolder). Nearest first,
 * and a package found nearer hides one of the same name further up, as it does for the
 * runner's `import` of it.
 */
export function findInstalledPlugins(folder: string): PluginSearch {
  const folders = nodeModulesFolders(folder);
  const seen = new Set<string>();
  const plugins: InstalledPlugin[] = [];
  for (const { folder: modules, names } of folders) {
    for (const name of names) {
      if (seen.has(name)) continue;
      const keywords = keywordsOf(join(modules, name));
      if (keywords === undefined) continue;
      seen.add(name);
      if (keywords.includes("ujr-plugin")) plugins.push({ name, modules });
    }
  }
  plugins.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { from: folder, looked: folders.map(({ folder: modules }) => modules), plugins };
}

/** Why a search found no plugin, naming where it looked (after "No ujr plugins found: "). */
export function whyNoPluginFound(search: PluginSearch): string {
  return search.looked.length > 0
    ? `no package in ${search.looked.join(", ")} has the "ujr-plugin" keyword (looked where Node finds the packages a config names: the node_modules folders of ${search.from} and of the folders above it)`
    : `there is no node_modules folder in ${search.from} or in any folder above it (where Node finds the packages a config names)`;
}

/** A node_modules folder as the working directory sees it: ./node_modules, ../node_modules, ... */
export function shownFolder(modules: string, from: string): string {
  const path = relative(from, modules);
  return path.startsWith("..") ? path : `./${path}`;
}

/** A plugin ./ujr.config.yaml names that a search of installed plugins does not find, and why. */
export interface NotListed {
  specifier: string;
  reason: string;
}

/**
 * The plugins ./ujr.config.yaml names that `search` does not show, each with the reason: a
 * user in the folder of their config otherwise reads that no plugin is installed about the
 * plugin their config runs with, or a schema that leaves it out without a word.
 */
export function configPluginsNotFound(search: PluginSearch): NotListed[] {
  const file = join(search.from, DEFAULT_CONFIG);
  if (!existsSync(file)) return [];
  let named: Array<{ specifier: string }>;
  try {
    named = pluginsNamedIn(file);
  } catch {
    // a config that cannot be read is `ujr validate`'s to explain, not this listing's
    return [];
  }
  const found = new Set(search.plugins.map(({ name }) => name));
  return named.filter(({ specifier }) => !found.has(specifier)).map(({ specifier }) => ({ specifier, reason: whyNotFound(specifier, search, found) }));
}

function whyNotFound(specifier: string, search: PluginSearch, found: Set<string>): string {
  if (isPathSpecifier(specifier)) return "a file, not an installed package";
  const { name, subpath } = splitPackageSpecifier(specifier);
  if (found.has(name)) return `the module ${subpath} of ${name}, which is listed under its package name`;
  const packageDir = findPackageDir(name, search.from);
  if (packageDir) {
    const what = subpath === "." ? "installed" : `a module of ${name}, installed`;
    return `${what} in ${packageDir}, but its package.json has no "ujr-plugin" keyword (add it there if the plugin is yours)`;
  }
  const where = search.looked.length > 0 ? `not in ${search.looked.join(", ")}` : `there is no node_modules folder in ${search.from} or above it`;
  return `not installed (${where}), so \`ujr run\` cannot load it either; install it: ${installCommand(name, search.from)}`;
}

/** The lines saying which plugins ./ujr.config.yaml names beyond a search's, and why each is missing. */
export function describeNotFound(notFound: NotListed[], intro: string): string {
  return [intro, ...notFound.map(({ specifier, reason }) => `  ${specifier}: ${reason}`)].join("\n");
}
