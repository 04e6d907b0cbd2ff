// Tasks run in pool workers (other processes, maybe other machines): they receive and
// return structured-clonable data only, and are addressed by package specifier so that
// any worker resolves them from the config's folder.
import { createHmac } from "node:crypto";
import { mkdir, rename, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { defineTask } from "@ujr/core";
import { HelloError } from "./errors.js";

/** The specifier of this module: the package's `exports["./tasks"]`. */
const module = "@ujr-examples/plugin-hello/tasks";

export interface GreetArgs {
  name: string;
  greeting: string;
  /** Folder the greeting file goes into (below the job's state folder). */
  dir: string;
  round: number;
}

export interface GreetResult {
  name: string;
  file: string;
  text: string;
}

/** Writes `<dir>/<name>.txt` with the greeting: temp file + rename, never half-written. */
export const greet = defineTask<GreetArgs, GreetResult>({
  module,
  name: "greet",
  async run({ name, greeting, dir, round }, ctx) {
    if (name.includes("/") || name.includes("\\") || name.startsWith(".")) throw new HelloError("UJR_HELLO_NAME_INVALID", { name });
    const file = join(dir, `${name}.txt`);
    const text = `${greeting}, ${name}! (round ${round})\n`;
    try {
      await mkdir(dir, { recursive: true });
      await writeFile(`${file}.tmp`, text, { signal: ctx.signal });
      await rename(`${file}.tmp`, file);
    } catch (error) {
      throw new HelloError("UJR_HELLO_WRITE_FAILED", { name, file, reason: (error as Error).message }, { cause: error });
    }
    ctx.logger.debug({ name, file, attempt: ctx.attempt }, "greeted");
    return { name, file, text };
  },
});

export interface SummaryArgs {
  file: string;
  round: number;
  greeted: GreetResult[];
  failed: Array<{ name: string; code?: string | undefined; message: string }>;
  /** Optional key to sign the summary with (a secret: registered by the job, never logged). */
  signingKey?: string | undefined;
}

export interface Summary {
  round: number;
  greeted: string[];
  failed: Array<{ name: string; code?: string | undefined; message: string }>;
  signature?: string;
}

/** Writes the summary of a round as JSON, reporting progress as it goes. */
export const summarise = defineTask<SummaryArgs, Summary>({
  module,
  name: "summarise",
  async run({ file, round, greeted, failed, signingKey }, ctx) {
    ctx.progress({ done: 0, total: 1, message: "writing summary" });
    const summary: Summary = { round, greeted: greeted.map((entry) => entry.name).sort(), failed };
    if (signingKey) summary.signature = createHmac("sha256", signingKey).update(JSON.stringify(summary.greeted)).digest("hex");
    await mkdir(dirname(file), { recursive: true });
    await writeFile(`${file}.tmp`, `${JSON.stringify(summary, null, 2)}\n`);
    await rename(`${file}.tmp`, file);
    ctx.progress({ done: 1, total: 1, message: "summary written" });
    return summary;
  },
});
