// The README says what the commands say: their options and the exit codes. Each side is
// read as shipped (the README at the repository's root, the help texts from dist).
import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { helpText } from "./cli.js";
import { runHelp } from "./commands/run-config.js";
import { validateHelp } from "./commands/validate.js";
import { pluginsHelp } from "./commands/plugins.js";
import { statusHelp } from "./commands/status.js";
import { historyHelp } from "./commands/history.js";
import { demoHelp } from "./commands/demo.js";
import { workerHelp } from "./commands/worker.js";
import { schemaHelp } from "./commands/schema.js";
import { createPluginHelp } from "./commands/create-plugin.js";

const readme = readFileSync(fileURLToPath(new URL("../../../README.md", import.meta.url)), "utf8");

/** The body of a README section, up to the next heading of the same or a higher level. */
function section(heading: string): string {
  const start = readme.indexOf(`\n${heading}\n`);
  expect(start, `README has no "${heading}"`).toBeGreaterThan(-1);
  const level = heading.match(/^#+/)![0].length;
  const rest = readme.slice(start + heading.length + 2);
  const end = rest.search(new RegExp(`\\n#{1,${level}} `));
  return end === -1 ? rest : rest.slice(0, end);
}

/** Markdown cell text as a reader sees it: no code ticks or bold, single spaces. */
const plain = (text: string) => text.replace(/[`*]/g, "").replace(/\s+/g, " ").trim();
/** The `--options` a text names, sorted and without repeats. */
const options = (text: string) => [...new Set(text.match(/--[a-z][a-z-]*/g) ?? [])].sort();

describe("README and help agree", () => {
  it("the command table lists each command's options as its help does", () => {
    const table = section("## The `ujr` command");
    const helps: Record<string, string> = {
      run: runHelp,
      validate: validateHelp,
      plugins: pluginsHelp,
      status: statusHelp,
      history: historyHelp,
      demo: demoHelp,
      worker: workerHelp,
      schema: schemaHelp,
      "create-plugin": createPluginHelp,
    };
    const rows = Object.fromEntries(
      Object.keys(helps).map((command) => {
        const row = table.split("\n").find((line) => line.startsWith(`| \`ujr ${command} `) || line.startsWith(`| \`ujr ${command}\``));
        return [command, row === undefined ? "(no row)" : options(row)];
      }),
    );
    expect(rows).toEqual(Object.fromEntries(Object.entries(helps).map(([command, help]) => [command, options(help)])));
  });

  it("the exit codes of `ujr help` are the README's table, word for word", async () => {
    const help = (await helpText()).split("\nExit codes:\n")[1]!;
    // "  0    every job ..." with continuation lines indented further.
    const fromHelp = new Map<string, string>();
    let code = "";
    for (const line of help.split("\n")) {
      const start = /^ {2}(\d+)\s+(.*)$/.exec(line);
      if (start) fromHelp.set((code = start[1]!), start[2]!);
      else fromHelp.set(code, `${fromHelp.get(code)} ${line.trim()}`);
    }
    const fromReadme = new Map<string, string>();
    for (const line of section("### Exit codes").split("\n")) {
      const row = /^\| \*\*(\d+)\*\* \| (.*) \|$/.exec(line);
      if (row) fromReadme.set(row[1]!, plain(row[2]!));
    }
    expect([...fromHelp.keys()]).toEqual([...fromReadme.keys()]);
    // The README may say more after what the help says, never something else.
    for (const [exit, text] of fromHelp) expect(fromReadme.get(exit)!.startsWith(plain(text)), `exit code ${exit}:\n  help:   ${plain(text)}\n  README: ${fromReadme.get(exit)}`).toBe(true);
  });
});
