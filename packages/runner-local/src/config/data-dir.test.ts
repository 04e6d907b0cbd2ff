import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createLogger, defineJobType, definePlugin, z } from "@ujr/core";
import { composeJobs } from "../compose.js";
import { dataDirProblem } from "./data-dir.js";

const made: string[] = [];
afterEach(() => {
  for (const dir of made.splice(0).reverse()) {
    chmodSync(dir, 0o755);
    rmSync(dir, { recursive: true, force: true });
  }
});
const tempDir = (): string => {
  const dir = mkdtempSync(join(tmpdir(), "ujr-data-dir-"));
  made.push(dir);
  return dir;
};

/**
 * dataDirProblem(dataDir) as another user than root, who may write any folder: the
 * refusal checked here happens only to an ordinary user (as the runner's user usually is).
 */
function problemAsOrdinaryUser(dataDir: string): { code?: string; message?: string } | null {
  if (process.getuid?.() !== 0) {
    const problem = dataDirProblem(dataDir) as (Error & { code?: string }) | undefined;
    return problem ? { code: problem.code, message: problem.message } : null;
  }
  // root: the same check in a child process run as nobody (util-linux's setpriv), from the built module
  const built = new URL("../../dist/config/data-dir.js", import.meta.url).href;
  const script = `const { dataDirProblem } = await import(${JSON.stringify(built)}); const p = dataDirProblem(${JSON.stringify(dataDir)}); console.log(JSON.stringify(p ? { code: p.code, message: p.message } : null));`;
  const child = spawnSync("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", process.execPath, "--input-type=module", "-e", script], { encoding: "utf8" });
  if (child.error || child.status !== 0) throw new Error(`could not run the check as nobody (${built}): ${child.error?.message ?? child.stderr}`);
  return JSON.parse(child.stdout) as { code?: string; message?: string } | null;
}

describe("runner.dataDir that cannot be used", () => {
  it("a folder that exists or can be made is fine, and checking it leaves nothing behind (`ujr validate` makes no folder)", () => {
    const dir = tempDir();
    expect(dataDirProblem(dir)).toBeUndefined();
    expect(dataDirProblem(join(dir, "data", "deeper"))).toBeUndefined();
    expect(readdirSync(dir)).toEqual([]);
  });

  it("jobs made for a run (composeJobs) get it made, with every folder missing above it, and their state folders in it", async () => {
    const dir = tempDir();
    const plugin = definePlugin({ name: "inline", apiVersion: 1, jobs: { t: defineJobType({ config: z.object({}), create: (_config, ctx) => ({ name: ctx.name, getRunnableTasks: () => [] }) }) } });
    const composed = await composeJobs({ jobs: { a: { plugin, type: "t" } }, runner: { dataDir: "./data/deeper" }, baseDir: dir }, createLogger({ level: "silent" }));
    expect(composed.dataDir).toBe(join(dir, "data", "deeper"));
    expect(readdirSync(composed.dataDir)).toEqual(["a"]);
  });

  it("a file where the folder would be: UJR_DATA_DIR_UNWRITABLE naming it", () => {
    const dir = tempDir();
    writeFileSync(join(dir, "data"), "");
    expect(dataDirProblem(join(dir, "data", "state"), "ujr.config.yaml")).toMatchObject({
      code: "UJR_DATA_DIR_UNWRITABLE",
      message: expect.stringContaining(`runner.dataDir ${join(dir, "data", "state")} (from ujr.config.yaml) cannot be used: ${join(dir, "data")} is a file, not a folder.`),
    });
  });

  it("a folder this user may not write, or under one: UJR_DATA_DIR_UNWRITABLE with the cause and the fix, not the ENOENT of a recursive mkdir", () => {
    const dir = tempDir();
    const locked = join(dir, "locked");
    mkdirSync(locked);
    chmodSync(dir, 0o755);
    chmodSync(locked, 0o555);
    made.push(locked);
    expect(problemAsOrdinaryUser(locked)).toMatchObject({
      code: "UJR_DATA_DIR_UNWRITABLE",
      message: expect.stringMatching(/cannot be used: it may not be written by this user \(EACCES: permission denied, mkdir '.*\/locked\/\.ujr-write-check-\d+'\)\. The runner keeps each job's state and the run history there: set runner\.dataDir to a folder on a writable filesystem/),
    });
    expect(problemAsOrdinaryUser(join(locked, "data"))).toMatchObject({
      code: "UJR_DATA_DIR_UNWRITABLE",
      message: expect.stringContaining(`cannot be used: ${locked}, where it would be created, may not be written by this user (EACCES: permission denied, mkdir '${join(locked, "data")}').`),
    });
  });
});
