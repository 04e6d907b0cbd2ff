// The plugin guide's code samples, compiled and run, so that the guide cannot drift from
// the API: every fenced block marked `file=<path>` in docs/plugin-authoring.md is written
// into a fresh plugin package (outside the workspace, @ujr/core linked as a user's project
// would have it), type-checked with tsc, and its test run with vitest.
import { afterAll, describe, expect, it } from "vitest";
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);
const repo = fileURLToPath(new URL("../../../../", import.meta.url));
const guide = join(repo, "docs", "plugin-authoring.md");
const require = createRequire(import.meta.url);

/** The blocks marked with a file name: ```ts file=src/x.ts */
export function samplesOf(markdown: string): Map<string, string> {
  const files = new Map<string, string>();
  for (const match of markdown.matchAll(/^```\w+[ \t]+file=(\S+)[ \t]*\n([\s\S]*?)^```[ \t]*$/gm)) {
    const [, file, code] = match;
    if (files.has(file!)) throw new Error(`${guide}: two samples claim ${file}`);
    files.set(file!, code!);
  }
  return files;
}

const dir = mkdtempSync(join(tmpdir(), "ujr-guide-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("docs/plugin-authoring.md", () => {
  const samples = samplesOf(readFileSync(guide, "utf8"));

  it("has the samples of one whole plugin: tasks, job, plugin, errors and a test", () => {
    expect([...samples.keys()].sort()).toEqual(["src/errors.ts", "src/index.test.ts", "src/index.ts", "src/job.ts", "src/tasks.ts"]);
  });

  it("its samples type-check and build as a package, and their test passes", async () => {
    for (const [file, code] of samples) {
      mkdirSync(dirname(join(dir, file)), { recursive: true });
      writeFileSync(join(dir, file), code);
    }
    writeFileSync(
      join(dir, "package.json"),
      JSON.stringify({
        name: "@acme/ujr-plugin-hello",
        version: "1.0.0",
        type: "module",
        keywords: ["ujr-plugin"],
        exports: { ".": "./dist/index.js", "./tasks": "./dist/tasks.js", "./package.json": "./package.json" },
      }),
    );
    const compilerOptions = {
      target: "ES2022",
      module: "NodeNext",
      moduleResolution: "NodeNext",
      lib: ["ES2023"],
      types: ["node"],
      strict: true,
      noUncheckedIndexedAccess: true,
      skipLibCheck: true,
      verbatimModuleSyntax: true,
      rootDir: "src",
      outDir: "dist",
    };
    // The build leaves the test out (as a plugin's tsconfig does); the check includes it.
    writeFileSync(join(dir, "tsconfig.json"), JSON.stringify({ compilerOptions, include: ["src"], exclude: ["src/**/*.test.ts"] }));
    writeFileSync(join(dir, "tsconfig.check.json"), JSON.stringify({ compilerOptions: { ...compilerOptions, noEmit: true }, include: ["src"] }));
    // The polyfill vitest 5 needs on Node 20 comes from the repository's shared config, not from the sample.
    writeFileSync(join(dir, "vitest.config.mjs"), `export { default } from ${JSON.stringify(join(repo, "vitest.shared.mjs"))};\n`);
    const modules = join(dir, "node_modules");
    mkdirSync(join(modules, "@ujr"), { recursive: true });
    mkdirSync(join(modules, "@types"), { recursive: true });
    symlinkSync(fileURLToPath(new URL("../..", import.meta.url)), join(modules, "@ujr", "core"), "dir");
    symlinkSync(realpathSync(dirname(require.resolve("vitest/package.json"))), join(modules, "vitest"), "dir");
    symlinkSync(realpathSync(join(repo, "node_modules", "@types", "node")), join(modules, "@types", "node"), "dir");

    const tsc = join(repo, "node_modules", "typescript", "bin", "tsc");
    const check = await run(process.execPath, [tsc, "-p", "tsconfig.check.json"], { cwd: dir }).catch((error: { stdout: string }) => error);
    expect(check.stdout).toBe("");
    await run(process.execPath, [tsc, "-p", "tsconfig.json"], { cwd: dir });
    const vitest = join(dirname(require.resolve("vitest/package.json")), "vitest.mjs");
    const tested = await run(process.execPath, [vitest, "run", "--reporter=verbose"], { cwd: dir, env: { ...process.env, CI: "true", NO_COLOR: "1" } }).catch(
      (error: { stdout: string; stderr: string }) => error,
    );
    const output = `${tested.stdout}\n${tested.stderr}`;
    expect(output).toContain("Tests  3 passed (3)");
    expect(output).toContain("greets everyone again every hour");
  }, 120_000);
});
