import { dirname, join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { boundedNode, mkdirRefusal } from "../__fixtures__/bounded-node.js";
import { skipOutsideCI } from "../__fixtures__/processes.js";
import { projectOutsideWorkspace } from "../__fixtures__/workspace.js";

// runner.dataDir in a kernel filesystem of Linux, whose mkdir refuses even root: /proc
// answers ENOENT (which made Node's recursive mkdir spin for ever at 100% CPU, deaf to
// SIGTERM) and /sys EPERM. Each check runs the built code in a child process: should a
// recursive mkdir come back, the test fails by this timeout and the child is killed,
// rather than the suite hanging.
const BOUND_MS = 20_000;
const built = (file: string): string => new URL(`../../dist/${file}`, import.meta.url).href;
const core = new URL("../../../core/dist/index.js", import.meta.url).href;
const runNode = boundedNode();

let project: ReturnType<typeof projectOutsideWorkspace> | undefined;
afterEach(() => {
  project?.cleanup();
  project = undefined;
});

/** The OS error a plain mkdir of `dataDir` gets here; skipped off Linux (a failure under CI=true). */
function refusalOf(dataDir: string, skip: (note: string) => never): string {
  if (process.platform !== "linux") return skipOutsideCI(`${dirname(dataDir)} is a kernel filesystem of Linux, not of ${process.platform}`, skip);
  return mkdirRefusal(dataDir) ?? skipOutsideCI(`this system let ${dataDir} be made: nothing refuses it here`, skip);
}

/** A project whose config keeps its state in `dataDir`, with one job of the fixture plugin. */
function configIn(dataDir: string): string {
  project = projectOutsideWorkspace();
  return project.write(
    "ujr.config.yaml",
    `runner:\n  dataDir: ${dataDir}\n  workers: 1\n  isolation: thread\njobs:\n  a:\n    plugin: "@acme/ujr-plugin-fixture"\n    type: count\n    config: { count: 1 }\n`,
  );
}

/** The code and message of what `body` (a script's lines, ending in `throw` or `return`) threw, run in a child process. */
async function thrownInChild(body: string): Promise<{ code?: string; message?: string; threw: boolean }> {
  const script = `
    const report = (result) => { console.log(JSON.stringify(result)); process.exit(0); };
    try { const value = await (async () => { ${body} })(); report({ threw: false, value: String(value) }); }
    catch (error) { report({ threw: true, code: error.code, message: error.message }); }`;
  return JSON.parse(await runNode(script)) as { code?: string; message?: string; threw: boolean };
}

describe.each(["/proc/ujr-data", "/sys/ujr-data"])("runner.dataDir %s (a kernel filesystem)", (dataDir) => {
  const parent = dirname(dataDir);

  it(
    "the check of `ujr validate` and `ujr run` (dataDirProblem): UJR_DATA_DIR_UNWRITABLE naming the folder, the OS error and the fix",
    async (ctx) => {
      const refusal = refusalOf(dataDir, ctx.skip);
      const result = await thrownInChild(`
        const { dataDirProblem } = await import(${JSON.stringify(built("config/data-dir.js"))});
        const problem = dataDirProblem(${JSON.stringify(dataDir)}, "ujr.config.yaml");
        if (problem) throw problem;
        return "no problem";`);
      expect(result).toMatchObject({ threw: true, code: "UJR_DATA_DIR_UNWRITABLE" });
      expect(result.message).toContain(`runner.dataDir ${dataDir} (from ujr.config.yaml) cannot be used: ${parent}, where it would be created,`);
      expect(result.message).toContain(`(${refusal})`);
      expect(result.message).toContain("set runner.dataDir to a folder on a writable filesystem");
    },
    BOUND_MS,
  );

  it(
    "a run (ConfigFileRunner.run): stops with UJR_DATA_DIR_UNWRITABLE before any job is made",
    async (ctx) => {
      const refusal = refusalOf(dataDir, ctx.skip);
      const file = configIn(dataDir);
      const result = await thrownInChild(`
        const { ConfigFileRunner } = await import(${JSON.stringify(built("index.js"))});
        const runner = await ConfigFileRunner.fromFile(${JSON.stringify(file)}, { handleSignals: false, watch: false, logLevel: "silent" });
        return JSON.stringify(await runner.run());`);
      expect(result).toMatchObject({ threw: true, code: "UJR_DATA_DIR_UNWRITABLE" });
      expect(result.message).toContain(`runner.dataDir ${dataDir} (from ${file}) cannot be used: ${parent}, where it would be created,`);
      expect(result.message).toContain(`(${refusal})`);
    },
    BOUND_MS,
  );

  it(
    "a job added by a hot reload (createJobs): UJR_JOB_CREATE_FAILED naming its state folder and the OS error",
    async (ctx) => {
      const refusal = refusalOf(dataDir, ctx.skip);
      const file = configIn(dataDir);
      const result = await thrownInChild(`
        const { createJobs, loadConfigFile } = await import(${JSON.stringify(built("index.js"))});
        const { createLogger } = await import(${JSON.stringify(core)});
        const config = await loadConfigFile(${JSON.stringify(file)});
        const { failures } = await createJobs(config.jobs, config, createLogger({ level: "silent" }));
        if (failures[0]) throw failures[0];
        return "created";`);
      expect(result).toMatchObject({ threw: true, code: "UJR_JOB_CREATE_FAILED" });
      expect(result.message).toContain(`Job "a" could not be created: its state folder ${join(dataDir, "a")} cannot be made: ${parent} `);
      expect(result.message).toContain(`(${refusal})`);
    },
    BOUND_MS,
  );
});
