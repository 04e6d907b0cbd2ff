import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { jobConfigJsonSchema, toTaskFailure } from "@ujr/core";
import { configFolder, installCommand, loadPlugin, type LoadedPlugin } from "@ujr/runner-local";
import { checkPositionals, DEFAULT_CONFIG, parse } from "../args.js";
import { pluginsNamedIn } from "../config-plugins.js";
import { configPluginsNotFound, describeNotFound, findInstalledPlugins, shownFolder, whyNoPluginFound, type NotListed, type PluginSearch } from "../installed-plugins.js";
import type { Output } from "../output.js";
import { configRows, renderTable } from "../schema-table.js";

export const pluginsHelp = `ujr plugins [config] [--json]
  With a config: the plugins it names. Without: every ujr plugin installed here, where Node
  finds the packages a config names (packages with the "ujr-plugin" keyword in the
  node_modules of this folder and of each folder above it), and why any plugin
  ./${DEFAULT_CONFIG} names is not among them. Shows each plugin's job types with a table
  of each job type's config keys (key, type, default, required, description).
  --json   the same as JSON, each job type's config as JSON Schema (for tools)`;

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
  let search: PluginSearch | undefined;
  let notFound: NotListed[] = [];
  if (positionals[0]) {
    // Read leniently: listing what a config's plugins offer needs neither its environment
    // variables nor its other settings to be right.
    const file = resolve(positionals[0]);
    const specifiers = pluginsNamedIn(file);
    for (const { specifier, path } of specifiers) {
      try {
        plugins.push(await loadPlugin(specifier, configFolder(file), { path, file }));
      } catch (error) {
        problems.push(`${specifier}: ${toTaskFailure(error).message}`);
      }
    }
    if (specifiers.length === 0 && !values.json) output.out(`${file} names no plugins: none of its jobs has a "plugin".`);
  } else {
    const folder = process.cwd();
    search = findInstalledPlugins(folder);
    for (const { name } of search.plugins) {
      try {
        plugins.push(await loadPlugin(name, folder, { path: "(installed)", file: join(folder, "package.json") }));
      } catch (error) {
        problems.push(`${name}: ${toTaskFailure(error).message}`);
      }
    }
    notFound = configPluginsNotFound(search);
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
    return problems.length > 0 ? 2 : 0;
  }
  // Judged on what was found, not on what loaded: a plugin found that would not load is a
  // problem below, with its reason, not "none found".
  if (search && search.plugins.length === 0) {
    output.out(`No ujr plugins found: ${whyNoPluginFound(search)}.${notFound.length > 0 ? "" : ` Install one (e.g. ${installCommand("@ujr/plugin-tweet-tidier", search.from)}) or pass a config file.`}`);
  }
  for (const [index, plugin] of described.entries()) {
    if (index > 0) output.out("");
    // Without a config, where it was found: it may be a folder above this one.
    const modules = search?.plugins.find(({ name }) => name === plugin.package)?.modules;
    const where = search && modules ? `, installed in ${shownFolder(modules, search.from)}` : "";
    output.out(`${plugin.name}${plugin.version ? `@${plugin.version}` : ""} (plugin API v${plugin.apiVersion})${where}`);
    for (const [type, info] of Object.entries(plugin.jobTypes)) {
      output.out(`  job type "${type}"${info.description ? `: ${info.description}` : ""}`);
      for (const line of renderTable(configRows(info.config), "    ")) output.out(line);
    }
  }
  if (notFound.length > 0) {
    if (described.length > 0 || search?.plugins.length === 0) output.out("");
    output.out(describeNotFound(notFound, `./${DEFAULT_CONFIG} also names plugins not listed here (\`ujr plugins ${DEFAULT_CONFIG}\` shows the plugins it names):`));
  }
  for (const problem of problems) output.err(`problem: ${problem}`);
  return problems.length > 0 ? 2 : 0;
}
