// `ujr plugins` and `ujr schema` without a config list the plugins installed where Node
// finds the packages a config names: the node_modules of the working folder and of each
// folder above it (`npm install` in a project, the config in a subfolder of it).
import { afterEach, describe, expect, it } from "vitest";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { main } from "./cli.js";
import { projectOutsideWorkspace } from "../../../packages/runner-local/src/__fixtures__/workspace.js";

let project: ReturnType<typeof projectOutsideWorkspace> | undefined;
let temp: string | undefined;
afterEach(() => {
  project?.cleanup();
  project = undefined;
  if (temp) rmSync(temp, { recursive: true, force: true });
  temp = undefined;
});

/** `ujr <argv>` run in this process from the folder `cwd`. */
async function cliIn(cwd: string, argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const previous = process.cwd();
  process.chdir(cwd);
  try {
    const code = await main(argv, { out: (text) => out.push(text), err: (text) => err.push(text) });
    return { code, out: out.join("\n"), err: err.join("\n") };
  } finally {
    process.chdir(previous);
  }
}

function write(path: string, text: string): string {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
  return path;
}

/** A package that is no ujr plugin (no "ujr-plugin" keyword). */
function installPlain(modules: string, name: string): void {
  write(join(modules, name, "package.json"), JSON.stringify({ name, version: "1.0.0", type: "module", exports: { ".": "./index.js" } }));
  write(join(modules, name, "index.js"), "export default {};\n");
}

const fixtureJob = `jobs:\n  a:\n    plugin: "@acme/ujr-plugin-fixture"\n    type: count\n    config: { count: 1 }\n`;

/** The fixture plugin installed in `<project>/node_modules`; the config in `<project>/pipe`, which has no node_modules. */
function projectWithConfigInSubfolder(config = fixtureJob) {
  project = projectOutsideWorkspace();
  const pipe = join(project.dir, "pipe");
  write(join(pipe, "ujr.config.yaml"), config);
  return { dir: project.dir, pipe };
}

describe("ujr plugins without a config: where Node looks, walking up", () => {
  it("lists a plugin installed one folder up, and says where it was found", async () => {
    const { pipe } = projectWithConfigInSubfolder();
    const result = await cliIn(pipe, ["plugins"]);
    expect(result).toMatchObject({ code: 0, err: "" });
    expect(result.out).toMatch(/^@acme\/ujr-plugin-fixture@1\.0\.0 \(plugin API v1\), installed in \.\.\/node_modules\n {2}job type "count"/);
    expect(result.out).not.toContain("No ujr plugins");
    expect(result.out).not.toContain("also names");
  });

  it("a package of the same name nearer hides the one further up, as it does for the runner's import", async () => {
    const { dir, pipe } = projectWithConfigInSubfolder();
    const nearer = join(pipe, "node_modules", "@acme", "ujr-plugin-fixture");
    cpSync(join(dir, "node_modules", "@acme", "ujr-plugin-fixture"), nearer, { recursive: true });
    const manifest = JSON.parse(readFileSync(join(nearer, "package.json"), "utf8")) as Record<string, unknown>;
    writeFileSync(join(nearer, "package.json"), JSON.stringify({ ...manifest, version: "2.0.0" }));
    mkdirSync(join(pipe, "node_modules", "@ujr"));
    cpSync(join(dir, "node_modules", "@ujr", "core"), join(pipe, "node_modules", "@ujr", "core"), { verbatimSymlinks: true });
    const listed = await cliIn(pipe, ["plugins"]);
    expect(listed.code).toBe(0);
    expect(listed.out).toContain("@acme/ujr-plugin-fixture@2.0.0 (plugin API v1), installed in ./node_modules");
    expect(listed.out).not.toContain("@1.0.0");

    // The nearer copy without the keyword: neither is listed, and the config's use of it says why.
    writeFileSync(join(nearer, "package.json"), JSON.stringify({ ...manifest, keywords: [] }));
    const hidden = await cliIn(pipe, ["plugins"]);
    expect(hidden.out).toContain(
      `./ujr.config.yaml also names plugins not listed here (\`ujr plugins ujr.config.yaml\` shows the plugins it names):\n  @acme/ujr-plugin-fixture: installed in ${nearer}, but its package.json has no "ujr-plugin" keyword (add it there if the plugin is yours)`,
    );
  });

  it("finding none, says where it looked", async () => {
    temp = mkdtempSync(join(tmpdir(), "ujr-none-"));
    installPlain(join(temp, "node_modules"), "left-pad");
    const result = await cliIn(temp, ["plugins"]);
    expect(result.code).toBe(0);
    expect(result.out).toMatch(
      new RegExp(
        `^No ujr plugins found: no package in ${join(temp, "node_modules")}(, \\S+)* has the "ujr-plugin" keyword \\(looked where Node finds the packages a config names: the node_modules folders of ${temp} and of the folders above it\\)\\. Install one \\(e\\.g\\. npm install @ujr/plugin-tweet-tidier\\) or pass a config file\\.$`,
      ),
    );
  });

  it("gives, for each plugin ./ujr.config.yaml names that it does not list, the real reason", async () => {
    const { dir, pipe } = projectWithConfigInSubfolder(
      `${fixtureJob}  b:\n    plugin: ./my-plugin.js\n    type: go\n  c:\n    plugin: "@acme/plain"\n    type: go\n  d:\n    plugin: "@acme/missing"\n    type: go\n`,
    );
    installPlain(join(dir, "node_modules"), "@acme/plain");
    const result = await cliIn(pipe, ["plugins"]);
    expect(result.code).toBe(0);
    expect(result.out).toContain("@acme/ujr-plugin-fixture@1.0.0 (plugin API v1), installed in ../node_modules");
    const notListed = result.out.slice(result.out.indexOf("./ujr.config.yaml also names")).split("\n");
    expect(notListed.slice(0, 3)).toEqual([
      "./ujr.config.yaml also names plugins not listed here (`ujr plugins ujr.config.yaml` shows the plugins it names):",
      "  ./my-plugin.js: a file, not an installed package",
      `  @acme/plain: installed in ${join(dir, "node_modules", "@acme", "plain")}, but its package.json has no "ujr-plugin" keyword (add it there if the plugin is yours)`,
    ]);
    expect(notListed[3]).toMatch(
      new RegExp(`^ {2}@acme/missing: not installed \\(not in ${join(dir, "node_modules")}(, \\S+)*\\), so \`ujr run\` cannot load it either; install it: npm install @acme/missing$`),
    );
    expect(notListed).toHaveLength(4);
  });
});

describe("ujr schema without a config", () => {
  it("describes a plugin installed one folder up", async () => {
    const { pipe } = projectWithConfigInSubfolder();
    const result = await cliIn(pipe, ["schema", "--out", "ujr.schema.json"]);
    expect(result).toEqual({ code: 0, out: `wrote ${join(pipe, "ujr.schema.json")} (1 plugin, 1 job type)`, err: "" });
    expect(readFileSync(join(pipe, "ujr.schema.json"), "utf8")).toContain('"const": "@acme/ujr-plugin-fixture"');
  });

  it("finding no plugin for ./ujr.config.yaml, still writes the schema but warns, naming where it looked and why each plugin is missing", async () => {
    temp = mkdtempSync(join(tmpdir(), "ujr-none-"));
    installPlain(join(temp, "node_modules"), "@acme/plain");
    write(join(temp, "ujr.config.yaml"), `jobs:\n  c:\n    plugin: "@acme/plain"\n    type: go\n`);
    const result = await cliIn(temp, ["schema", "--out", "ujr.schema.json"]);
    expect(result.code).toBe(0);
    expect(result.out).toBe(`wrote ${join(temp, "ujr.schema.json")} (0 plugins, 0 job types)`);
    const [none, ...rest] = result.err.split("\n");
    expect(none).toMatch(new RegExp(`^warning: no ujr plugins found: no package in ${join(temp, "node_modules")}(, \\S+)* has the "ujr-plugin" keyword .*\\. The schema describes ujr's own settings only, no job type's config\\.$`));
    expect(rest).toEqual([
      "warning: ./ujr.config.yaml names plugins this schema does not describe (`ujr schema ujr.config.yaml --out ujr.schema.json` describes the plugins it names):",
      `  @acme/plain: installed in ${join(temp, "node_modules", "@acme", "plain")}, but its package.json has no "ujr-plugin" keyword (add it there if the plugin is yours)`,
    ]);
  });
});
