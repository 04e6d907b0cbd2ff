import { afterEach, describe, expect, it, vi } from "vitest";
import { cli } from "./__fixtures__/in-process-cli.js";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { projectOutsideWorkspace } from "../../../packages/runner-local/src/__fixtures__/workspace.js";
import { skipOutsideCI } from "../../../packages/runner-local/src/__fixtures__/processes.js";

const bin = fileURLToPath(new URL("../dist/bin.js", import.meta.url));
let project: ReturnType<typeof projectOutsideWorkspace>;
afterEach(() => project?.cleanup());


function spawnCli(argv: string[], env: NodeJS.ProcessEnv = {}) {
  const child = spawn(process.execPath, [bin, ...argv], { cwd: project.dir, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk) => (stdout += chunk));
  child.stderr.on("data", (chunk) => (stderr += chunk));
  const exited = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.on("exit", (code) => resolve({ code, stdout, stderr })),
  );
  return { child, exited, output: () => stdout };
}

const countJob = (name: string, config: string) => `  ${name}:\n    plugin: "@acme/ujr-plugin-fixture"\n    type: count\n    config: ${config}\n`;

describe("ujr: bad input gets a clear error, exit code 2, never a stack trace", () => {
  const cases: Array<[string, string | undefined, RegExp]> = [
    ["missing config file", undefined, /UJR_CONFIG_NOT_FOUND\nConfig file not found: .*ujr\.config\.yaml\. Create it/],
    ["YAML syntax error", "jobs:\n  a: [oops\n", /UJR_CONFIG_YAML\n.*ujr\.config\.yaml:\d+:\d+: YAML syntax error/],
    ["unknown key", "runner:\n  wrokers: 2\n", /ujr\.config\.yaml:2:3 runner\.wrokers: unknown key "wrokers"\. Did you mean "workers"\?/],
    ["wrong type", "runner:\n  workers: lots\n", /ujr\.config\.yaml:2:12 runner\.workers: Invalid input: expected number, received string/],
    ["unknown plugin", `jobs:\n  a:\n    plugin: "@acme/nope"\n    type: count\n`, /Plugin "@acme\/nope" was not found\.[\s\S]*install it there: cd .* && npm install @acme\/nope/],
    ["plugin name one typo from an installed one", `jobs:\n  a:\n    plugin: "@acme/ujr-plugin-fixtur"\n    type: count\n`, /Plugin "@acme\/ujr-plugin-fixtur" was not found\.[\s\S]*did you mean "@acme\/ujr-plugin-fixture" \(installed in .*node_modules\)\? Fix the name in .*ujr\.config\.yaml\.$/],
    [
      "plugin name one typo from a ujr plugin that is not installed",
      `jobs:\n  a:\n    plugin: "@ujr/plugin-tweet-tidy"\n    type: tidy\n`,
      /Plugin "@ujr\/plugin-tweet-tidy" was not found\.[\s\S]*did you mean "@ujr\/plugin-tweet-tidier" \(a ujr plugin, not installed here\)\? Fix the name in .*ujr\.config\.yaml, then install it: cd .* && npm install @ujr\/plugin-tweet-tidier$/,
    ],
    [
      "runner.dataDir under a file",
      `runner:\n  dataDir: ./a-file/data\njobs:\n${countJob("fine", "{ count: 1 }")}`,
      /UJR_DATA_DIR_UNWRITABLE\nrunner\.dataDir .*a-file\/data \(from .*ujr\.config\.yaml\) cannot be used: .*a-file is a file, not a folder\. The runner keeps each job's state/,
    ],
    ["a job whose create() throws", `jobs:\n${countJob("fine", "{ count: 1 }")}  b:\n    plugin: ./create-throws.js\n    type: t\n`, /UJR_JOB_CREATE_FAILED\nJob "b" could not be created: the database folder \/nonexistent is not writable$/],
    ["plugin that is not a ujr plugin", `jobs:\n  a:\n    plugin: ./not-a-plugin.js\n    type: count\n`, /is not a ujr plugin: its default export must be made with definePlugin\(\)/],
    ["apiVersion mismatch", `jobs:\n  a:\n    plugin: ./future.js\n    type: count\n`, /built for ujr plugin API v2, but this runner speaks v1/],
    ["unknown job type", `jobs:\n  a:\n    plugin: "@acme/ujr-plugin-fixture"\n    type: tally\n`, /has no job type "tally" \(at jobs\.a\.type\)\. Known job types: count\./],
    ["missing environment variable", `jobs:\n${countJob("a", '{ count: 1, label: "${UJR_TEST_UNSET_VAR}" }')}`, /jobs\.a\.config\.label \[UJR_CONFIG_ENV_MISSING\]: environment variable UJR_TEST_UNSET_VAR is not set/],
  ];
  for (const [name, yaml, expected] of cases) {
    it(name, async () => {
      project = projectOutsideWorkspace();
      project.write("not-a-plugin.js", "export default { name: 'x' };\n");
      project.write("a-file", "");
      project.write("future.js", 'import { definePlugin } from "@ujr/core";\nexport default definePlugin({ name: "future", apiVersion: 2, jobs: {} });\n');
      project.write(
        "create-throws.js",
        'import { definePlugin, defineJobType, z } from "@ujr/core";\nexport default definePlugin({ name: "create-throws", apiVersion: 1, jobs: { t: defineJobType({ config: z.object({}), create: () => { throw new Error("the database folder /nonexistent is not writable"); } }) } });\n',
      );
      const file = yaml === undefined ? join(project.dir, "ujr.config.yaml") : project.write("ujr.config.yaml", yaml);
      for (const command of ["validate", "run"]) {
        const result = await cli([command, file]);
        expect(result.code).toBe(2);
        expect(result.err).toMatch(expected);
        expect(result.err).not.toMatch(/\n\s+at /);
      }
      // Bad input is found before any task runs: no job made its state or wrote anything.
      expect(existsSync(join(project.dir, "data", "fine", "lines.txt"))).toBe(false);
    });
  }

  it("every flag is checked: a bad number is refused with its name, exit 2, before anything runs", async () => {
    project = projectOutsideWorkspace();
    const file = project.write("ujr.config.yaml", `jobs:\n${countJob("a", "{ count: 1 }")}${countJob("off", "{ count: 1 }")}    enabled: false\n`);
    const cases: Array<[string[], string]> = [
      [["run", file, "--workers", "abc"], '--workers must be a positive whole number (the pool size) (got "abc")'],
      [["run", file, "--workers", "0"], '--workers must be a positive whole number (the pool size) (got "0")'],
      [["run", file, "--workers", "1.5"], '--workers must be a positive whole number (the pool size) (got "1.5")'],
      [["run", file, "--status-port", "http"], '--status-port must be a port number from 0 to 65535 (got "http")'],
      [["run", file, "--status-port", "70000"], '--status-port must be a port number from 0 to 65535 (got "70000")'],
      [["run", file, "--log-level", "loud"], '--log-level must be one of fatal, error, warn, info, debug, trace, silent (got "loud")'],
      [["run", file, "--job", "nope"], 'job "nope" is not in this file (its jobs: a, off).'],
      [["run", file, "--job", "b"], 'job "b" is not in this file (its jobs: a, off). Did you mean "a"?'],
      [["run", file, "--job", "off"], 'job "off" is disabled in this file (enabled: false); enable it to run it'],
      [["run", file, "other.yaml"], 'Unexpected argument(s) "other.yaml". Usage: ujr run [config] [options]'],
      [["validate", file, "extra"], 'Unexpected argument(s) "extra". Usage: ujr validate [config] [--no-create]'],
      [["plugins", file, "extra"], 'Unexpected argument(s) "extra". Usage: ujr plugins [config] [--json]'],
      [["schema", file, "--out", ""], "--out needs a file name"],
      [["status", "--timeout", "soon"], '--timeout must be a positive whole number of milliseconds (got "soon")'],
    ];
    for (const [argv, message] of cases) {
      const result = await cli(argv);
      expect({ argv, code: result.code }).toEqual({ argv, code: 2 });
      expect(result.err).toContain(message);
    }
    expect(existsSync(join(project.dir, "data"))).toBe(false);
  });

  it("ujr run --workers abc exits 2 at once instead of hanging (process)", async () => {
    project = projectOutsideWorkspace();
    project.write("ujr.config.yaml", `jobs:\n${countJob("a", "{ count: 1 }")}`);
    const { code, stderr } = await spawnCli(["run", "--workers", "abc"]).exited;
    expect(code).toBe(2);
    expect(stderr).toBe('ujr: UJR_CLI_USAGE\n--workers must be a positive whole number (the pool size) (got "abc")\n');
  });

  it("unknown command and unknown option", async () => {
    expect(await cli(["frobnicate"])).toMatchObject({ code: 2, err: expect.stringContaining('Unknown command "frobnicate"') });
    expect(await cli(["run", "--colour"])).toMatchObject({ code: 2, err: expect.stringContaining("Unknown option '--colour'") });
  });
});

describe("the shipped example configs", () => {
  it("examples/twitter-pipeline validates once its environment variables are set, and names them when not", async () => {
    const file = fileURLToPath(new URL("../../../examples/twitter-pipeline/ujr.config.yaml", import.meta.url));
    const saved = { token: process.env.X_BEARER_TOKEN, hook: process.env.SLACK_WEBHOOK_URL };
    try {
      delete process.env.X_BEARER_TOKEN;
      delete process.env.SLACK_WEBHOOK_URL;
      const missing = await cli(["validate", file]);
      expect(missing.code).toBe(2);
      expect(missing.err).toContain("has 2 problem(s)");
      expect(missing.err).toContain("jobs.auspol.config.bearerToken [UJR_CONFIG_ENV_MISSING]: environment variable X_BEARER_TOKEN is not set");
      process.env.X_BEARER_TOKEN = "example-token";
      process.env.SLACK_WEBHOOK_URL = "https://hooks.example.org/services/secret";
      expect(await cli(["validate", file])).toMatchObject({ code: 0, out: expect.stringContaining("valid (3 jobs)") });
    } finally {
      for (const [key, value] of [["X_BEARER_TOKEN", saved.token], ["SLACK_WEBHOOK_URL", saved.hook]] as const) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
    }
  });
});

describe("ujr validate and plugins", () => {
  it("validate lists the jobs of a good file, after creating each job in a temporary state folder", async () => {
    project = projectOutsideWorkspace();
    const file = project.write("ujr.config.yaml", `jobs:\n${countJob("a", "{ count: 2 }")}`);
    expect(await cli(["validate", file])).toMatchObject({ code: 0, out: expect.stringContaining("valid (1 job)\n  a: @acme/ujr-plugin-fixture count") });
    // Nothing is written where the run keeps its state.
    expect(existsSync(join(project.dir, "data"))).toBe(false);
  });

  it("validate catches a task module the plugin's exports hide, even when the job type does not declare its tasks", async () => {
    // A process of its own: under vitest the plugin and the runner would get two copies of @ujr/core.
    project = projectOutsideWorkspace();
    const pkg = "node_modules/@acme/undeclared";
    project.write(`${pkg}/package.json`, JSON.stringify({ name: "@acme/undeclared", type: "module", exports: { ".": "./index.js" } }));
    project.write(`${pkg}/tasks.js`, 'import { defineTask } from "@ujr/core";\nexport const work = defineTask({ module: "@acme/undeclared/tasks", name: "work", run: () => 1 });\n');
    project.write(
      `${pkg}/index.js`,
      'import { definePlugin, defineJobType, z } from "@ujr/core";\nimport { work } from "./tasks.js";\nexport default definePlugin({ name: "@acme/undeclared", apiVersion: 1, jobs: { go: defineJobType({ config: z.object({}), create: (c, ctx) => ({ name: ctx.name, getRunnableTasks: () => [work.with({})] }) }) } });\n',
    );
    project.write("ujr.config.yaml", `jobs:\n  a:\n    plugin: "@acme/undeclared"\n    type: go\n`);
    for (const command of ["validate", "run"]) {
      const { code, stderr } = await spawnCli([command]).exited;
      expect(code).toBe(2);
      expect(stderr).toContain(
        `ujr.config.yaml:4:11 jobs.a.type [UJR_TASK_MODULE_NOT_EXPORTED]: Task module "@acme/undeclared/tasks" cannot be imported: package "@acme/undeclared" (${project.dir}/${pkg}/package.json) is installed, but its "exports" has no "./tasks" (ERR_PACKAGE_PATH_NOT_EXPORTED).`,
      );
    }
  });

  it("validate --no-create skips create()", async () => {
    project = projectOutsideWorkspace();
    project.write(
      "create-throws.js",
      'import { definePlugin, defineJobType, z } from "@ujr/core";\nexport default definePlugin({ name: "create-throws", apiVersion: 1, jobs: { t: defineJobType({ config: z.object({}), create: () => { throw new Error("no"); } }) } });\n',
    );
    const file = project.write("ujr.config.yaml", `jobs:\n  b:\n    plugin: ./create-throws.js\n    type: t\n`);
    expect(await cli(["validate", file, "--no-create"])).toMatchObject({ code: 0 });
    expect(await cli(["validate", file])).toMatchObject({ code: 2, err: expect.stringContaining('Job "b" could not be created: no') });
  });

  it("plugins shows a config's plugins with each job type's config as JSON Schema", async () => {
    project = projectOutsideWorkspace();
    const file = project.write("ujr.config.yaml", `jobs:\n${countJob("a", "{ count: 2 }")}`);
    const result = await cli(["plugins", file, "--json"]);
    expect(result.code).toBe(0);
    const parsed = JSON.parse(result.out) as { plugins: Array<{ name: string; jobTypes: Record<string, { config: { properties: Record<string, unknown>; required?: string[] } }> }> };
    expect(parsed.plugins[0]!.name).toBe("@acme/ujr-plugin-fixture");
    expect(parsed.plugins[0]!.jobTypes.count!.config.properties).toHaveProperty("count");
    expect(parsed.plugins[0]!.jobTypes.count!.config.required).toContain("count");
  });

  it("plugins of a config that names no plugin says so, not that none is installed", async () => {
    project = projectOutsideWorkspace();
    const file = project.write("ujr.config.yaml", "jobs: {}\n");
    expect(await cli(["plugins", file])).toEqual({ code: 0, out: `${file} names no plugins: none of its jobs has a "plugin".`, err: "" });
  });

  it("plugins without a config finds installed packages with the ujr-plugin keyword", async () => {
    project = projectOutsideWorkspace();
    const { exited } = spawnCli(["plugins"]);
    const { code, stdout } = await exited;
    expect(code).toBe(0);
    expect(stdout).toContain("@acme/ujr-plugin-fixture@1.0.0 (plugin API v1)");
    expect(stdout).toContain('job type "count": Appends `count` labelled lines to a file in the job\'s state folder.');
    expect(stdout).toContain(
      [
        "    key      type          default  required  description",
        "    count    integer >= 1  -        yes",
        '    label    string        "line"   no',
        "    forever  boolean       false    no",
        "    delayMs  integer >= 0  0        no",
      ].join("\n"),
    );
  });
});

describe("ujr plugins beside a config", () => {
  it("names the plugins ./ujr.config.yaml uses that the listing of installed packages does not show", async () => {
    project = projectOutsideWorkspace();
    project.write("ujr.config.yaml", `jobs:\n${countJob("a", "{ count: 1 }")}  b:\n    plugin: ./my-plugin.js\n    type: go\n`);
    const { code, stdout } = await spawnCli(["plugins"]).exited;
    expect(code).toBe(0);
    expect(stdout).toContain("@acme/ujr-plugin-fixture@1.0.0 (plugin API v1)");
    expect(stdout).toContain("./ujr.config.yaml also names plugins not listed here (`ujr plugins ujr.config.yaml` shows the plugins it names):\n  ./my-plugin.js: a file, not an installed package\n");
    expect(stdout).not.toContain("No ujr plugins");
  });
});

describe("ujr run", () => {
  it("runs a config to completion, logs JSON lines without a TTY, and keeps secrets out of them", async () => {
    project = projectOutsideWorkspace();
    project.write("ujr.config.yaml", `runner:\n  workers: 2\njobs:\n${countJob("a", '{ count: 3, label: "${X_BEARER_TOKEN}" }')}`);
    const token = "AAAA-very-secret-bearer-token-1234";
    const { code, stdout } = await spawnCli(["run", "--no-watch"], { X_BEARER_TOKEN: token }).exited;
    expect(code).toBe(0);
    const lines = stdout.trim().split("\n").map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines.find((line) => line.msg === "count job created")).toMatchObject({ config: { label: "[redacted]" } });
    expect(lines.filter((line) => line.msg === "task done")).toHaveLength(3);
    expect(lines.at(-1)).toMatchObject({ msg: "run ended (exit code 0): a: done, 3 task(s) done", exitCode: 0, jobs: { a: { outcome: "done" } } });
    expect(stdout).not.toContain(token);
    expect(readFileSync(join(project.dir, "data/a/lines.txt"), "utf8")).toContain(token);
  });

  // The first worker process starts from the file as written, before the file is checked
  // (EarlyPool): its workers must log as the checked config and the command line say,
  // whether that early start was taken, or not made (a variable in the runner section).
  it.each([
    { runner: "logLevel: debug", argv: [], env: {}, workerDebug: true },
    { runner: "logLevel: ${UJR_TEST_LEVEL}", argv: [], env: { UJR_TEST_LEVEL: "debug" }, workerDebug: true },
    { runner: "logLevel: debug", argv: ["--log-level", "info"], env: {}, workerDebug: false },
    { runner: "logLevel: info", argv: ["--log-level", "debug"], env: {}, workerDebug: true },
  ])("workers log at the level of the checked config and the command line: runner.$runner, $argv", async ({ runner, argv, env, workerDebug }) => {
    project = projectOutsideWorkspace();
    project.write("ujr.config.yaml", `runner:\n  workers: 1\n  ${runner}\njobs:\n${countJob("a", "{ count: 2 }")}`);
    const run = spawnCli(["run", "--no-watch", ...argv], env);
    const { code, stdout } = await run.exited;
    expect(code, stdout).toBe(0);
    const lines = stdout.trim().split("\n").map((line) => JSON.parse(line) as { msg: string; pid: number });
    const wrote = lines.filter((line) => line.msg === "record wrote");
    expect(wrote).toHaveLength(workerDebug ? 2 : 0);
    for (const line of wrote) expect(line.pid).not.toBe(run.child.pid);
    expect(lines.filter((line) => line.msg === "task done")).toHaveLength(2);
  });

  // `ujr run <(envsubst < ujr.tpl.yaml)`: the file is /dev/fd/N, a pipe in a folder of the
  // kernel's; state folders resolved from there made Node's recursive mkdir spin for ever.
  it("runs a config given by process substitution: read once, paths from the working directory, no hot reload", async (ctx) => {
    project = projectOutsideWorkspace();
    if (spawnSync("bash", ["-c", "true"]).status !== 0) {
      return skipOutsideCI("no bash here: process substitution (`<(...)`) needs it", ctx.skip);
    }
    project.write("ujr.tpl.yaml", `runner:\n  workers: 1\njobs:\n${countJob("a", "{ count: 2 }")}`);
    const child = spawn("bash", ["-c", `exec "${process.execPath}" "${bin}" run <(cat ujr.tpl.yaml)`], { cwd: project.dir, env: process.env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    expect(code, stdout).toBe(0);
    const lines = stdout.trim().split("\n").map((line) => JSON.parse(line) as { msg: string; file?: string });
    expect(lines.find((line) => line.msg === "the config came from a pipe, not a file: it is not watched (no hot reload)")?.file).toMatch(/^\/(dev|proc)\//);
    expect(readFileSync(join(project.dir, "data/a/lines.txt"), "utf8").trim().split("\n")).toHaveLength(2);
    // the commands that only read the config find its plugins from the working directory too
    for (const command of ["plugins", "schema"]) {
      const listed = spawnSync("bash", ["-c", `exec "${process.execPath}" "${bin}" ${command} <(cat ujr.tpl.yaml)`], { cwd: project.dir, encoding: "utf8" });
      expect(listed.status, `${command}: ${listed.stderr}`).toBe(0);
      expect(listed.stdout, command).toContain("count");
    }
  });

  it("graceful shutdown: on SIGTERM no new tasks start and running ones finish; exit 130", async () => {
    project = projectOutsideWorkspace();
    project.write("ujr.config.yaml", `runner:\n  workers: 1\n  isolation: process\njobs:\n${countJob("slow", "{ count: 3, delayMs: 1500 }")}`);
    const { child, exited } = spawnCli(["run", "--no-watch"]);
    const started = join(project.dir, "data/slow/lines.txt.started");
    await vi.waitFor(() => expect(existsSync(started)).toBe(true), { timeout: 15_000, interval: 20 });
    child.kill("SIGTERM");
    const { code, stdout } = await exited;
    expect(code).toBe(130);
    expect(stdout).toContain("run ended (exit code 130): slow: stopped");
    // the running task finished in its grace: the stop is how a continuous run ends, said at info, not as an error
    expect(JSON.parse(stdout.trim().split("\n").at(-1)!)).toMatchObject({ level: 30, exitCode: 130 });
    expect(readFileSync(join(project.dir, "data/slow/lines.txt"), "utf8").trim().split("\n")).toHaveLength(1);
    expect(stdout).toContain("received SIGTERM: no new tasks");
  }, 30_000);

  for (const signal of ["SIGINT"] as const) {
    it(`${signal} to the whole process group (Ctrl-C in a terminal, timeout -s INT): the running task still finishes in its grace; exit 130`, async () => {
      project = projectOutsideWorkspace();
      project.write("ujr.config.yaml", `runner:\n  workers: 1\n  isolation: process\njobs:\n${countJob("slow", "{ count: 3, delayMs: 1500 }")}`);
      // a process group of its own, as a shell gives a command: the signal reaches the pool's processes too
      const child = spawn(process.execPath, [bin, "run", "--no-watch", "--no-tty"], { cwd: project.dir, env: process.env, stdio: ["ignore", "pipe", "pipe"], detached: true });
      let stdout = "";
      child.stdout.on("data", (chunk) => (stdout += chunk));
      child.stderr.on("data", () => {});
      const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
      await vi.waitFor(() => expect(existsSync(join(project.dir, "data/slow/lines.txt.started"))).toBe(true), { timeout: 15_000, interval: 20 });
      process.kill(-child.pid!, signal);
      expect(await exited).toBe(130);
      expect(stdout).not.toContain("UJR_WORKER_CRASHED");
      expect(stdout).toContain("run ended (exit code 130): slow: stopped, 1 task(s) done");
      expect(readFileSync(join(project.dir, "data/slow/lines.txt"), "utf8").trim().split("\n")).toHaveLength(1);
    }, 30_000);
  }

  it("a second signal stops running tasks at once; exit 130", async () => {
    project = projectOutsideWorkspace();
    project.write("ujr.config.yaml", `runner:\n  workers: 1\njobs:\n${countJob("slow", "{ count: 3, delayMs: 20000 }")}`);
    const { child, exited, output } = spawnCli(["run", "--no-watch"]);
    await vi.waitFor(() => expect(existsSync(join(project.dir, "data/slow/lines.txt.started"))).toBe(true), { timeout: 15_000, interval: 20 });
    child.kill("SIGINT");
    const firstAt = Date.now();
    // Signals are not queued: send the second only once the first was handled, and as a
    // person would, after a moment: the same signal again within 250 ms is taken for a
    // wrapper's copy of the first (pnpm, timeout), not a second request.
    await vi.waitFor(() => expect(output()).toContain("received SIGINT"), { timeout: 10_000, interval: 20 });
    await vi.waitFor(() => expect(Date.now() - firstAt).toBeGreaterThan(400), { timeout: 10_000, interval: 20 });
    child.kill("SIGINT");
    const { code } = await exited;
    expect(code).toBe(130);
    expect(existsSync(join(project.dir, "data/slow/lines.txt"))).toBe(false);
  }, 30_000);

  it("exits 0 when a task failed for good but its job went on and ended done: a warning, said per job in the last line", async () => {
    project = projectOutsideWorkspace();
    project.write("broken.js", `import { definePlugin, defineJobType, defineTask, JobDone, JobFailed, z } from "@ujr/core";
export const fail = defineTask({ module: import.meta.url, name: "fail", run: () => { throw new Error("no luck"); } });
export default definePlugin({ name: "broken", apiVersion: 1, jobs: { once: defineJobType({ config: z.object({ giveUp: z.boolean().default(false) }), create: (c, ctx) => { let asked = false; return { name: ctx.name, getRunnableTasks() { if (asked) throw (c.giveUp ? new JobFailed("nothing could be done") : new JobDone()); asked = true; return [fail.with({})]; } }; } }) } });
`);
    project.write("ujr.config.yaml", `jobs:\n  b:\n    plugin: ./broken.js\n    type: once\n`);
    const { code, stdout } = await spawnCli(["run", "--no-watch"]).exited;
    expect(code).toBe(0);
    expect(stdout).toContain("no luck");
    const last = JSON.parse(stdout.trim().split("\n").at(-1)!) as { level: number; msg: string; exitCode: number };
    expect(last).toMatchObject({ level: 40, exitCode: 0, msg: "run ended (exit code 0): b: done, 0 task(s) done (1 task(s) failed for good; the job finished anyway: see the warnings)" });
  });

  it("a task that failed and then succeeded on a retry is counted as retried, not as failed: no warning", async () => {
    project = projectOutsideWorkspace();
    project.write("flaky.js", `import { definePlugin, defineJobType, defineTask, JobDone, z } from "@ujr/core";
export const flaky = defineTask({ module: import.meta.url, name: "flaky", run: (args, ctx) => { if (ctx.attempt === 1) throw new Error("first try fails"); return ctx.attempt; } });
export default definePlugin({ name: "flaky", apiVersion: 1, jobs: { once: defineJobType({ config: z.object({}), create: (c, ctx) => { let done = false; return { name: ctx.name, getRunnableTasks() { if (done) throw new JobDone(); return [flaky.with({}, { retry: { attempts: 2, baseMs: 1 } })]; }, onTaskDone() { done = true; } }; } }) } });
`);
    project.write("ujr.config.yaml", `jobs:\n  r:\n    plugin: ./flaky.js\n    type: once\n`);
    const { code, stdout } = await spawnCli(["run", "--no-watch"]).exited;
    expect(code, stdout).toBe(0);
    const last = JSON.parse(stdout.trim().split("\n").at(-1)!) as { level: number; msg: string };
    expect(last).toMatchObject({ level: 30, msg: "run ended (exit code 0): r: done, 1 task(s) done, 1 failed attempt(s) retried" });
  });

  // A signal that only ends --keep-alive's wait interrupts no work: exit 0, said at info.
  // One that comes while a job still runs is a stop before every job was done: 130.
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    it(`--keep-alive: ${signal} after every job was done exits 0; ${signal} while a job runs exits 130`, async () => {
      project = projectOutsideWorkspace();
      project.write("ujr.config.yaml", `runner:\n  workers: 1\njobs:\n${countJob("a", "{ count: 2 }")}`);
      const waiting = spawnCli(["run", "--no-watch", "--keep-alive"]);
      await vi.waitFor(() => expect(waiting.output()).toContain("every job is done; --keep-alive"), { timeout: 20_000, interval: 20 });
      waiting.child.kill(signal);
      const ended = await waiting.exited;
      expect(ended.code, ended.stdout).toBe(0);
      const last = JSON.parse(ended.stdout.trim().split("\n").at(-1)!) as { level: number; msg: string; exitCode: number };
      expect(last).toMatchObject({ level: 30, exitCode: 0, msg: `run ended (exit code 0): stopped by ${signal} after every job was done; a: done, 2 task(s) done` });

      // The slow task would take 20 s: a short grace stops it soon after the one signal.
      project.write("ujr.config.yaml", `runner:\n  workers: 1\n  shutdownGrace: 100ms\njobs:\n${countJob("slow", "{ count: 3, delayMs: 20000 }")}`);
      const busy = spawnCli(["run", "--no-watch", "--keep-alive"]);
      await vi.waitFor(() => expect(existsSync(join(project.dir, "data/slow/lines.txt.started"))).toBe(true), { timeout: 15_000, interval: 20 });
      busy.child.kill(signal);
      const stopped = await busy.exited;
      expect(stopped.code).toBe(130);
      const busyLast = JSON.parse(stopped.stdout.trim().split("\n").at(-1)!) as { level: number; msg: string };
      // a stop is how a continuous run ends: a warning (it cut a task short), not an error
      expect(busyLast.level).toBe(40);
      expect(busyLast.msg).toMatch(/^run ended \(exit code 130\): .*slow: stopped/);
    }, 60_000);
  }

  it("exits 1 when a job failed (JobFailed), and the last line says which and why", async () => {
    project = projectOutsideWorkspace();
    project.write("failing.js", `import { definePlugin, defineJobType, JobFailed, z } from "@ujr/core";
export default definePlugin({ name: "failing", apiVersion: 1, jobs: { once: defineJobType({ config: z.object({}), create: (c, ctx) => ({ name: ctx.name, getRunnableTasks() { throw new JobFailed("the credential was rejected"); } }) }) } });
`);
    project.write("ujr.config.yaml", `jobs:\n  f:\n    plugin: ./failing.js\n    type: once\n`);
    const { code, stdout } = await spawnCli(["run", "--no-watch"]).exited;
    expect(code).toBe(1);
    const last = JSON.parse(stdout.trim().split("\n").at(-1)!) as { level: number; msg: string; exitCode: number };
    expect(last).toMatchObject({ level: 50, exitCode: 1, msg: "run ended (exit code 1): f: failed, 0 task(s) done: the credential was rejected" });
  });
});
