import { resolve } from "node:path";
import type { LogLevel } from "@ujr/core";
import type * as Demo from "@ujr/demo";
import { checkLogLevel, parse } from "../args.js";
import { exitCodeForRun } from "../exit-codes.js";
import { DEMO_PACKAGE, importOptional } from "../optional-package.js";
import type { Output } from "../output.js";

export const demoHelp = `ujr demo [--dir ./ujr-demo] [--continue] [--log-level warn]
  Runs the whole Twitter/X pipeline on embedded defaults, with no credentials and no
  servers: a local X API emulator (bundled sample of real pages) → collector (pages,
  URL resolution, archive) → tidier (SQLite) → summary (report.html, CSV, JSON).
  Starts clean unless --continue (then it collects only what is new and tidies only new files).
  Needs the package @ujr/demo (npm install @ujr/demo), found from the working folder,
  then beside ujr itself.`;

export async function demoCommand(argv: string[], output: Output): Promise<number> {
  const { values } = parse(argv, {
    dir: { type: "string" },
    continue: { type: "boolean" },
    "log-level": { type: "string" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) {
    output.out(demoHelp);
    return 0;
  }
  checkLogLevel(values["log-level"] as string | undefined);
  const { runDemo } = await importOptional<typeof Demo>(DEMO_PACKAGE, "demo", [process.cwd()]);
  return runDemo({
    dir: resolve((values.dir as string | undefined) ?? "ujr-demo"),
    continue: values.continue === true,
    logLevel: ((values["log-level"] as string | undefined) ?? "warn") as LogLevel,
    out: output.out,
    err: output.err,
    exitCodeForRun,
  });
}
