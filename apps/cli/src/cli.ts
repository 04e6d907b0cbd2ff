import { createRequire } from "node:module";
import { runCommand, runHelp } from "./commands/run.js";
import { validateCommand, validateHelp } from "./commands/validate.js";
import { pluginsCommand, pluginsHelp } from "./commands/plugins.js";
import { createPluginCommand, createPluginHelp } from "./commands/create-plugin.js";
import { schemaCommand, schemaHelp } from "./commands/schema.js";
import { statusCommand, statusHelp } from "./commands/status.js";
import { demoCommand, demoHelp } from "./commands/demo.js";
import { workerCommand, workerHelp } from "./commands/worker.js";
import { historyCommand, historyHelp } from "./commands/history.js";
import { reportError, stdio, type Output } from "./output.js";
import { UsageError } from "./args.js";

const version = (createRequire(import.meta.url)("../package.json") as { version: string }).version;

type Command = (argv: string[], output: Output) => Promise<number>;

/** Every `ujr` command; `demo` and `worker` import their heavier packages only when run. */
const commands: Record<string, Command> = {
  run: runCommand,
  validate: validateCommand,
  plugins: pluginsCommand,
  schema: schemaCommand,
  "create-plugin": createPluginCommand,
  status: statusCommand,
  history: historyCommand,
  demo: demoCommand,
  worker: workerCommand,
};

export const help = `ujr ${version}: run jobs made of tasks, from plugins, on one machine or many.

Usage: ujr <command> [options]

Commands:
${[runHelp, validateHelp, pluginsHelp, statusHelp, historyHelp, demoHelp, workerHelp, schemaHelp, createPluginHelp].map((text) => `  ${text.replace(/\n/g, "\n  ")}`).join("\n\n")}

  ujr help | --help     this text
  ujr version           the version

Exit codes: 0 done; 1 failed work (a job failed or a task failed for good);
2 bad input (config, plugin, arguments); 130 stopped by a signal with tasks cancelled.`;

export async function main(argv: string[], output: Output = stdio): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "help" || name === "--help" || name === "-h") {
    output.out(help);
    return name === undefined ? 2 : 0;
  }
  if (name === "version" || name === "--version" || name === "-v") {
    output.out(version);
    return 0;
  }
  const command = commands[name];
  try {
    if (!command) throw new UsageError(`Unknown command "${name}". Commands: ${Object.keys(commands).join(", ")}. Run \`ujr help\`.`);
    return await command(rest, output);
  } catch (error) {
    return reportError(error, output);
  }
}

export { commands };
