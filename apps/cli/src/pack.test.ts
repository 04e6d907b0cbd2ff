// The used-by path, end to end, as a new user takes it: every publishable package packed
// with `pnpm pack`, installed with plain npm into folders outside the workspace (no
// workspace links), a plugin scaffolded by the installed `ujr create-plugin`, installed,
// built, tested and packed with npm (and with pnpm), then installed beside a first-party
// plugin and run by package name. About a minute on two busy cores.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { filesEndingWith, mustRun, npmProject, packWorkspace, repoRoot, runCommand, userEnv, type NpmProject, type PackedWorkspace } from "./__fixtures__/packed-install.js";

const CLI = ["@ujr/cli", "@ujr/core", "@ujr/runner-local"];
// What a plugin-less install of the command must not bring: native builds, databases, queues, mail.
const HEAVY = ["better-sqlite3", "pg", "bullmq", "ioredis", "nodemailer", "msgpackr-extract", "@ujr/x-api-emulator", "@ujr/executor-bullmq", "@ujr/demo"];

let packed: PackedWorkspace;
// The CLI installed on its own: checked by the first test, used by the second to scaffold.
let cliAlone: NpmProject;
beforeAll(async () => {
  packed = await packWorkspace();
  cliAlone = packed.project("cli-alone");
  await cliAlone.install(...packed.withDependencies("@ujr/cli"));
}, 180_000);
// Several installed projects: removing them takes a while on a busy disk.
afterAll(() => packed?.cleanup(), 120_000);

/** Distinct tweet ids of raw pages (data and includes.tweets), read independently of the tidier. */
function tweetIds(files: string[]): Set<string> {
  const ids = new Set<string>();
  for (const file of files) {
    for (const line of readFileSync(file, "utf8").split("\n")) {
      if (!line.trim()) continue;
      const page = JSON.parse(line) as { data?: Array<{ id: string }>; includes?: { tweets?: Array<{ id: string }> } };
      for (const tweet of [...(page.data ?? []), ...(page.includes?.tweets ?? [])]) ids.add(tweet.id);
    }
  }
  return ids;
}

describe("published packages, installed with npm outside the workspace", () => {
  it("packs every publishable package, the demo included", () => {
    expect([...packed.tarballs.keys()].sort()).toEqual(
      expect.arrayContaining(["@ujr/cli", "@ujr/core", "@ujr/demo", "@ujr/executor-bullmq", "@ujr/plugin-dataset-summary", "@ujr/plugin-tweet-tidier", "@ujr/plugin-twitter-collector", "@ujr/runner-local", "@ujr/x-api-emulator"]),
    );
  });

  it("the CLI alone is small, builds nothing native, and names the package to install for `ujr demo`, `ujr worker` and a BullMQ config", async () => {
    const project = cliAlone;
    expect(packed.withDependencies("@ujr/cli").sort()).toEqual(packed.of(...CLI).sort());
    const installed = project.installed();
    expect(installed).toEqual(expect.arrayContaining(CLI));
    expect(installed.filter((name) => HEAVY.includes(name))).toEqual([]);
    expect(filesEndingWith(join(project.dir, "node_modules"), ".node")).toEqual([]);
    expect(project.size()).toBeLessThan(25 * 1024 * 1024);

    const demo = await project.bin("ujr", ["demo"]);
    expect(demo.code).toBe(2);
    expect(demo.stderr).toContain("ujr: UJR_CLI_PACKAGE_MISSING");
    expect(demo.stderr).toContain("`ujr demo` needs the package @ujr/demo");
    expect(demo.stderr).toContain("install it: npm install @ujr/demo");

    const worker = await project.bin("ujr", ["worker", "--redis", "redis://127.0.0.1:6379"]);
    expect(worker.code).toBe(2);
    expect(worker.stderr).toContain("`ujr worker` needs the package @ujr/executor-bullmq");
    expect(worker.stderr).toContain("install it: npm install @ujr/executor-bullmq");

    // A config asking for the distributed executor: found from the config's folder, or named.
    project.write("queue/ujr.config.yaml", "runner:\n  executor:\n    kind: bullmq\n    redis: redis://127.0.0.1:6379\njobs: {}\n");
    const queued = await project.bin("ujr", ["run", "queue/ujr.config.yaml", "--no-watch"]);
    expect(queued.code).toBe(2);
    expect(queued.stderr).toContain("`ujr run` needs the package @ujr/executor-bullmq");
    expect(queued.stderr).toContain(`install it: cd ${join(project.dir, "queue")} && npm install @ujr/executor-bullmq`);

    // The plugin guide ships with @ujr/core, where the scaffold's README points.
    expect(readFileSync(join(project.dir, "node_modules/@ujr/core/docs/plugin-authoring.md"), "utf8")).toContain("definePlugin");
  }, 120_000);

  it("a scaffolded plugin installs, builds, tests and packs with npm and pnpm, then runs beside the tidier by package name; the demo runs from its package", async () => {
    const project = packed.project("project");
    // The project's install runs while the plugin is scaffolded and built.
    const projectInstalled = project.install(...packed.withDependencies("@ujr/cli", "@ujr/plugin-tweet-tidier", "@ujr/demo")).then(
      () => undefined,
      (error: unknown) => error,
    );

    // Scaffold with the installed command (its templates come from the tarball).
    const pluginDir = join(packed.root, "ujr-plugin-hello");
    const created = await cliAlone.bin("ujr", ["create-plugin", "@acme/ujr-plugin-hello", "--dir", pluginDir, "--type", "say-hello"]);
    expect(created.code).toBe(0);
    expect(created.stdout).toContain("npm install");
    // The same scaffold, for pnpm (checked below).
    const pnpmDir = join(packed.root, "ujr-plugin-hello-pnpm");
    cpSync(pluginDir, pnpmDir, { recursive: true });
    const plugin = npmProject(pluginDir);
    // @ujr/core is not on the registry yet: its tarball stands in for `^0.1.0` (npm resolves the rest).
    await plugin.install("--save-dev", ...packed.of("@ujr/core"));
    await mustRun("npm", ["run", "build"], { cwd: pluginDir });
    const tested = await plugin.run("npm", ["test"]);
    expect(tested.code, tested.stdout + tested.stderr).toBe(0);
    expect(tested.stdout).toMatch(/Tests\s+3 passed/);
    expect((await plugin.run("npm", ["run", "lint"])).code).toBe(0);

    // A failing test is reported as a failure (not a reporter crash) on this Node.
    const testFile = join(pluginDir, "src/index.test.ts");
    const passing = readFileSync(testFile, "utf8");
    writeFileSync(testFile, passing.replace("expect(result.bytes).toBe(3);", "expect(result.bytes).toBe(4);"));
    const failing = await plugin.run("npm", ["test"]);
    expect(failing.code).toBe(1);
    expect(failing.stdout).toMatch(/Tests\s+1 failed \| 2 passed/);
    expect(failing.stdout + failing.stderr).toContain("AssertionError: expected 3 to be 4");
    expect(failing.stdout + failing.stderr).not.toContain("is not a function");
    writeFileSync(testFile, passing);

    const packs = join(packed.root, "plugin-packs");
    mkdirSync(packs);
    await mustRun("npm", ["pack", "--pack-destination", packs], { cwd: pluginDir });
    const pluginTarball = join(packs, "acme-ujr-plugin-hello-0.1.0.tgz");
    expect(existsSync(pluginTarball)).toBe(true);

    // With pnpm (outside any workspace), the scaffold installs, builds, tests and packs too.
    await mustRun("pnpm", ["add", "--save-dev", ...packed.of("@ujr/core")], { cwd: pnpmDir });
    await mustRun("pnpm", ["run", "build"], { cwd: pnpmDir });
    expect((await mustRun("pnpm", ["test"], { cwd: pnpmDir })).stdout).toMatch(/Tests\s+3 passed/);
    await mustRun("pnpm", ["pack"], { cwd: pnpmDir });
    expect(existsSync(join(pnpmDir, "acme-ujr-plugin-hello-0.1.0.tgz"))).toBe(true);

    const installFailed = await projectInstalled;
    if (installFailed) throw installFailed;
    await project.install(pluginTarball);
    mkdirSync(join(project.dir, "raw"));
    const pages = ["two_tweets.jsonl", "brexit.jsonl"].map((name) => {
      copyFileSync(join(repoRoot, "fixtures/twitter", name), join(project.dir, "raw", name));
      return join(project.dir, "raw", name);
    });
    project.write(
      "ujr.config.yaml",
      `runner:
  workers: 2
jobs:
  greet:
    plugin: "@acme/ujr-plugin-hello"
    type: say-hello
    config:
      message: made by create-plugin
  tidy:
    plugin: "@ujr/plugin-tweet-tidier"
    type: tidy
    config:
      inputs: [./raw]
      database: ./tidy.sqlite
      mode: once
`,
    );

    const validated = await project.bin("ujr", ["validate"]);
    expect(validated.stderr).toBe("");
    expect(validated.code).toBe(0);
    expect(validated.stdout).toContain("valid (2 jobs)");
    expect(validated.stdout).toMatch(/greet: @acme\/ujr-plugin-hello say-hello/);

    const plugins = await project.bin("ujr", ["plugins", "--json"]);
    expect(plugins.code).toBe(0);
    const listed = (JSON.parse(plugins.stdout) as { plugins: Array<{ name: string; jobTypes: Record<string, unknown> }> }).plugins;
    expect(Object.fromEntries(listed.map((entry) => [entry.name, Object.keys(entry.jobTypes)]))).toMatchObject({
      "@acme/ujr-plugin-hello": ["say-hello"],
      "@ujr/plugin-tweet-tidier": ["tidy"],
    });

    const ran = await project.bin("ujr", ["run", "--no-watch", "--log-level", "warn"]);
    expect(ran.stderr).toBe("");
    expect(ran.code).toBe(0);
    expect(readFileSync(join(project.dir, "data/greet/message.txt"), "utf8")).toBe("made by create-plugin\n");
    // The tidy database, read by a script of the project through the installed tidier.
    const counted = await project.run(process.execPath, [
      "--input-type=module",
      "-e",
      'import { openStore } from "@ujr/plugin-tweet-tidier"; const store = await openStore("./tidy.sqlite"); console.log(await store.count("tweets")); await store.close();',
    ]);
    expect(counted.stderr).toBe("");
    expect(Number(counted.stdout.trim())).toBe(tweetIds(pages).size);

    // A typo in a plugin name stops before any task runs (exit 2) with the plugin's error.
    project.write("typo.yaml", 'jobs:\n  greet:\n    plugin: "@acme/ujr-plugin-helo"\n    type: say-hello\n');
    const typo = await project.bin("ujr", ["validate", "typo.yaml"]);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain("ujr: UJR_CONFIG_INVALID");
    expect(typo.stderr).toContain('jobs.greet.plugin [UJR_PLUGIN_NOT_FOUND]: Plugin "@acme/ujr-plugin-helo" was not found.');

    // `ujr demo` finds @ujr/demo in the project, and its config names plugins by package name.
    const demo = await project.bin("ujr", ["demo", "--dir", "demo"]);
    expect(demo.stderr).toBe("");
    expect(demo.code).toBe(0);
    expect(demo.stdout).toMatch(/database: +demo\/tidy\.sqlite \(\d+ tweets, \d+ users\)/);
    expect(existsSync(join(project.dir, "demo/reports/summary/latest/report.html"))).toBe(true);
    expect(readFileSync(join(project.dir, "demo/ujr.config.yaml"), "utf8")).toContain('plugin: "@ujr/plugin-tweet-tidier"');
    const rerun = await project.bin("ujr", ["run", "demo/ujr.config.yaml", "--job", "tidy", "--no-watch", "--log-level", "warn"]);
    expect(rerun.code).toBe(0);

    // The same runner composed in code, from a script of a project of its own, run from
    // another working folder: task modules resolve from the plugins' folders.
    const script = packed.project("script");
    await script.install(...packed.withDependencies("@ujr/runner-local", "@ujr/plugin-tweet-tidier"), pluginTarball);
    mkdirSync(join(script.dir, "raw"));
    for (const page of pages) copyFileSync(page, join(script.dir, "raw", basename(page)));
    script.write(
      "compose.mjs",
      `import { createRunner } from "@ujr/runner-local";
const runner = await createRunner({
  baseDir: import.meta.dirname,
  runner: { workers: 2, dataDir: "./data" },
  jobs: {
    greet: { plugin: "@acme/ujr-plugin-hello", type: "say-hello", config: { message: "composed in code" } },
    tidy: { plugin: "@ujr/plugin-tweet-tidier", type: "tidy", config: { inputs: ["./raw"], database: "./tidy.sqlite", mode: "once" } },
  },
  logLevel: "warn",
  handleSignals: false,
});
const result = await runner.run();
console.log(JSON.stringify({ reason: result.reason, failedJobs: result.failedJobs, outcomes: Object.fromEntries(Object.entries(result.jobs).map(([name, job]) => [name, job.outcome])) }));
`,
    );
    const composed = await runCommand(process.execPath, [join(script.dir, "compose.mjs")], { cwd: packed.root, env: userEnv() });
    expect(composed.stderr).toBe("");
    expect(composed.code).toBe(0);
    expect(JSON.parse(composed.stdout.trim().split("\n").at(-1)!)).toEqual({ reason: "done", failedJobs: [], outcomes: { greet: "done", tidy: "done" } });
    expect(readFileSync(join(script.dir, "data/greet/message.txt"), "utf8")).toBe("composed in code\n");
    const composedCount = await script.run(process.execPath, [
      "--input-type=module",
      "-e",
      'import { openStore } from "@ujr/plugin-tweet-tidier"; const store = await openStore("./tidy.sqlite"); console.log(await store.count("tweets")); await store.close();',
    ]);
    expect(Number(composedCount.stdout.trim())).toBe(tweetIds(pages).size);
  }, 300_000);
});
