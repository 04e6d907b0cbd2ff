import { afterEach, describe, expect, it } from "vitest";
import { execFile } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { main } from "../cli.js";

const run = promisify(execFile);
const root = fileURLToPath(new URL("../../../../", import.meta.url));
const bin = join(root, "apps/cli/dist/bin.js");
const tsc = join(root, "node_modules/.bin/tsc");
const vitest = join(root, "node_modules/.bin/vitest");

/** The environment of a fresh shell: without this vitest's own variables. */
function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith("VITEST") && key !== "TEST" && key !== "NODE_ENV"));
}

async function cli(argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { out: (text) => out.push(text), err: (text) => err.push(text) });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

/** Links a workspace package into `dir/node_modules/<name>` (what `npm install` would provide). */
function link(dir: string, name: string, target: string) {
  mkdirSync(join(dir, "node_modules", name, ".."), { recursive: true });
  symlinkSync(target, join(dir, "node_modules", name), "dir");
}

let temp: string | undefined;
afterEach(() => {
  if (temp) rmSync(temp, { recursive: true, force: true });
  temp = undefined;
});

describe("ujr create-plugin", () => {
  it("scaffolds a plugin that builds, passes its tests and runs in `ujr run` without edits", async () => {
    temp = mkdtempSync(join(tmpdir(), "ujr-create-plugin-"));
    const dir = join(temp, "plugin");
    const created = await cli(["create-plugin", "@acme/ujr-plugin-hello", "--dir", dir, "--type", "say-hello"]);
    expect(created.code).toBe(0);
    expect(created.out).toContain("src/tasks.ts");

    const manifest = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
    expect(manifest).toMatchObject({
      name: "@acme/ujr-plugin-hello",
      type: "module",
      keywords: ["ujr-plugin"],
      peerDependencies: { "@ujr/core": "^0.1.0" },
      // vitest 4.1 runs (and reports failures) on Node 20.19+, beside @types/node 20.
      devDependencies: { "@ujr/core": "^0.1.0", vitest: "^4.1.0", "@types/node": "^20.19.0" },
      engines: { node: "^20.19.0 || >=22.12.0" },
      exports: {
        ".": { types: "./dist/index.d.ts", default: "./dist/index.js" },
        "./tasks": { types: "./dist/tasks.d.ts", default: "./dist/tasks.js" },
      },
    });
    expect(readFileSync(join(dir, "tsconfig.json"), "utf8")).not.toContain("extends");
    // The guide is reachable from the installed package and online.
    const readme = readFileSync(join(dir, "README.md"), "utf8");
    expect(readme).toContain("](node_modules/@ujr/core/docs/plugin-authoring.md)");
    expect(readme).toContain("<https://github.com/ujr-dev/ujr/blob/main/docs/plugin-authoring.md>");

    // What `npm install` would give it: @ujr/core (the workspace's), TypeScript, vitest, @types/node.
    link(dir, "@ujr/core", join(root, "packages/core"));
    link(dir, "typescript", join(root, "node_modules/typescript"));
    link(dir, "vitest", join(root, "node_modules/vitest"));
    link(dir, "@types/node", join(root, "node_modules/@types/node"));
    await run(tsc, ["-b"], { cwd: dir, env: cleanEnv() });
    const tested = await run(vitest, ["run"], { cwd: dir, env: { ...cleanEnv(), NO_COLOR: "1" } });
    expect(tested.stdout).toMatch(/3 passed/);

    // Installed in a project outside the workspace, named by package name in its config.
    const project = join(temp, "project");
    const installed = join(project, "node_modules/@acme/ujr-plugin-hello");
    cpSync(dir, installed, { recursive: true, filter: (source) => !source.includes(`${dir}/node_modules`) });
    link(project, "@ujr/core", join(root, "packages/core"));
    const config = join(project, "ujr.config.yaml");
    writeFileSync(config, 'runner:\n  workers: 1\njobs:\n  greet:\n    plugin: "@acme/ujr-plugin-hello"\n    type: say-hello\n    config:\n      message: made by create-plugin\n');
    const ran = await run(process.execPath, [bin, "run", config, "--no-watch"], { cwd: project, env: cleanEnv() });
    expect(ran.stdout).toContain('"reason":"done"');
    expect(readFileSync(join(project, "data/greet/message.txt"), "utf8")).toBe("made by create-plugin\n");
  }, 120_000);

  it("refuses a bad package name and a folder that is not empty (exit 2)", async () => {
    temp = mkdtempSync(join(tmpdir(), "ujr-create-plugin-"));
    expect(await cli(["create-plugin", "My Plugin", "--dir", join(temp, "x")])).toMatchObject({ code: 2, err: expect.stringContaining("not a valid npm package name") });
    writeFileSync(join(temp, "taken.txt"), "");
    expect(await cli(["create-plugin", "my-plugin", "--dir", temp])).toMatchObject({ code: 2, err: expect.stringContaining("is not empty") });
    expect(await cli(["create-plugin"])).toMatchObject({ code: 2, err: expect.stringContaining("Give the plugin's package name") });
  });
});
