import { afterEach, describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import AjvModule from "ajv";
import { definePlugin, defineJobType, z } from "@ujr/core";
import { parse as parseYaml } from "yaml";
import { main } from "../cli.js";
import { buildConfigJsonSchema } from "./schema.js";
import { projectOutsideWorkspace } from "../../../../packages/runner-local/src/__fixtures__/workspace.js";

const Ajv = ((AjvModule as unknown as { default?: unknown }).default ?? AjvModule) as typeof import("ajv").default;

let project: ReturnType<typeof projectOutsideWorkspace> | undefined;
afterEach(() => {
  project?.cleanup();
  project = undefined;
});

async function cli(argv: string[], cwd?: string) {
  const out: string[] = [];
  const err: string[] = [];
  const previous = process.cwd();
  if (cwd) process.chdir(cwd);
  try {
    const code = await main(argv, { out: (text) => out.push(text), err: (text) => err.push(text) });
    return { code, out: out.join("\n"), err: err.join("\n") };
  } finally {
    if (cwd) process.chdir(previous);
  }
}

function validator(schema: object) {
  const ajv = new Ajv({ allErrors: true, strict: false });
  const validate = ajv.compile(schema);
  return (yaml: string) => {
    const ok = validate(parseYaml(yaml));
    return { ok, errors: (validate.errors ?? []).map((error) => `${error.instancePath} ${error.message}`) };
  };
}

const fixtureJob = (config: string, type = "count") => `jobs:\n  a:\n    plugin: "@acme/ujr-plugin-fixture"\n    type: ${type}\n    config: ${config}\n`;

describe("ujr schema", () => {
  it("writes a schema that accepts a good config and rejects a bad job config, by plugin + type", async () => {
    project = projectOutsideWorkspace();
    const file = project.write("ujr.config.yaml", `# yaml-language-server: $schema=./ujr.schema.json\nrunner:\n  workers: 2\n  checkInterval: 30s\n${fixtureJob("{ count: 2 }")}`);
    const out = join(project.dir, "ujr.schema.json");
    const result = await cli(["schema", file, "--out", out]);
    expect(result).toMatchObject({ code: 0, out: expect.stringContaining("(1 plugin, 1 job type)") });
    const check = validator(JSON.parse(readFileSync(out, "utf8")));
    expect(check(readFileSync(file, "utf8"))).toEqual({ ok: true, errors: [] });
    // Job config checked against the job type's own schema:
    expect(check(fixtureJob('{ count: "two" }')).ok).toBe(false);
    expect(check(fixtureJob("{ label: x }")).errors.join()).toMatch(/must have required property 'count'/);
    expect(check(fixtureJob("{ count: 0 }")).ok).toBe(false);
    // A type the plugin does not declare, and core settings, are checked too:
    expect(check(fixtureJob("{ count: 2 }", "tally")).errors.join()).toMatch(/must be equal to one of the allowed values/);
    expect(check(`runner:\n  wrokers: 2\n`).ok).toBe(false);
    expect(check(`runner:\n  checkInterval: soon\n`).ok).toBe(false);
    // A plugin the schema does not know: only core's rules apply to its jobs.
    expect(check(`jobs:\n  b:\n    plugin: ./local.js\n    type: anything\n    config: { whatever: 1 }\n`).ok).toBe(true);
  });

  it("without a config: every installed ujr plugin, printed to stdout", async () => {
    project = projectOutsideWorkspace();
    const result = await cli(["schema"], project.dir);
    expect(result.code).toBe(0);
    const schema = JSON.parse(result.out) as { $schema: string; properties: { jobs: { additionalProperties: { allOf: unknown[] } } } };
    expect(schema.$schema).toBe("http://json-schema.org/draft-07/schema#");
    expect(JSON.stringify(schema.properties.jobs.additionalProperties.allOf)).toContain('"const":"@acme/ujr-plugin-fixture"');
    expect(validator(schema)(fixtureJob("{ count: -1 }")).ok).toBe(false);
  });

  it("a plugin that cannot be loaded is a problem (exit 2), the rest of the schema is still written", async () => {
    project = projectOutsideWorkspace();
    const file = project.write("ujr.config.yaml", `jobs:\n  a:\n    plugin: "@acme/nope"\n    type: x\n`);
    const result = await cli(["schema", file]);
    expect(result.code).toBe(2);
    expect(result.err).toMatch(/problem: @acme\/nope: Plugin "@acme\/nope" was not found/);
    expect(JSON.parse(result.out)).toHaveProperty("properties.runner");
  });

  it("keeps recursive job config schemas valid by moving their definitions to the root", () => {
    type Node = { name: string; children?: Node[] };
    const node: z.ZodType<Node> = z.lazy(() => z.object({ name: z.string(), children: z.array(node).optional() }));
    const plugin = definePlugin({ name: "tree", apiVersion: 1, jobs: { walk: defineJobType({ config: z.object({ root: node }), create: () => ({ name: "x", getRunnableTasks: () => [] }) }) } });
    const check = validator(buildConfigJsonSchema([{ specifier: "tree", plugin }]));
    const job = (config: string) => `jobs:\n  t:\n    plugin: tree\n    type: walk\n    config: ${config}\n`;
    expect(check(job('{ root: { name: a, children: [{ name: b }] } }')).ok).toBe(true);
    expect(check(job("{ root: { name: a, children: [{ name: 3 }] } }")).ok).toBe(false);
  });
});
