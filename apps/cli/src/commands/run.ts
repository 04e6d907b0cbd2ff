import { resolve } from "node:path";
import type { LogLevel } from "@ujr/core/task";
import { EarlyPool, type PoolOverrides } from "@ujr/runner-local/pool";
import { checkLogLevel, checkPositionals, DEFAULT_CONFIG, intFlag, parse, UsageError } from "../args.js";
import type { Output } from "../output.js";
import type { RunTerminal } from "./run-config.js";

export type { RunTerminal };

export async function runCommand(argv: string[], output: Output, terminal?: RunTerminal): Promise<number> {
  const { values, positionals } = parse(argv, {
    "log-level": { type: "string" },
    "no-watch": { type: "boolean" },
    "keep-alive": { type: "boolean" },
    workers: { type: "string" },
    "status-port": { type: "string" },
    "no-tty": { type: "boolean" },
    job: { type: "string", multiple: true },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) {
    output.out((await import("./run-config.js")).runHelp);
    return 0;
  }
  checkLogLevel(values["log-level"] as string | undefined);
  checkPositionals(positionals, 1, "ujr run [config] [options]");
  const port = intFlag("status-port", values["status-port"] as string | undefined, { min: 0, max: 65535, what: "a port number from 0 to 65535" });
  const workers = intFlag("workers", values.workers as string | undefined, { min: 1, what: "a positive whole number (the pool size)" });
  for (const name of (values.job as string[] | undefined) ?? []) if (name.trim() === "") throw new UsageError("--job needs the name of a job of the config file");
  const file = resolve(positionals[0] ?? DEFAULT_CONFIG);
  const stdout = terminal?.stdout ?? process.stdout;
  const flagLevel = values["log-level"] as LogLevel | undefined;
  const overrides: PoolOverrides = { workers, logLevel: flagLevel, prettyLogs: stdout.isTTY === true };
  // The local pool's first worker process starts from the file as written, before this
  // process loads zod, the config schemas, the plugins and the run history (~0.2 s), so
  // that Node's start-up there overlaps them; the run takes it once the checked config
  // asks for the same pool (see EarlyPool). Only the pool module and the YAML parser load first.
  const early = EarlyPool.fromFile(file, overrides);
  try {
    const { runConfigFile } = await import("./run-config.js");
    return await runConfigFile(file, { values, port, overrides, terminal, early });
  } finally {
    await early?.close();
  }
}
