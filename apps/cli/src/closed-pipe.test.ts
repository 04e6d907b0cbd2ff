// `ujr plugins | head -2`: the reader of ujr's output goes away while ujr still writes.
// These run the built CLI with a real pipe and close the reading end after one line.
import { afterEach, describe, expect, it } from "vitest";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { projectOutsideWorkspace } from "../../../packages/runner-local/src/__fixtures__/workspace.js";

const bin = fileURLToPath(new URL("../dist/bin.js", import.meta.url));
let project: ReturnType<typeof projectOutsideWorkspace> | undefined;
afterEach(() => {
  project?.cleanup();
  project = undefined;
});

/**
 * A plugin with so many job types that `ujr plugins` prints over a megabyte (line by line)
 * and `ujr schema` one JSON text as big: far more than a pipe holds (64 KiB on Linux), so
 * ujr is still writing when the reader has gone, whatever the timing.
 */
function installWidePlugin(write: (name: string, text: string) => string): void {
  const dir = "node_modules/@acme/ujr-plugin-wide";
  write(`${dir}/package.json`, JSON.stringify({ name: "@acme/ujr-plugin-wide", version: "1.0.0", type: "module", keywords: ["ujr-plugin"], exports: { ".": "./index.js" } }));
  write(
    `${dir}/index.js`,
    `import { definePlugin, defineJobType, z } from "@ujr/core";
const config = z.object({ count: z.number().int().min(1).describe("how many lines to write"), label: z.string().default("line").describe("the label of each line") });
const jobs = {};
for (let i = 0; i < 3000; i++) jobs["t" + i] = defineJobType({ description: "job type number " + i + " of a plugin that has very many", config, create: (c, ctx) => ({ name: ctx.name, getRunnableTasks: () => [] }) });
export default definePlugin({ name: "@acme/ujr-plugin-wide", apiVersion: 1, jobs });
`,
  );
}

/** Runs `ujr <argv>`, reads `stream` up to its first line, then closes it as `| head -1` does. */
function firstLineThenClose(argv: string[], cwd: string, stream: "stdout" | "stderr" = "stdout") {
  const child = spawn(process.execPath, [bin, ...argv], { cwd, stdio: ["ignore", "pipe", "pipe"] });
  const other = stream === "stdout" ? child.stderr : child.stdout;
  const reader = child[stream];
  let otherText = "";
  other.on("data", (chunk) => (otherText += chunk));
  let seen = "";
  let firstLine: string | undefined;
  reader.on("data", (chunk) => {
    seen += chunk;
    if (firstLine === undefined && seen.includes("\n")) {
      firstLine = seen.slice(0, seen.indexOf("\n"));
      reader.destroy();
    }
  });
  return new Promise<{ code: number | null; signal: NodeJS.Signals | null; firstLine: string | undefined; otherText: string }>((resolve) =>
    child.on("close", (code, signal) => resolve({ code, signal, firstLine, otherText })),
  );
}

describe("when the reader of ujr's output goes away (EPIPE), ujr stops writing quietly", () => {
  it("ujr plugins | head -1: no stack trace, no error line, the command's own exit code", async () => {
    project = projectOutsideWorkspace();
    installWidePlugin(project.write);
    const result = await firstLineThenClose(["plugins"], project.dir);
    expect(result.firstLine).toMatch(/^@acme\/ujr-plugin-fixture@1\.0\.0 \(plugin API v1\)/);
    expect(result.otherText).toBe("");
    expect(result).toMatchObject({ code: 0, signal: null });
  });

  it("ujr schema | head -1 (one large write): the same", async () => {
    project = projectOutsideWorkspace();
    installWidePlugin(project.write);
    const result = await firstLineThenClose(["schema"], project.dir);
    expect(result.firstLine).toBe("{");
    expect(result.otherText).toBe("");
    expect(result).toMatchObject({ code: 0, signal: null });
  });

  it("stderr closed early (ujr plugins config 2>&1 | head -1): the same, and the exit code still says a plugin failed", async () => {
    project = projectOutsideWorkspace();
    // Every job names a plugin file that is not there: one `problem:` line each on stderr.
    const jobs = Array.from({ length: 3000 }, (_, i) => `  j${i}:\n    plugin: ./missing-${i}.js\n    type: t\n`).join("");
    const file = project.write("ujr.config.yaml", `jobs:\n${jobs}`);
    const result = await firstLineThenClose(["plugins", file], project.dir, "stderr");
    // before: the EPIPE's stack went to the closed stderr, unseen, and the exit code was 1
    expect(result).toMatchObject({ code: 2, signal: null });
    expect(result.firstLine).toMatch(/^problem: \.\/missing-0\.js: Plugin "\.\/missing-0\.js" was not found/);
    // no plugin could be loaded: stdout says nothing more (the problems say why)
    expect(result.otherText).toBe("");
  });
});
