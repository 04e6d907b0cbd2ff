import { afterEach, describe, expect, it, vi } from "vitest";
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { main } from "./cli.js";
import { projectOutsideWorkspace } from "../../../packages/runner-local/src/__fixtures__/workspace.js";

const bin = fileURLToPath(new URL("../dist/bin.js", import.meta.url));
let project: ReturnType<typeof projectOutsideWorkspace>;
afterEach(() => project?.cleanup());

async function cli(argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { out: (text) => out.push(text), err: (text) => err.push(text) });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

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
    ["unknown key", "runner:\n  wrokers: 2\n", /ujr\.config\.yaml:2:3 runner: unknown key\(s\) "wrokers"/],
    ["wrong type", "runner:\n  workers: lots\n", /ujr\.config\.yaml:2:12 runner\.workers: Invalid input: expected number, received string/],
    ["unknown plugin", `jobs:\n  a:\n    plugin: "@acme/nope"\n    type: count\n`, /Plugin "@acme\/nope" was not found\.[\s\S]*install it there: cd .* && npm install @acme\/nope/],
    ["plugin that is not a ujr plugin", `jobs:\n  a:\n    plugin: ./not-a-plugin.js\n    type: count\n`, /is not a ujr plugin: its default export must be made with definePlugin\(\)/],
    ["apiVersion mismatch", `jobs:\n  a:\n    plugin: ./future.js\n    type: count\n`, /built for ujr plugin API v2, but this runner speaks v1/],
    ["unknown job type", `jobs:\n  a:\n    plugin: "@acme/ujr-plugin-fixture"\n    type: tally\n`, /has no job type "tally" \(at jobs\.a\.type\)\. Known job types: count\./],
    ["missing environment variable", `jobs:\n${countJob("a", '{ count: 1, label: "${UJR_TEST_UNSET_VAR}" }')}`, /jobs\.a\.config\.label: environment variable UJR_TEST_UNSET_VAR is not set/],
  ];
  for (const [name, yaml, expected] of cases) {
    it(name, async () => {
      project = projectOutsideWorkspace();
      project.write("not-a-plugin.js", "export default { name: 'x' };\n");
      project.write("future.js", 'import { definePlugin } from "@ujr/core";\nexport default definePlugin({ name: "future", apiVersion: 2, jobs: {} });\n');
      const file = yaml === undefined ? join(project.dir, "ujr.config.yaml") : project.write("ujr.config.yaml", yaml);
      for (const command of ["validate", "run"]) {
        const result = await cli([command, file]);
        expect(result.code).toBe(2);
        expect(result.err).toMatch(expected);
        expect(result.err).not.toMatch(/\n\s+at /);
      }
    });
  }

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
      expect(missing.err).toContain("jobs.auspol.config.bearerToken: environment variable X_BEARER_TOKEN is not set");
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
  it("validate lists the jobs of a good file", async () => {
    project = projectOutsideWorkspace();
    const file = project.write("ujr.config.yaml", `jobs:\n${countJob("a", "{ count: 2 }")}`);
    expect(await cli(["validate", file])).toMatchObject({ code: 0, out: expect.stringContaining("valid (1 job)\n  a: @acme/ujr-plugin-fixture count") });
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

  it("plugins without a config finds installed packages with the ujr-plugin keyword", async () => {
    project = projectOutsideWorkspace();
    const { exited } = spawnCli(["plugins"]);
    const { code, stdout } = await exited;
    expect(code).toBe(0);
    expect(stdout).toContain("@acme/ujr-plugin-fixture (plugin API v1)");
    expect(stdout).toContain('job type "count"');
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
    expect(stdout).not.toContain(token);
    expect(readFileSync(join(project.dir, "data/a/lines.txt"), "utf8")).toContain(token);
  });

  it("graceful shutdown: on SIGTERM no new tasks start and running ones finish; exit 0", async () => {
    project = projectOutsideWorkspace();
    project.write("ujr.config.yaml", `runner:\n  workers: 1\n  isolation: process\njobs:\n${countJob("slow", "{ count: 3, delayMs: 1500 }")}`);
    const { child, exited } = spawnCli(["run", "--no-watch"]);
    const started = join(project.dir, "data/slow/lines.txt.started");
    await vi.waitFor(() => expect(existsSync(started)).toBe(true), { timeout: 15_000, interval: 20 });
    child.kill("SIGTERM");
    const { code, stdout } = await exited;
    expect(code).toBe(0);
    expect(readFileSync(join(project.dir, "data/slow/lines.txt"), "utf8").trim().split("\n")).toHaveLength(1);
    expect(stdout).toContain("received SIGTERM: no new tasks");
  }, 30_000);

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

  it("exits 1 when a task failed for good", async () => {
    project = projectOutsideWorkspace();
    project.write("broken.js", `import { definePlugin, defineJobType, defineTask, JobDone, z } from "@ujr/core";
export const fail = defineTask({ module: import.meta.url, name: "fail", run: () => { throw new Error("no luck"); } });
export default definePlugin({ name: "broken", apiVersion: 1, jobs: { once: defineJobType({ config: z.object({}), create: (c, ctx) => { let asked = false; return { name: ctx.name, getRunnableTasks() { if (asked) throw new JobDone(); asked = true; return [fail.with({})]; } }; } }) } });
`);
    project.write("ujr.config.yaml", `jobs:\n  b:\n    plugin: ./broken.js\n    type: once\n`);
    const { code, stdout } = await spawnCli(["run", "--no-watch"]).exited;
    expect(code).toBe(1);
    expect(stdout).toContain("no luck");
  });
});
