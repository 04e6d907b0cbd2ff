import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { jobConfigJsonSchema, toTaskFailure } from "@ujr/core";
import { loadConfigFile, loadPlugin, type LoadedPlugin } from "@ujr/runner-local";
import { checkPositionals, parse } from "../args.js";
import type { Output } from "../output.js";

export const pluginsHelp = `ujr plugins [config] [--json]
  With a config: the plugins it names. Without: every ujr plugin installed here (packages in
  ./node_modules with the "ujr-plugin" keyword). Shows each plugin's job types and each job
  type's config as JSON Schema.`;

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

export async function pluginsCommand(argv: string[], output: Output): Promise<number> {
  const { values, positionals } = parse(argv, { json: { type: "boolean" }, help: { type: "boolean", short: "h" } });
  if (values.help) {
    output.out(pluginsHelp);
    return 0;
  }
  checkPositionals(positionals, 1, "ujr plugins [config] [--json]");
  const plugins: LoadedPlugin[] = [];
  const problems: string[] = [];
  if (positionals[0]) {
    const config = await loadConfigFile(resolve(positionals[0]));
    const seen = new Set<string>();
    for (const job of config.jobs) if (!seen.has(job.plugin.url)) (seen.add(job.plugin.url), plugins.push(job.plugin));
  } else {
    const folder = process.cwd();
    for (const name of findInstalledPlugins(folder)) {
      try {
        plugins.push(await loadPlugin(name, folder, { path: "(installed)", file: join(folder, "package.json") }));
      } catch (error) {
        problems.push(`${name}: ${toTaskFailure(error).message}`);
      }
    }
  }
  const described = plugins.map(({ specifier, plugin }) => ({
    package: specifier,
    name: plugin.name,
    version: plugin.version,
    apiVersion: plugin.apiVersion,
    jobTypes: Object.fromEntries(
      Object.entries(plugin.jobs).map(([type, jobType]) => [type, { description: jobType.description, config: jobConfigJsonSchema(jobType) }]),
    ),
  }));
  if (values.json) {
    output.out(JSON.stringify({ plugins: described, problems }, null, 2));
  } else {
    if (described.length === 0) output.out("No ujr plugins found. Install one (e.g. npm install @ujr/plugin-tweet-tidier) or pass a config file.");
    for (const plugin of described) {
      output.out(`${plugin.name}${plugin.version ? `@${plugin.version}` : ""} (plugin API v${plugin.apiVersion})`);
      for (const [type, info] of Object.entries(plugin.jobTypes)) {
        output.out(`  job type "${type}"${info.description ? `: ${info.description}` : ""}`);
        output.out(`    config schema: ${JSON.stringify(info.config)}`);
      }
    }
    for (const problem of problems) output.err(`problem: ${problem}`);
  }
  return problems.length > 0 ? 2 : 0;
}
