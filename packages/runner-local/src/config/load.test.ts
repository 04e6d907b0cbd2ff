import { afterEach, describe, expect, it } from "vitest";
import { projectOutsideWorkspace } from "../__fixtures__/workspace.js";
import { configError, loadConfigFile, loadRunnerSettings, type ConfigError } from "./load.js";

let project: ReturnType<typeof projectOutsideWorkspace>;
afterEach(() => project?.cleanup());

async function rejection(load: (file: string) => Promise<unknown>, yaml: string): Promise<ConfigError> {
  project = projectOutsideWorkspace();
  const file = project.write("ujr.config.yaml", yaml);
  const outcome = await load(file).then(
    () => undefined,
    (error: unknown) => error as ConfigError,
  );
  if (!outcome) throw new Error("expected the config to be rejected");
  return outcome;
}
const loadError = (yaml: string) => rejection((file) => loadConfigFile(file, { env: {} }), yaml);

describe("the problems of a config", () => {
  it("each problem shows its own catalogue code after its path, and keeps it as issues[i].code", async () => {
    const error = await loadError(
      [
        "jobs:",
        "  missing:",
        '    plugin: "@acme/not-installed"',
        "    type: count",
        "  typo:",
        '    plugin: "@acme/ujr-plugin-fixture"',
        "    type: tally",
        "  secret:",
        '    plugin: "@acme/ujr-plugin-fixture"',
        "    type: count",
        '    config: { count: 1, label: "${UNSET_TOKEN}" }',
        "  broken:",
        "    plugin: ./broken.mjs",
        "    type: count",
        "  wrong:",
        '    plugin: "@acme/ujr-plugin-fixture"',
        "    type: count",
        '    config: { count: "3" }',
      ].join("\n"),
    );
    const file = `${project.dir}/ujr.config.yaml`;
    expect(error.code).toBe("UJR_CONFIG_INVALID");
    expect(error.issues.map(({ path, code }) => [path, code])).toEqual([
      ["jobs.missing.plugin", "UJR_PLUGIN_NOT_FOUND"],
      ["jobs.typo.type", "UJR_JOB_TYPE_UNKNOWN"],
      ["jobs.secret.config.label", "UJR_CONFIG_ENV_MISSING"],
      ["jobs.broken.plugin", "UJR_PLUGIN_NOT_FOUND"],
      ["jobs.wrong.config.count", "invalid_type"],
    ]);
    expect(error.message).toContain(`\n  - ${file}:3:13 jobs.missing.plugin [UJR_PLUGIN_NOT_FOUND]: Plugin "@acme/not-installed" was not found.\n`);
    expect(error.message).toContain(`\n  - ${file}:7:11 jobs.typo.type [UJR_JOB_TYPE_UNKNOWN]: Plugin "@acme/ujr-plugin-fixture" has no job type "tally"`);
    expect(error.message).toContain(`\n  - ${file}:11:32 jobs.secret.config.label [UJR_CONFIG_ENV_MISSING]: environment variable UNSET_TOKEN is not set.`);
    expect(error.message).toContain(`\n  - ${file}:13:13 jobs.broken.plugin [UJR_PLUGIN_NOT_FOUND]: Plugin "./broken.mjs" was not found.`);
    // A value of the wrong shape has no catalogue code of its own: UJR_CONFIG_INVALID says it.
    expect(error.message).toContain(`\n  - ${file}:18:22 jobs.wrong.config.count: Invalid input: expected number, received string`);
  });

  it("a plugin that fails to load shows UJR_PLUGIN_LOAD_FAILED", async () => {
    project = projectOutsideWorkspace();
    project.write("throws.mjs", 'throw new Error("no database");\n');
    const file = project.write("ujr.config.yaml", "jobs:\n  a:\n    plugin: ./throws.mjs\n    type: t\n");
    const error = (await loadConfigFile(file, { env: {} }).catch((e: unknown) => e)) as ConfigError;
    expect(error.message).toContain(`${file}:3:13 jobs.a.plugin [UJR_PLUGIN_LOAD_FAILED]: Plugin "./throws.mjs" (asked for by jobs.a.plugin) failed to load: no database. Fix that file, or the modules it imports.`);
  });

  it("lists the problems in the order of the file, whichever part of the loader found them", async () => {
    const error = await loadError(['jobs:', '  a:', '    plugin: "@acme/not-installed"', "    type: count", "runner:", "  workers: many", "  colour: blue"].join("\n"));
    expect(error.issues.map(({ path, line }) => [path, line])).toEqual([
      ["jobs.a.plugin", 3],
      ["runner.workers", 6],
      ["runner.colour", 7],
    ]);
    expect(error.message.split("\n").filter((line) => line.startsWith("  - ")).map((line) => / (\S+?)( \[\w+\])?: /.exec(line)![1])).toEqual(["jobs.a.plugin", "runner.workers", "runner.colour"]);
  });

  it("problems without a position come last, in the order they were found", () => {
    const error = configError("createRunner() options", [
      { path: "jobs.b.type", message: "b" },
      { path: "runner.workers", message: "w", line: 9, col: 3 },
      { path: "jobs.a.type", message: "a" },
      { path: "jobs.c.plugin", message: "c", line: 2, col: 5 },
    ]);
    expect(error.issues.map((issue) => issue.path)).toEqual(["jobs.c.plugin", "runner.workers", "jobs.b.type", "jobs.a.type"]);
  });

  it("an invalid job name is reported at the name, not at the job's body", async () => {
    const error = await loadError('jobs:\n  "bad name":\n    plugin: "@acme/ujr-plugin-fixture"\n    type: count\n');
    expect(error.issues).toEqual([expect.objectContaining({ path: "jobs.bad name", line: 2, col: 3 })]);
  });

  it("a job with a bad name or a bad entry does not hide the other jobs' problems", async () => {
    const error = await loadError(
      'jobs:\n  "bad name":\n    plugin: "@acme/ujr-plugin-fixture"\n    type: count\n  b:\n    plugin: "@acme/ujr-plugin-fixture"\n    type: count\n    maxTasksPerJob: -1\n  c:\n    plugin: "@acme/ujr-plugin-fixtur"\n    type: count\n  d:\n    plugin: "@acme/ujr-plugin-fixture"\n    type: cuont\n',
    );
    expect(error.issues.map(({ path, code }) => ({ path, code }))).toEqual([
      { path: "jobs.bad name", code: "invalid_key" },
      { path: "jobs.b.maxTasksPerJob", code: "too_small" },
      { path: "jobs.c.plugin", code: "UJR_PLUGIN_NOT_FOUND" },
      { path: "jobs.d.type", code: "UJR_JOB_TYPE_UNKNOWN" },
    ]);
  });

  it("a job whose name has dots is found in the file (a dotted path is not split at them)", async () => {
    const error = await loadError('jobs:\n  my.job:\n    type: count\n    plugin: "@acme/not-installed"\n');
    expect(error.issues).toEqual([expect.objectContaining({ path: "jobs.my.job.plugin", code: "UJR_PLUGIN_NOT_FOUND", line: 4, col: 13 })]);
  });

  it("a missing environment variable of the runner section is reported at its line", async () => {
    const error = await loadError("runner:\n  executor:\n    kind: bullmq\n    redis: ${REDIS_URL}\n");
    expect(error.issues).toEqual([expect.objectContaining({ path: "runner.executor.redis", code: "UJR_CONFIG_ENV_MISSING", line: 4, col: 12 })]);
    expect(error.message).toContain(`${project.dir}/ujr.config.yaml:4:12 runner.executor.redis [UJR_CONFIG_ENV_MISSING]: environment variable REDIS_URL is not set.`);
  });
});

describe("YAML syntax errors found at the end of the file", () => {
  it("an unclosed quote is reported where the quote opens, not past the last line", async () => {
    const error = await loadError('runner:\n  workers: 2\n  dataDir: "./data\njobs: {}\n');
    expect(error.code).toBe("UJR_CONFIG_YAML");
    expect(error.message).toBe(`${project.dir}/ujr.config.yaml:3:12: YAML syntax error: Missing closing "quote. Fix the syntax at that position.`);
  });

  it("an unclosed bracket is reported where the bracket opens", async () => {
    const error = await loadError("runner:\n  workers: 2\njobs:\n  a: [unclosed\n");
    expect(error.message).toMatch(/ujr\.config\.yaml:4:6: YAML syntax error: /);
  });

  it("an error past the end with nothing left open is reported on the last line", async () => {
    const error = await loadError("jobs:\n  a: |\n    text\n b\n\n");
    expect(error.code).toBe("UJR_CONFIG_YAML");
    expect(error.message).toMatch(/ujr\.config\.yaml:4:\d+: YAML syntax error: /);
  });
});

describe("loadRunnerSettings (what `ujr history` reads)", () => {
  const runner = "runner:\n  dataDir: ./state\n  executor:\n    kind: bullmq\n    redis: ${REDIS_URL}\n  workers: lots\njobs:\n  a:\n    plugin: \"@acme/not-installed\"\n    type: t\n    config: { token: \"${API_TOKEN}\" }\n";

  it("reads only the keys asked for: the executor's unset variable, the other keys and the jobs are not checked", async () => {
    project = projectOutsideWorkspace();
    const file = project.write("ujr.config.yaml", runner);
    const loaded = await loadRunnerSettings(file, ["dataDir", "history"], { env: {} });
    expect(loaded).toEqual({ file, dir: project.dir, runner: { dataDir: "./state" } });
  });

  it("a problem of a key asked for is reported with its code and line:col", async () => {
    const error = await rejection(
      (file) => loadRunnerSettings(file, ["dataDir", "history"], { env: {} }),
      "runner:\n  executor:\n    kind: bullmq\n    redis: ${REDIS_URL}\n  history:\n    file: ${HISTORY_FILE}\n    retention: { days: -1 }\n",
    );
    expect(error.code).toBe("UJR_CONFIG_INVALID");
    expect(error.issues.map(({ path, code, line, col }) => ({ path, code, line, col }))).toEqual([
      { path: "runner.history.file", code: "UJR_CONFIG_ENV_MISSING", line: 6, col: 11 },
      { path: "runner.history.retention.days", code: "too_small", line: 7, col: 24 },
    ]);
    expect(error.message).toContain(`${project.dir}/ujr.config.yaml:6:11 runner.history.file [UJR_CONFIG_ENV_MISSING]: environment variable HISTORY_FILE is not set.`);
  });
});
