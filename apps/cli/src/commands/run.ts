import { resolve } from "node:path";
import type { LogLevel } from "@ujr/core";
import { ConfigFileRunner } from "@ujr/runner-local";
import { checkLogLevel, DEFAULT_CONFIG, parse } from "../args.js";
import { exitCodeForRun } from "../exit-codes.js";
import type { Output } from "../output.js";

export const runHelp = `ujr run [config] [options]
  Runs the jobs of a config file (default ./${DEFAULT_CONFIG}) until every job is done.
  The file is watched: valid edits add, remove or restart only the jobs that changed.
  --log-level <level>  fatal|error|warn|info|debug|trace|silent (default: runner.logLevel or info)
  --no-watch           do not reload the file when it changes
  --keep-alive         keep running (and watching) when every job is done
  --workers <n>        pool size (overrides runner.workers)`;

export async function runCommand(argv: string[], output: Output): Promise<number> {
  const { values, positionals } = parse(argv, {
    "log-level": { type: "string" },
    "no-watch": { type: "boolean" },
    "keep-alive": { type: "boolean" },
    workers: { type: "string" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) {
    output.out(runHelp);
    return 0;
  }
  checkLogLevel(values["log-level"] as string | undefined);
  const file = resolve(positionals[0] ?? DEFAULT_CONFIG);
  const pretty = process.stdout.isTTY === true;
  const runner = await ConfigFileRunner.fromFile(file, {
    watch: !values["no-watch"],
    ...(values["keep-alive"] ? { keepAlive: true } : {}),
    ...(values["log-level"] ? { logLevel: values["log-level"] as LogLevel } : {}),
    ...(values.workers ? { workers: Number(values.workers) } : {}),
    prettyLogs: pretty,
  });
  const result = await runner.run();
  return exitCodeForRun(result);
}
