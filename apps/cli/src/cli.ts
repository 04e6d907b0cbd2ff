import { createRequire } from "node:module";
import { stdio, type Output } from "./output.js";
import { UsageError } from "./args.js";

const version = (createRequire(import.meta.url)("../package.json") as { version: string }).version;

type Command = (argv: string[], output: Output) => Promise<number>;

/**
 * Every `ujr` command, imported when it runs: each one's modules (the runner, zod, the
 * YAML parser, the dashboard, BullMQ...) cost start-up time that `ujr --version` or another
 * command should not pay (see README, "Start-up cost").
 */
const commands: Record<string, () => Promise<Command>> = {
  run: async () => (await import("./commands/run.js")).runCommand,
  validate: async () => (await import("./commands/validate.js")).validateCommand,
  plugins: async () => (await import("./commands/plugins.js")).pluginsCommand,
  schema: async () => (await import("./commands/schema.js")).schemaCommand,
  "create-plugin": async () => (await import("./commands/create-plugin.js")).createPluginCommand,
  status: async () => (await import("./commands/status.js")).statusCommand,
  history: async () => (await import("./commands/history.js")).historyCommand,
  demo: async () => (await import("./commands/demo.js")).demoCommand,
  worker: async () => (await import("./commands/worker.js")).workerCommand,
};

/** The commands' usage texts, in the order `ujr help` lists them (imports every command). */
async function commandHelps(): Promise<string[]> {
  const [run, validate, plugins, status, history, demo, worker, schema, createPlugin] = await Promise.all([
    import("./commands/run-config.js"),
    import("./commands/validate.js"),
    import("./commands/plugins.js"),
    import("./commands/status.js"),
    import("./commands/history.js"),
    import("./commands/demo.js"),
    import("./commands/worker.js"),
    import("./commands/schema.js"),
    import("./commands/create-plugin.js"),
  ]);
  return [run.runHelp, validate.validateHelp, plugins.pluginsHelp, status.statusHelp, history.historyHelp, demo.demoHelp, worker.workerHelp, schema.schemaHelp, createPlugin.createPluginHelp];
}

/** The text of `ujr help`. */
export async function helpText(): Promise<string> {
  return `ujr ${version}: run jobs made of tasks, from plugins, on one machine or many.

Usage: ujr <command> [options]

Commands:
${(await commandHelps()).map((text) => `  ${text.replace(/\n/g, "\n  ")}`).join("\n\n")}

  ujr help | --help     this text
  ujr version           the version

${(await import("./exit-codes.js")).exitCodesHelp}`;
}

export async function main(argv: string[], output: Output = stdio): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "help" || name === "--help" || name === "-h") {
    output.out(await helpText());
    return name === undefined ? 2 : 0;
  }
  if (name === "version" || name === "--version" || name === "-v") {
    output.out(version);
    return 0;
  }
  const command = commands[name];
  try {
    if (!command) throw new UsageError(`Unknown command "${name}". Commands: ${Object.keys(commands).join(", ")}. Run \`ujr help\`.`);
    return await (await command())(rest, output);
  } catch (error) {
    const { reportError } = await import("./report-error.js");
    return reportError(error, output);
  }
}

export { commands };
