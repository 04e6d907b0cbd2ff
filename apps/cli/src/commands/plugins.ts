import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { jobConfigJsonSchema, toTaskFailure } from "@ujr/core";
import { configFolder, loadPlugin, type LoadedPlugin } from "@ujr/runner-local";
import { checkPositionals, DEFAULT_CONFIG, parse } from "../args.js";
import type { Output } from "../output.js";
import { configRows, renderTable } from "../schema-table.js";
import { pluginsNamedIn } from "./schema.js";

export const pluginsHelp = `ujr plugins [config] [--json]
  With a config: the plugins it names. Without: every ujr plugin installed here (packages in
  ./node_modules with the "ujr-plugin" keyword). Shows each plugin's job types with a table
  of each job type's config keys (key, type, default, required, description).
  --json   the same as JSON, each job type's config as JSON Schema (for tools)`;

/** Package names in node_modules (including scoped ones) whose package.json has the ujr-plugin keyword. */
export function findInstalledPlugins(folder: string): string[] {
  const modules = join(folder, "node_modules");
  if (!existsSync(modules)) return [];
  const names: string[] = [];
  const consider = (name: string) => {
    try {
      const manifest = JSON.parse(readFileSync(join(modules, name, "package.json"), "utf8")) as { keywords?: unknown };
      if (Array.isArray(manifest.keywords) && manifest.keywords.includes("ujr-plugin")) names.push(name);
    } catch {
      // not a package
    }
  };
  for (const entry of readdirSync(modules)) {
    if (entry.startsWith(".")) continue;
    if (entry.startsWith("@")) for (const inner of readdirSync(join(modules, entry))) consider(`${entry}/${inner}`);
    else consider(entry);
  }
  return names.sort();
}

/** The version in the package.json of the package a plugin's entry module belongs to. */
function installedVersion(folder: string): string | undefined {
  for (let current = folder; dirname(current) !== current; current = dirname(current)) {
    const manifest = join(current, "package.json");
    if (!existsSync(manifest)) continue;
    try {
      const pkg = JSON.parse(readFileSync(manifest, "utf8")) as { name?: unknown; version?: unknown };
      if (typeof pkg.name === "string") return typeof pkg.version === "string" ? pkg.version : undefined;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

export async function pluginsCommand(argv: string[], output: Output): Promise<number> {
  const { values, positionals } = parse(argv, { json: { type: "boolean" }, help: { type: "boolean", short: "h" } });
  if (values.help) {
    output.out(pluginsHelp);
    return 0;
  }
  checkPositionals(positionals, 1, "ujr plugins [config] [--json]");
  const plugins: LoadedPlugin[] = [];
  const problems: string[] = [];
  let notListed: string[] = [];
  if (positionals[0]) {
    // Read leniently: listing what a config's plugins offer needs neither its environment
    // variables nor its other settings to be right.
    const file = resolve(positionals[0]);
    for (const { specifier, path } of pluginsNamedIn(file)) {
      try {
        plugins.push(await loadPlugin(specifier, configFolder(file), { path, file }));
      } catch (error) {
        problems.push(`${specifier}: ${toTaskFailure(error).message}`);
      }
    }
  } else {
    const folder = process.cwd();
    for (const name of findInstalledPlugins(folder)) {
      try {
        plugins.push(await loadPlugin(name, folder, { path: "(installed)", file: join(folder, "package.json") }));
      } catch (error) {
        problems.push(`${name}: ${toTaskFailure(error).message}`);
      }
    }
    notListed = pluginsOnlyInConfig(folder, plugins);
  }
  const described = plugins.map(({ specifier, plugin, folder }) => ({
    package: specifier,
    name: plugin.name,
    version: plugin.version ?? installedVersion(folder),
    apiVersion: plugin.apiVersion,
    jobTypes: Object.fromEntries(
      Object.entries(plugin.jobs).map(([type, jobType]) => [type, { description: jobType.description, config: jobConfigJsonSchema(jobType) }]),
    ),
  }));
  if (values.json) {
    output.out(JSON.stringify({ plugins: described, problems }, null, 2));
  } else {
    if (described.length === 0 && notListed.length === 0) output.out("No ujr plugins found. Install one (e.g. npm install @ujr/plugin-tweet-tidier) or pass a config file.");
    if (described.length === 0 && notListed.length > 0) output.out("No ujr plugins installed in ./node_modules.");
    for (const [index, plugin] of described.entries()) {
      if (index > 0) output.out("");
      output.out(`${plugin.name}${plugin.version ? `@${plugin.version}` : ""} (plugin API v${plugin.apiVersion})`);
      for (const [type, info] of Object.entries(plugin.jobTypes)) {
        output.out(`  job type "${type}"${info.description ? `: ${info.description}` : ""}`);
        for (const line of renderTable(configRows(info.config), "    ")) output.out(line);
      }
    }
    if (notListed.length > 0) {
      if (described.length > 0) output.out("");
      output.out(`./${DEFAULT_CONFIG} also names ${notListed.join(", ")}, which ${notListed.length === 1 ? "is" : "are"} not listed here (files, or packages without the "ujr-plugin" keyword): \`ujr plugins ${DEFAULT_CONFIG}\` shows the plugins it names.`);
    }
    for (const problem of problems) output.err(`problem: ${problem}`);
  }
  return problems.length > 0 ? 2 : 0;
}

/**
 * Plugins that ./ujr.config.yaml names but the listing of installed packages does not show
 * (a local file such as ./plugin.js, or a package without the keyword): without this, a
 * user in the folder of their config reads "No ujr plugins found" about the plugin they use.
 */
function pluginsOnlyInConfig(folder: string, listed: LoadedPlugin[]): string[] {
  const file = join(folder, DEFAULT_CONFIG);
  if (!existsSync(file)) return [];
  let named: Array<{ specifier: string }>;
  try {
    named = pluginsNamedIn(file);
  } catch {
    // a config that cannot be read is `ujr validate`'s to explain, not this listing's
    return [];
  }
  const shown = new Set(listed.map((plugin) => plugin.specifier));
  return [...new Set(named.map(({ specifier }) => specifier))].filter((specifier) => !shown.has(specifier));
}
