import { afterEach, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { createWriteStream, readFileSync } from "node:fs";
import { join } from "node:path";
import { loadConfigFile, type ConfigError } from "./config/load.js";
import { projectOutsideWorkspace } from "./__fixtures__/workspace.js";
import { namedPipe, skipOutsideCI } from "./__fixtures__/processes.js";

let project: ReturnType<typeof projectOutsideWorkspace>;
afterEach(() => project?.cleanup());

async function loadError(yaml: string, env: NodeJS.ProcessEnv = {}): Promise<ConfigError> {
  project = projectOutsideWorkspace();
  const file = project.write("ujr.config.yaml", yaml);
  try {
    await loadConfigFile(file, { env });
  } catch (error) {
    return error as ConfigError;
  }
  throw new Error("expected the config to be rejected");
}

const goodJob = `
  count-lines:
    plugin: "@acme/ujr-plugin-fixture"
    type: count
    config:
      count: 3
`;

describe("loadConfigFile", () => {
  it("loads a valid file: plugins resolved from the config's folder, defaults filled", async () => {
    project = projectOutsideWorkspace();
    const file = project.write("ujr.config.yaml", `runner:\n  workers: 2\n  checkInterval: 5s\njobs:${goodJob}`);
    const config = await loadConfigFile(file, { env: {} });
    expect(config.runner).toMatchObject({ workers: 2, isolation: "process", checkInterval: 5000, shutdownGrace: 30_000 });
    expect(config.dataDir).toBe(join(project.dir, "data"));
    expect(config.jobs).toHaveLength(1);
    expect(config.jobs[0]).toMatchObject({ name: "count-lines", typeName: "count", config: { count: 3, label: "line", forever: false } });
    expect(config.jobs[0]!.plugin.url).toContain(`${project.dir}/node_modules/@acme/ujr-plugin-fixture/index.js`);
  });

  // `ujr run <(envsubst < ujr.tpl.yaml)`: the file is /dev/fd/N, a pipe in a folder of the
  // kernel's. Its state folders there made Node's recursive mkdir loop for ever (100% CPU).
  it("reads a config from a pipe once, its relative paths resolved from the working directory, and marks it unwatchable", async (ctx) => {
    project = projectOutsideWorkspace();
    const fifo = namedPipe(join(project.dir, "config.fifo"), ctx.skip);
    const plugin = join(project.dir, "node_modules/@acme/ujr-plugin-fixture");
    createWriteStream(fifo).end(`runner:\n  workers: 1\njobs:\n  a:\n    plugin: "${plugin}"\n    type: count\n    config: { count: 1 }\n`);
    const config = await loadConfigFile(fifo, { env: {} });
    expect(config.readFromStream).toBe(true);
    expect(config.dir).toBe(process.cwd());
    expect(config.dataDir).toBe(join(process.cwd(), "data"));
    expect(config.jobs.map((job) => job.name)).toEqual(["a"]);
    const file = project.write("ujr.config.yaml", `jobs:${goodJob}`);
    expect((await loadConfigFile(file, { env: {} })).readFromStream).toBeUndefined();
  });

  it("standard input that is a socket (a parent's socket pair): says it cannot be opened by path, and what to do", async (ctx) => {
    const script = `import { loadConfigFile } from ${JSON.stringify(new URL("../dist/config/load.js", import.meta.url).href)};
      loadConfigFile("/dev/stdin").catch((e) => { console.log(JSON.stringify({ code: e.code, message: e.message })); });`;
    const result = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8", input: "jobs: {}\n", stdio: ["pipe", "pipe", "pipe"] });
    if (result.stdout.trim() === "") {
      // the config was read: spawnSync gave a pipe, not a socket pair, on this platform
      return skipOutsideCI(`standard input of a spawned process is not a socket on ${process.platform}: nothing to check (${result.stderr.trim()})`, ctx.skip);
    }
    const error = JSON.parse(result.stdout) as { code: string; message: string };
    expect(error.code).toBe("UJR_CONFIG_UNREADABLE");
    expect(error.message).toContain("Cannot read config file /dev/stdin: it is a socket, which cannot be opened by its path");
    expect(error.message).toContain("ujr run <(cat ujr.yaml)");
  });

  it("hands the runner settings to onRunnerSettings before it loads the plugins (a caller starts its pool meanwhile)", async () => {
    project = projectOutsideWorkspace();
    const file = project.write("ujr.config.yaml", `runner:\n  workers: 3\njobs:${goodJob}`);
    const imports = () => (globalThis as { __ujrFixturePluginImports?: number }).__ujrFixturePluginImports ?? 0;
    const before = imports();
    const seen: Array<{ workers: number | undefined; pluginImports: number }> = [];
    const config = await loadConfigFile(file, { env: {}, onRunnerSettings: (runner) => seen.push({ workers: runner.workers, pluginImports: imports() - before }) });
    expect(seen).toEqual([{ workers: 3, pluginImports: 0 }]);
    expect(imports() - before).toBe(1);
    expect(config.runner.workers).toBe(3);
  });

  it("does not call onRunnerSettings for a file of the wrong shape (nothing is started for a config that will be rejected)", async () => {
    project = projectOutsideWorkspace();
    const file = project.write("ujr.config.yaml", `runner:\n  wrokers: 3\njobs:${goodJob}`);
    let called = false;
    await expect(loadConfigFile(file, { env: {}, onRunnerSettings: () => (called = true) })).rejects.toMatchObject({ code: "UJR_CONFIG_INVALID" });
    expect(called).toBe(false);
  });

  it("interpolates ${ENV} and ${ENV:-default}", async () => {
    project = projectOutsideWorkspace();
    const file = project.write("ujr.config.yaml", `jobs:\n  a:\n    plugin: "@acme/ujr-plugin-fixture"\n    type: count\n    config:\n      count: 1\n      label: "\${LABEL}-\${MISSING:-fallback}-$\${literal}"\n`);
    const config = await loadConfigFile(file, { env: { LABEL: "from-env" } });
    expect(config.jobs[0]!.config).toMatchObject({ label: "from-env-fallback-${literal}" });
  });

  it("missing config file: says where it looked and what to do", async () => {
    await expect(loadConfigFile("/nonexistent/ujr.config.yaml")).rejects.toMatchObject({
      code: "UJR_CONFIG_NOT_FOUND",
      message: expect.stringContaining("Config file not found: /nonexistent/ujr.config.yaml. Create it"),
    });
  });

  it("a folder instead of a config file: says so and which file to pass", async () => {
    project = projectOutsideWorkspace();
    await expect(loadConfigFile(project.dir)).rejects.toMatchObject({
      code: "UJR_CONFIG_UNREADABLE",
      message: `Cannot read config file ${project.dir}: it is a folder; pass the config file in it (e.g. ${project.dir}/ujr.config.yaml).`,
    });
  });

  it("a YAML alias bomb (a few lines that expand to millions of nodes): refused as unreadable, with what to do, not an internal error", async () => {
    const error = await loadError(readFileSync(new URL("./__fixtures__/alias-bomb.yaml", import.meta.url), "utf8"));
    expect(error.code).toBe("UJR_CONFIG_UNREADABLE");
    expect(error.message).toMatch(/Cannot read config file .*ujr\.config\.yaml: Excessive alias count.*; write the repeated parts out, or use fewer aliases/);
  });

  it("YAML syntax error: file:line:col of the real error, not 1:1", async () => {
    const error = await loadError("runner:\n  workers: 2\njobs:\n  a:\n    plugin: x\n    type: y\n   config: { count: 1 }\n");
    expect(error.code).toBe("UJR_CONFIG_YAML");
    expect(error.message).toBe(`${project.dir}/ujr.config.yaml:7:1: YAML syntax error: All mapping items must start at the same column. Fix the syntax at that position.`);
    const unclosed = await loadError("runner:\n  workers: 2\njobs:\n  a: [unclosed\n");
    expect(unclosed.message).toMatch(/ujr\.config\.yaml:[45]:\d+: YAML syntax error: .+Fix the syntax at that position\./);
  });

  it("a plugin name one typo away from an installed one: did you mean, and no install command for the typo", async () => {
    const error = await loadError(`jobs:\n  a:\n    plugin: "@acme/ujr-plugin-fixtrue"\n    type: count\n`);
    const [issue] = error.issues;
    expect(issue).toMatchObject({ path: "jobs.a.plugin", code: "UJR_PLUGIN_NOT_FOUND", line: 3 });
    expect(issue!.message).toBe(
      [
        'Plugin "@acme/ujr-plugin-fixtrue" was not found.',
        `  asked for by: jobs.a.plugin in ${project.dir}/ujr.config.yaml`,
        `  looked in:    ${project.dir}/node_modules`,
        `  did you mean "@acme/ujr-plugin-fixture" (installed in ${project.dir}/node_modules)? Fix the name in ${project.dir}/ujr.config.yaml.`,
      ].join("\n"),
    );
    expect(issue!.message).not.toMatch(/npm install|pnpm add|yarn add/);
  });

  it("a plugin path that does not exist, next to a file of a close name: did you mean", async () => {
    project = projectOutsideWorkspace();
    project.write("my-plugin.js", "export default {};\n");
    const file = project.write("ujr.config.yaml", `jobs:\n  a:\n    plugin: ./my-plugn.js\n    type: count\n`);
    const error = (await loadConfigFile(file, { env: {} }).catch((e: unknown) => e)) as ConfigError;
    expect(error.issues[0]).toMatchObject({ code: "UJR_PLUGIN_NOT_FOUND", path: "jobs.a.plugin" });
    expect(error.issues[0]!.message).toContain(`  did you mean ${project.dir}/my-plugin.js? Fix the path (it is relative to the config file's folder).`);
  });

  it("an installed plugin that was not built: the missing file, and to build it", async () => {
    project = projectOutsideWorkspace();
    project.write("node_modules/@acme/unbuilt/package.json", JSON.stringify({ name: "@acme/unbuilt", type: "module", exports: { ".": "./dist/index.js" } }));
    const file = project.write("ujr.config.yaml", `jobs:\n  a:\n    plugin: "@acme/unbuilt"\n    type: go\n`);
    const error = (await loadConfigFile(file, { env: {} }).catch((e: unknown) => e)) as ConfigError;
    expect(error.issues[0]).toMatchObject({ code: "UJR_PLUGIN_LOAD_FAILED", path: "jobs.a.plugin" });
    expect(error.issues[0]!.message).toBe(
      `Plugin "@acme/unbuilt" (asked for by jobs.a.plugin) failed to load: Cannot find module '${project.dir}/node_modules/@acme/unbuilt/dist/index.js'. Check that the package is built and installed correctly.`,
    );
  });

  it("a plugin whose exports do not export its entry: the real cause and the fix", async () => {
    project = projectOutsideWorkspace();
    project.write("node_modules/@acme/hidden/package.json", JSON.stringify({ name: "@acme/hidden", type: "module", exports: { "./other": "./other.js" } }));
    project.write("node_modules/@acme/hidden/other.js", "export {};\n");
    const file = project.write("ujr.config.yaml", `jobs:\n  a:\n    plugin: "@acme/hidden"\n    type: count\n`);
    const error = (await loadConfigFile(file, { env: {} }).catch((e: unknown) => e)) as ConfigError;
    expect(error.issues[0]).toMatchObject({ code: "UJR_PLUGIN_NOT_EXPORTED", path: "jobs.a.plugin" });
    expect(error.issues[0]!.message).toBe(
      `Plugin "@acme/hidden" (asked for by jobs.a.plugin in ${file}) is installed at ${project.dir}/node_modules/@acme/hidden, but its package.json "exports" does not export "." (ERR_PACKAGE_PATH_NOT_EXPORTED). The plugin must export its entry module: "exports": { ".": "./dist/index.js" }.`,
    );
  });

  it("a plugin whose exports lack the subpath of its task module: ERR_PACKAGE_PATH_NOT_EXPORTED, the package and the fix, before anything runs", async () => {
    project = projectOutsideWorkspace();
    const pkg = "node_modules/@acme/no-tasks-export";
    project.write(`${pkg}/package.json`, JSON.stringify({ name: "@acme/no-tasks-export", type: "module", exports: { ".": "./index.js" } }));
    project.write(`${pkg}/tasks.js`, 'import { defineTask } from "@ujr/core";\nexport const work = defineTask({ module: "@acme/no-tasks-export/tasks", name: "work", run: () => 1 });\n');
    project.write(
      `${pkg}/index.js`,
      'import { definePlugin, defineJobType, z } from "@ujr/core";\nimport { work } from "./tasks.js";\nexport default definePlugin({ name: "@acme/no-tasks-export", apiVersion: 1, jobs: { go: defineJobType({ config: z.object({}), tasks: [work], create: (c, ctx) => ({ name: ctx.name, getRunnableTasks: () => [work.with({})] }) }) } });\n',
    );
    const file = project.write("ujr.config.yaml", `jobs:\n  a:\n    plugin: "@acme/no-tasks-export"\n    type: go\n`);
    const error = (await loadConfigFile(file, { env: {} }).catch((e: unknown) => e)) as ConfigError;
    expect(error.code).toBe("UJR_CONFIG_INVALID");
    expect(error.issues[0]).toMatchObject({ code: "UJR_TASK_MODULE_NOT_EXPORTED", path: "jobs.a.type", line: 4 });
    expect(error.issues[0]!.message).toBe(
      `Task module "@acme/no-tasks-export/tasks" cannot be imported: package "@acme/no-tasks-export" (${project.dir}/${pkg}/package.json) is installed, but its "exports" has no "./tasks" (ERR_PACKAGE_PATH_NOT_EXPORTED). Add it to the package's exports, e.g. "exports": { ".": "./dist/index.js", "./tasks": "./dist/tasks.js" }, rebuild and reinstall the plugin.`,
    );
  });

  it("unknown keys get the known key they are close to", async () => {
    const error = await loadError(`runner:\n  wokrers: 2\njobs:\n  a:\n    plugin: "@acme/ujr-plugin-fixture"\n    type: count\n    maxTaskPerJob: 2\n    config: { count: 1, lable: x }\n`);
    expect(error.issues.map(({ path, message, line }) => ({ path, message, line }))).toEqual([
      { path: "runner.wokrers", message: 'unknown key "wokrers". Did you mean "workers"?', line: 2 },
      { path: "jobs.a.maxTaskPerJob", message: 'unknown key "maxTaskPerJob". Did you mean "maxTasksPerJob"?', line: 7 },
    ]);
    // Once the file's own keys are right, the job's config: a plain z.object would drop the typo silently.
    const second = await loadError(`jobs:\n  a:\n    plugin: "@acme/ujr-plugin-fixture"\n    type: count\n    config: { count: 1, lable: x }\n`);
    expect(second.issues).toEqual([expect.objectContaining({ path: "jobs.a.config.lable", message: 'unknown key "lable". Did you mean "label"?', line: 5 })]);
  });

  it("reports every problem of the file at once, each with its path and line", async () => {
    const error = await loadError(
      [
        "runner:",
        "  workers: many", // wrong type
        "  colour: blue", // unknown key
        "jobs:",
        "  missing-plugin:",
        '    plugin: "@acme/not-installed"',
        "    type: count",
        "  bad-type:",
        '    plugin: "@acme/ujr-plugin-fixture"',
        "    type: tally",
        "  bad-config:",
        '    plugin: "@acme/ujr-plugin-fixture"',
        "    type: count",
        "    config:",
        "      count: zero",
        "  needs-env:",
        '    plugin: "@acme/ujr-plugin-fixture"',
        "    type: count",
        "    config: { count: 1, label: \"${X_BEARER_TOKEN}\" }",
      ].join("\n"),
    );
    expect(error.code).toBe("UJR_CONFIG_INVALID");
    const paths = error.issues.map((issue) => issue.path);
    // The runner section is checked by the file schema; plugin problems once the file parses.
    // A wrong runner section does not hide the jobs' problems, nor the other way round.
    expect([...paths].sort()).toEqual(["jobs.bad-config.config.count", "jobs.bad-type.type", "jobs.missing-plugin.plugin", "jobs.needs-env.config.label", "runner.colour", "runner.workers"]);
    expect(error.message).toMatch(/ujr\.config\.yaml:2:\d+ runner\.workers: /);
    expect(error.message).toMatch(/ujr\.config\.yaml:3:\d+ runner\.colour: unknown key "colour"\.(\n|$)/);
    expect(error.message).toContain("environment variable X_BEARER_TOKEN is not set");
  });

  it("unknown plugin: names the package, the folder searched, the config and the install command", async () => {
    const error = await loadError(`jobs:\n  a:\n    plugin: "@acme/not-installed"\n    type: count\n`);
    const [issue] = error.issues;
    expect(issue).toMatchObject({ path: "jobs.a.plugin", code: "UJR_PLUGIN_NOT_FOUND", line: 3 });
    expect(issue!.message).toContain('Plugin "@acme/not-installed" was not found.');
    expect(issue!.message).toContain(`asked for by: jobs.a.plugin in ${project.dir}/ujr.config.yaml`);
    expect(issue!.message).toContain(`looked in:    ${project.dir}/node_modules`);
    expect(issue!.message).toContain(`install it there: cd ${project.dir} && npm install @acme/not-installed`);
  });

  it("a package that is not a ujr plugin", async () => {
    project = projectOutsideWorkspace();
    project.write("node_modules/left-pad/package.json", JSON.stringify({ name: "left-pad", type: "module", exports: "./index.js" }));
    project.write("node_modules/left-pad/index.js", "export default function leftPad() {}\n");
    const file = project.write("ujr.config.yaml", `jobs:\n  a:\n    plugin: left-pad\n    type: count\n`);
    const error = (await loadConfigFile(file, { env: {} }).catch((e: unknown) => e)) as ConfigError;
    expect(error.issues[0]).toMatchObject({ code: "UJR_PLUGIN_INVALID" });
    expect(error.issues[0]!.message).toBe('Package "left-pad" (asked for by jobs.a.plugin) is not a ujr plugin: its default export must be made with definePlugin() from @ujr/core.');
  });

  it("a plugin built for another plugin API version", async () => {
    project = projectOutsideWorkspace();
    project.write(
      "future-plugin.js",
      'import { definePlugin } from "@ujr/core";\nexport default definePlugin({ name: "future", apiVersion: 99, jobs: {} });\n',
    );
    const file = project.write("ujr.config.yaml", `jobs:\n  a:\n    plugin: ./future-plugin.js\n    type: count\n`);
    const error = (await loadConfigFile(file, { env: {} }).catch((e: unknown) => e)) as ConfigError;
    expect(error.issues[0]).toMatchObject({ code: "UJR_PLUGIN_API_VERSION" });
    expect(error.issues[0]!.message).toContain("was built for ujr plugin API v99, but this runner speaks v1");
  });

  it("unknown job type: lists the known ones, and the close one first", async () => {
    const error = await loadError(`jobs:\n  a:\n    plugin: "@acme/ujr-plugin-fixture"\n    type: tally\n`);
    expect(error.issues[0]).toMatchObject({ code: "UJR_JOB_TYPE_UNKNOWN", path: "jobs.a.type", line: 4 });
    expect(error.issues[0]!.message).toBe('Plugin "@acme/ujr-plugin-fixture" has no job type "tally" (at jobs.a.type). Known job types: count.');
    const typo = await loadError(`jobs:\n  a:\n    plugin: "@acme/ujr-plugin-fixture"\n    type: cuont\n`);
    expect(typo.issues[0]!.message).toBe('Plugin "@acme/ujr-plugin-fixture" has no job type "cuont" (at jobs.a.type). Did you mean "count"? Known job types: count.');
  });

  it("wrong type and unknown key in a job's config, with the path inside the config", async () => {
    const error = await loadError(`jobs:\n  a:\n    plugin: "@acme/ujr-plugin-fixture"\n    type: count\n    config:\n      count: "3"\n`);
    expect(error.issues[0]).toMatchObject({ path: "jobs.a.config.count", line: 6 });
    expect(error.issues[0]!.message).toMatch(/expected number, received string/);
  });

  it("missing environment variable: names it and how to give a default", async () => {
    const error = await loadError(`jobs:\n  a:\n    plugin: "@acme/ujr-plugin-fixture"\n    type: count\n    config: { count: 1, label: "\${API_TOKEN}" }\n`);
    expect(error.issues).toEqual([expect.objectContaining({ code: "UJR_CONFIG_ENV_MISSING", path: "jobs.a.config.label" })]);
    expect(error.issues[0]!.message).toBe("environment variable API_TOKEN is not set. Set it, or give a default with ${API_TOKEN:-default}");
  });

  it("rejects job names that cannot be folder names", async () => {
    const error = await loadError(`jobs:\n  "../escape":\n    plugin: "@acme/ujr-plugin-fixture"\n    type: count\n`);
    expect(error.message).toMatch(/job names use letters, digits/);
  });

  it("the fixture plugin's file exists where the test project installed it", () => {
    project = projectOutsideWorkspace();
    expect(readFileSync(join(project.dir, "node_modules/@acme/ujr-plugin-fixture/package.json"), "utf8")).toContain("ujr-plugin");
  });
});
