import { afterEach, describe, expect, it } from "vitest";
import { execFile } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { defineJobType, definePlugin, JobDone, z } from "@ujr/core";
import { createRunner } from "./compose.js";
import { projectOutsideWorkspace } from "./__fixtures__/workspace.js";

let project: ReturnType<typeof projectOutsideWorkspace> | undefined;
const cleanups: Array<() => void> = [];
afterEach(() => {
  project?.cleanup();
  project = undefined;
  cleanups.splice(0).forEach((cleanup) => cleanup());
});

/** The error a promise rejects with (failing the test if it resolves). */
const rejection = (promise: Promise<unknown>): Promise<Error> =>
  promise.then(
    () => {
      throw new Error("expected createRunner to reject");
    },
    (error: unknown) => error as Error,
  );

const lines = (dir: string, job: string) => readFileSync(join(dir, "data", job, "lines.txt"), "utf8").trim().split("\n").sort();

describe("createRunner", () => {
  it("a script run from another working folder composes a runner from an installed plugin, by name and as an object", async () => {
    project = projectOutsideWorkspace({ withRunner: true });
    const script = project.write(
      "app/compose.mjs",
      [
        'import { createRunner } from "@ujr/runner-local";',
        'import fixture from "@acme/ujr-plugin-fixture";',
        "const runner = await createRunner({",
        "  baseDir: import.meta.dirname,",
        '  runner: { workers: 2, isolation: "process", dataDir: "./data", logLevel: "silent" },',
        "  jobs: {",
        '    byName: { plugin: "@acme/ujr-plugin-fixture", type: "count", config: { count: 3, label: "n" } },',
        '    byObject: { plugin: fixture, type: "count", config: { count: 2, label: "o" } },',
        "  },",
        "});",
        "const result = await runner.run();",
        "console.log(JSON.stringify(result));",
      ].join("\n"),
    );
    // The plugin is installed in the project, not in the workspace; install node_modules beside the script.
    project.write("app/package.json", JSON.stringify({ name: "app", type: "module", private: true }));
    const elsewhere = mkdtempSync(join(tmpdir(), "ujr-elsewhere-"));
    cleanups.push(() => rmSync(elsewhere, { recursive: true, force: true }));
    const { stdout } = await promisify(execFile)(process.execPath, [script], { cwd: elsewhere, timeout: 60_000 });
    const result = JSON.parse(stdout.trim().split("\n").pop()!) as { reason: string; tasks: { done: number; failed: number } };
    expect(result).toMatchObject({ reason: "done", tasks: { done: 5, failed: 0 } });
    const appDir = join(project.dir, "app");
    expect(lines(appDir, "byName")).toEqual(["n-0", "n-1", "n-2"]);
    expect(lines(appDir, "byObject")).toEqual(["o-0", "o-1"]);
  });

  it("tasks resolve from the plugin's own folder when baseDir has no node_modules", async () => {
    project = projectOutsideWorkspace();
    const empty = mkdtempSync(join(tmpdir(), "ujr-empty-"));
    cleanups.push(() => rmSync(empty, { recursive: true, force: true }));
    const pluginFile = join(project.dir, "node_modules/@acme/ujr-plugin-fixture/index.js");
    const runner = await createRunner({
      baseDir: empty,
      runner: { workers: 1, isolation: "thread", logLevel: "silent" },
      handleSignals: false,
      jobs: { far: { plugin: pluginFile, type: "count", config: { count: 2 } } },
    });
    expect(runner.loadedJobs.map((job) => job.settings.resolveFrom)).toEqual([[empty, join(project.dir, "node_modules/@acme/ujr-plugin-fixture")]]);
    await expect(runner.run()).resolves.toMatchObject({ reason: "done", tasks: { done: 2, failed: 0 } });
    expect(lines(empty, "far")).toEqual(["line-0", "line-1"]);
  });

  it("runner.status serves the runner's status while it runs", async () => {
    project = projectOutsideWorkspace();
    const runner = await createRunner({
      baseDir: project.dir,
      runner: { workers: 1, isolation: "thread", logLevel: "silent", status: { port: 0 } },
      handleSignals: false,
      jobs: { steady: { plugin: "@acme/ujr-plugin-fixture", type: "count", config: { count: 1, forever: true } } },
    });
    const finished = runner.run();
    await once(runner, "task:done");
    const status = (await (await fetch(`${runner.statusUrl}/status`)).json()) as { jobs: Array<{ name: string }> };
    expect(status.jobs.map((job) => job.name)).toEqual(["steady"]);
    runner.stop({ graceMs: 1000 });
    await finished;
    expect(runner.statusUrl).toBeUndefined();
  });

  it("checks every job as a config file would: all problems at once, each with its path", async () => {
    project = projectOutsideWorkspace();
    const error = await createRunner({
      baseDir: project.dir,
      runner: { workers: 0, checkIntervall: "5s" } as never,
      jobs: {
        typo: { plugin: "@acme/ujr-plugin-fixtrue", type: "count" },
        badType: { plugin: "@acme/ujr-plugin-fixture", type: "cuont" },
        badConfig: { plugin: "@acme/ujr-plugin-fixture", type: "count", config: { count: "3" } },
      },
    }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "UJR_CONFIG_INVALID", exitCode: 2 });
    const message = (error as Error).message;
    // A wrong runner section does not hide the jobs' problems.
    expect(message).toContain("createRunner() options has 5 problem(s):");
    expect(message).toContain("runner.workers: Too small: expected number to be >0");
    expect(message).toContain('runner.checkIntervall: unknown key "checkIntervall". Did you mean "checkInterval"?');
    expect(message).toContain('jobs.typo.plugin [UJR_PLUGIN_NOT_FOUND]: Plugin "@acme/ujr-plugin-fixtrue" was not found.');
    expect(message).toContain('did you mean "@acme/ujr-plugin-fixture"');
    expect(message).toContain('jobs.badType.type [UJR_JOB_TYPE_UNKNOWN]: Plugin "@acme/ujr-plugin-fixture" has no job type "cuont" (at jobs.badType.type). Did you mean "count"?');
    expect(message).toContain("jobs.badConfig.config.count: Invalid input: expected number, received string");
  });

  it("a job whose create() throws: UJR_JOB_CREATE_FAILED before anything runs, naming the job and the error", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ujr-compose-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    let closed = 0;
    const plugin = definePlugin({
      name: "inline",
      apiVersion: 1,
      jobs: {
        fine: defineJobType({
          config: z.object({}),
          create: (_config, ctx) => ({ name: ctx.name, getRunnableTasks: () => { throw new JobDone(); }, close: () => void closed++ }),
        }),
        broken: defineJobType({
          config: z.object({}),
          create: () => {
            throw new Error("cannot open the database: permission denied");
          },
        }),
      },
    });
    const error = await createRunner({ baseDir: dir, jobs: { ok: { plugin, type: "fine" }, bad: { plugin, type: "broken" } }, logLevel: "silent" }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "UJR_JOB_CREATE_FAILED", exitCode: 2, message: 'Job "bad" could not be created: cannot open the database: permission denied' });
    // The job that was made is closed again: nothing is left open.
    expect(closed).toBe(1);
  });

  it("a plugin object that is not a plugin is reported at its path", async () => {
    const error = await rejection(createRunner({ baseDir: tmpdir(), jobs: { a: { plugin: { name: "x" } as never, type: "t" } } }));
    expect(error.message).toContain('jobs.a.plugin [UJR_PLUGIN_INVALID]: Plugin object "x" (asked for by jobs.a.plugin) is not a ujr plugin: make it with definePlugin() from @ujr/core.');
  });
});
