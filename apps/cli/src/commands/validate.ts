import { resolve } from "node:path";
import { loadConfigFile } from "@ujr/runner-local";
import { DEFAULT_CONFIG, parse } from "../args.js";
import type { Output } from "../output.js";

export const validateHelp = `ujr validate [config]
  Checks a config file (default ./${DEFAULT_CONFIG}): YAML, runner settings, plugins, and each
  job's config against its plugin's schema. Reports every problem at once; exit code 2 if any.`;

export async function validateCommand(argv: string[], output: Output): Promise<number> {
  const { values, positionals } = parse(argv, { help: { type: "boolean", short: "h" } });
  if (values.help) {
    output.out(validateHelp);
    return 0;
  }
  const config = await loadConfigFile(resolve(positionals[0] ?? DEFAULT_CONFIG));
  output.out(`${config.file}: valid (${config.jobs.length} job${config.jobs.length === 1 ? "" : "s"})`);
  for (const job of config.jobs) output.out(`  ${job.name}: ${job.pluginSpecifier} ${job.typeName}${job.enabled ? "" : " (disabled)"}`);
  return 0;
}
