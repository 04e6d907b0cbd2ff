import { afterEach, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { definePlugin, defineJobType, z, type Plugin } from "@ujr/core";
import { projectOutsideWorkspace } from "../__fixtures__/workspace.js";
import { loadConfigFile, type ConfigError } from "./load.js";
import { resolveConfig } from "./resolve-config.js";

let project: ReturnType<typeof projectOutsideWorkspace>;
afterEach(() => project?.cleanup());

/** The problem a config naming `plugin` (a file written in the project) gets, and the whole message. */
async function pluginProblem(files: Record<string, string>, plugin: string, type = "go") {
  project = projectOutsideWorkspace();
  for (const [name, text] of Object.entries(files)) project.write(name, text);
  const file = project.write("ujr.config.yaml", `jobs:\n  a:\n    plugin: ${plugin}\n    type: ${type}\n`);
  const error = (await loadConfigFile(file, { env: {} }).then(
    () => {
      throw new Error("expected the config to be rejected");
    },
    (e: unknown) => e,
  )) as ConfigError;
  expect(error.code).toBe("UJR_CONFIG_INVALID");
  expect(error.issues).toHaveLength(1);
  return { issue: error.issues[0]!, message: error.message };
}

const pluginWith = (jobType: string) =>
  `import { definePlugin, defineJobType, defineTask, z } from "@ujr/core";\nexport default definePlugin({ name: "shaky", apiVersion: 1, jobs: { go: ${jobType} } });\n`;
const create = "create: (c, ctx) => ({ name: ctx.name, getRunnableTasks: () => [] })";

describe("a badly shaped plugin is a problem of the config, not an internal error", () => {
  // The trial's plugin: `tasks` listed the task module's URL instead of the tasks.
  it("tasks given as module URLs: UJR_PLUGIN_INVALID naming the file, the job type and tasks", async () => {
    const { issue, message } = await pluginProblem({ "plugin.mjs": pluginWith(`defineJobType({ config: z.object({}), tasks: [new URL("./tasks.mjs", import.meta.url).href], ${create} })`) }, "./plugin.mjs");
    expect(issue).toMatchObject({ code: "UJR_PLUGIN_INVALID", path: "jobs.a.plugin", line: 3 });
    expect(issue.message).toBe(
      `File "./plugin.mjs" (asked for by jobs.a.plugin) is not a valid ujr plugin: job type "go": tasks[0] is the string "file://${project.dir}/tasks.mjs"; each entry of tasks must be a task made with defineTask() from @ujr/core (the defined task itself, imported from its module, not the module's URL).`,
    );
    expect(message).toContain("ujr.config.yaml:3:13 jobs.a.plugin [UJR_PLUGIN_INVALID]: File \"./plugin.mjs\"");
    expect(message).not.toMatch(/TypeError|Cannot read properties/);
  });

  const shapes: Array<[string, string, string]> = [
    ["create is not a function", `defineJobType({ config: z.object({}), create: "make" })`, `job type "go": create is the string "make"; it must be a function (config, ctx) => job`],
    ["config is not a zod schema", `defineJobType({ config: { count: "number" }, ${create} })`, `job type "go": config is an object; it must be a zod schema, such as z.object({ ... }) (z from @ujr/core)`],
    ["tasks is not an array", `defineJobType({ config: z.object({}), tasks: defineTask({ module: import.meta.url, name: "t", run: () => 1 }), ${create} })`, `job type "go": tasks is an object; it must be an array of tasks made with defineTask() from @ujr/core`],
    ["a job type that is not an object", `null`, `job type "go" is null; make it with defineJobType({ config, create })`],
  ];
  for (const [name, jobType, reason] of shapes) {
    it(`${name}: UJR_PLUGIN_INVALID naming the job type and the field`, async () => {
      const { issue } = await pluginProblem({ "plugin.mjs": pluginWith(jobType) }, "./plugin.mjs");
      expect(issue).toMatchObject({ code: "UJR_PLUGIN_INVALID", path: "jobs.a.plugin" });
      expect(issue.message).toBe(`File "./plugin.mjs" (asked for by jobs.a.plugin) is not a valid ujr plugin: ${reason}.`);
    });
  }

  it("jobs that is not an object of job types", async () => {
    const { issue } = await pluginProblem({ "plugin.mjs": 'import { definePlugin } from "@ujr/core";\nexport default definePlugin({ name: "x", apiVersion: 1, jobs: ["go"] });\n' }, "./plugin.mjs");
    // definePlugin spreads jobs into an object: the array's entries become job types "0", ...
    expect(issue.message).toContain('is not a valid ujr plugin: job type "0" is the string "go"; make it with defineJobType({ config, create })');
  });

  it("a plugin object handed over in code is checked the same way", async () => {
    const plugin = definePlugin({ name: "inline", apiVersion: 1, jobs: { go: defineJobType({ config: z.object({}), create: 5 as never }) } });
    const resolved = await resolveConfig({ jobs: { a: { plugin: "inline", type: "go" } } }, { dir: process.cwd(), file: "createRunner() options", pluginObjects: new Map<string, Plugin>([["a", plugin]]) });
    expect(resolved.issues).toEqual([
      {
        path: "jobs.a.plugin",
        code: "UJR_PLUGIN_INVALID",
        message: 'Plugin object "inline" (asked for by jobs.a.plugin) is not a valid ujr plugin: job type "go": create is a number; it must be a function (config, ctx) => job.',
      },
    ]);
  });

  it('a job type named like an Object property ("toString") is unknown, not Object.prototype.toString', async () => {
    const { issue } = await pluginProblem({}, '"@acme/ujr-plugin-fixture"', "toString");
    expect(issue).toMatchObject({ code: "UJR_JOB_TYPE_UNKNOWN", path: "jobs.a.type" });
    expect(issue.message).toBe('Plugin "@acme/ujr-plugin-fixture" has no job type "toString" (at jobs.a.type). Known job types: count.');
  });

  it("a local file that is not a plugin is called a file, not a package", async () => {
    const { issue } = await pluginProblem({ "nodefault.mjs": "export const x = 1;\n" }, "./nodefault.mjs");
    expect(issue.message).toBe('File "./nodefault.mjs" (asked for by jobs.a.plugin) is not a ujr plugin: its default export must be made with definePlugin() from @ujr/core.');
  });
});

/**
 * The problem Node itself gives when it imports the plugin: vitest's module runner imports
 * files its own way (it does not apply a package.json's "type"), so this runs the built
 * loader in a plain Node process.
 */
function problemInNode(files: Record<string, string>, plugin: string): { code: string; message: string } {
  project = projectOutsideWorkspace();
  for (const [name, text] of Object.entries(files)) project.write(name, text);
  const file = project.write("ujr.config.yaml", `jobs:\n  a:\n    plugin: ${plugin}\n    type: go\n`);
  const script = `import { loadConfigFile } from ${JSON.stringify(new URL("../../dist/config/load.js", import.meta.url).href)};
    loadConfigFile(${JSON.stringify(file)}, { env: {} }).then(() => console.log("{}"), (e) => console.log(JSON.stringify(e.issues?.[0] ?? { code: e.code, message: e.stack })));`;
  const result = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" });
  expect(result.stderr).not.toMatch(/Error/);
  return JSON.parse(result.stdout) as { code: string; message: string };
}

describe("an ES module that Node reads as CommonJS: the real cause and the fix", () => {
  const plugin = `import { definePlugin } from "@ujr/core";\nexport default definePlugin({ name: "x", apiVersion: 1, jobs: {} });\n`;
  // npm 11's `npm init -y` writes "type": "commonjs".
  const commonjs = JSON.stringify({ name: "mine", version: "1.0.0", type: "commonjs" });

  it("import in a .js file of a CommonJS package: names the file and the package.json to change, not 'built and installed'", () => {
    const issue = problemInNode({ "package.json": commonjs, "plugin.js": plugin }, "./plugin.js");
    expect(issue).toMatchObject({ code: "UJR_PLUGIN_LOAD_FAILED", path: "jobs.a.plugin" });
    expect(issue.message).toBe(
      `Plugin "./plugin.js" (asked for by jobs.a.plugin) failed to load: ${project.dir}/plugin.js is an ES module (it uses import/export), but ${project.dir}/package.json makes .js files CommonJS (its "type" is not "module"). Add "type": "module" to ${project.dir}/package.json (npm pkg set type=module), or rename the file .mjs.`,
    );
  });

  it("an ES module plugin importing a .js module of a CommonJS package written as ESM: names that module", () => {
    const issue = problemInNode(
      {
        "package.json": commonjs,
        "lib/tasks.js": 'import { defineTask } from "@ujr/core";\nexport const work = defineTask({ module: import.meta.url, name: "work", run: () => 1 });\n',
        "plugin.mjs": `import { work } from "./lib/tasks.js";\n${plugin}`,
      },
      "./plugin.mjs",
    );
    expect(issue.code).toBe("UJR_PLUGIN_LOAD_FAILED");
    expect(issue.message).toContain(`failed to load: ${project.dir}/lib/tasks.js is an ES module (it uses import/export), but ${project.dir}/package.json makes .js files CommonJS`);
  });

  it("an installed package written as ESM whose package.json says CommonJS: names its file and its package.json", () => {
    const issue = problemInNode(
      {
        "node_modules/esm-as-cjs/package.json": JSON.stringify({ name: "esm-as-cjs", type: "commonjs", main: "index.js" }),
        "node_modules/esm-as-cjs/index.js": "export const work = 1;\n",
        "plugin.mjs": `import { work } from "esm-as-cjs";\n${plugin}`,
      },
      "./plugin.mjs",
    );
    expect(issue.message).toContain(
      `failed to load: ${project.dir}/node_modules/esm-as-cjs/index.js is an ES module (it uses import/export), but ${project.dir}/node_modules/esm-as-cjs/package.json makes .js files CommonJS`,
    );
  });

  it("a real CommonJS module that lacks the named export keeps Node's own message", () => {
    const issue = problemInNode({ "package.json": commonjs, "tasks.js": "exports.other = 1;\n", "plugin.mjs": `import { work } from "./tasks.js";\n${plugin}` }, "./plugin.mjs");
    expect(issue.message).toContain("failed to load: Named export 'work' not found.");
    expect(issue.message).not.toContain('"type": "module"');
    expect(issue.message).toMatch(/Fix that file, or the modules it imports\.$/);
  });
});
