import { afterEach, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { mkdtempSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { isUjrError } from "@ujr/core";
import { findPackage, importOptional } from "./optional-package.js";
import { installCliAlone } from "./__fixtures__/cli-alone.js";
import { projectOutsideWorkspace } from "../../../packages/runner-local/src/__fixtures__/workspace.js";

let temp: string | undefined;
let project: ReturnType<typeof projectOutsideWorkspace> | undefined;
afterEach(() => {
  if (temp) rmSync(temp, { recursive: true, force: true });
  temp = undefined;
  project?.cleanup();
  project = undefined;
});

describe("optional packages (ujr demo, ujr worker)", () => {
  it("are found beside the CLI when the working folder lacks them", () => {
    temp = realpathSync(mkdtempSync(join(tmpdir(), "ujr-optional-")));
    const url = findPackage("@ujr/demo", [temp]);
    expect(url).toBeDefined();
    expect(fileURLToPath(url!)).toMatch(/demo[/\\]dist[/\\]index\.js$/);
  });

  it("when absent, say which package, where they looked and the command that installs it (exit 2)", async () => {
    temp = realpathSync(mkdtempSync(join(tmpdir(), "ujr-optional-")));
    const missing = { name: "@ujr/not-installed-anywhere", purpose: "a test's missing package" };
    const error = await importOptional(missing, "demo", [temp]).catch((caught: unknown) => caught);
    expect(isUjrError(error, "UJR_CLI_PACKAGE_MISSING")).toBe(true);
    expect((error as { exitCode: number }).exitCode).toBe(2);
    const message = (error as Error).message;
    expect(message).toContain("`ujr demo` needs the package @ujr/not-installed-anywhere (a test's missing package), which is not installed.");
    expect(message).toContain(`looked in:  ${join(temp, "node_modules")}, `);
    expect(message).toContain(`install it: cd ${temp} && npm install @ujr/not-installed-anywhere`);
    expect(message).toContain("npm install --global @ujr/not-installed-anywhere");

    // The install command follows the folder's package manager.
    writeFileSync(join(temp, "pnpm-lock.yaml"), "lockfileVersion: '9.0'\n");
    const pnpm = await importOptional(missing, "worker", [temp]).catch((caught: unknown) => caught);
    expect((pnpm as Error).message).toContain(`install it: cd ${temp} && pnpm add @ujr/not-installed-anywhere`);
  });
});

describe("ujr validate of a config that needs an optional package", () => {
  it("without @ujr/executor-bullmq, validate fails as run does: UJR_CLI_PACKAGE_MISSING, the install command, exit 2", () => {
    project = projectOutsideWorkspace();
    const bin = installCliAlone(project.dir);
    const dir = project.dir;
    // Port 1: nothing listens there, so a check that connected would fail differently.
    project.write("queue/ujr.config.yaml", 'runner:\n  executor:\n    kind: bullmq\n    redis: redis://127.0.0.1:1\njobs:\n  a:\n    plugin: "@acme/ujr-plugin-fixture"\n    type: count\n    config: { count: 1 }\n');
    const ujr = (command: string) => spawnSync(process.execPath, [bin, command, "queue/ujr.config.yaml", ...(command === "run" ? ["--no-watch"] : [])], { cwd: dir, encoding: "utf8" });
    const validate = ujr("validate");
    expect(validate.status, validate.stdout).toBe(2);
    expect(validate.stdout).not.toContain("valid");
    expect(validate.stderr).toContain("ujr: UJR_CLI_PACKAGE_MISSING\n`ujr run` needs the package @ujr/executor-bullmq (the distributed executor on BullMQ and Redis), which is not installed.");
    expect(validate.stderr).toContain(`install it: cd ${join(dir, "queue")} && npm install @ujr/executor-bullmq`);
    // What run says, word for word.
    const run = ujr("run");
    expect(run.status).toBe(2);
    expect(validate.stderr).toBe(run.stderr);
  });

  it("with @ujr/executor-bullmq found (beside ujr here), validate passes without contacting Redis", () => {
    project = projectOutsideWorkspace();
    const file = project.write("ujr.config.yaml", 'runner:\n  executor:\n    kind: bullmq\n    redis: redis://127.0.0.1:1\njobs:\n  a:\n    plugin: "@acme/ujr-plugin-fixture"\n    type: count\n    config: { count: 1 }\n');
    const validate = spawnSync(process.execPath, [fileURLToPath(new URL("../dist/bin.js", import.meta.url)), "validate", file], { cwd: project.dir, encoding: "utf8" });
    expect(validate.status, validate.stderr).toBe(0);
    expect(validate.stdout).toContain("valid (1 job)");
  });
});
