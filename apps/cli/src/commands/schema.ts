import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { configFileSchema, toTaskFailure, z, type JobType, type Plugin } from "@ujr/core";
import { configFolder, loadPlugin } from "@ujr/runner-local";
import { checkPositionals, DEFAULT_CONFIG, parse, UsageError } from "../args.js";
import { pluginsNamedIn } from "../config-plugins.js";
import { configPluginsNotFound, describeNotFound, findInstalledPlugins, whyNoPluginFound } from "../installed-plugins.js";
import type { Output } from "../output.js";

export const schemaHelp = `ujr schema [config] [--out <file>]
  Writes the JSON Schema of a config file: ujr's own settings plus, for each job, the config
  schema of its plugin's job type (matched on plugin + type). With a config: the plugins it
  names; without: every ujr plugin installed here, found as \`ujr plugins\` finds them (with a
  warning when there is none, or ./${DEFAULT_CONFIG} names plugins it leaves out). Point an
  editor at it with the first line
  # yaml-language-server: $schema=./ujr.schema.json
  --out <file>   write to this file instead of stdout`;

type JsonSchema = Record<string, unknown>;

/** A plugin to describe, under the specifier a config names it by. */
export interface SchemaPlugin {
  specifier: string;
  plugin: Plugin;
}

const DRAFT = "http://json-schema.org/draft-07/schema#";

function toJsonSchema(schema: z.ZodType): JsonSchema {
  // draft-7: what yaml-language-server (VS Code, ...) and most validators understand best.
  return z.toJSONSchema(schema, { target: "draft-7", io: "input", unrepresentable: "any" }) as JsonSchema;
}

/** The pattern of duration strings (core checks them with a refinement, which JSON Schema cannot carry). */
const DURATION_PATTERN = "^\\s*(\\d+(?:\\.\\d+)?)\\s*(ms|s|m|h|d)?\\s*$";

/** Adds the duration pattern to core's duration fields: `anyOf: [number >= 0, string]`. */
function markDurations(value: unknown): void {
  if (Array.isArray(value)) return value.forEach(markDurations);
  if (typeof value !== "object" || value === null) return;
  const node = value as Record<string, unknown>;
  const anyOf = node.anyOf as Array<Record<string, unknown>> | undefined;
  if (Array.isArray(anyOf) && anyOf.length === 2 && anyOf[0]?.type === "number" && anyOf[0]?.minimum === 0 && anyOf[1]?.type === "string" && Object.keys(anyOf[1]).length === 1) {
    anyOf[1].pattern = DURATION_PATTERN;
    anyOf[1].description = 'A duration such as "500ms", "30s", "5m", "2h" or "1d".';
  }
  for (const inner of Object.values(node)) markDurations(inner);
}

/**
 * Embeds `schema` in a bigger document: moves its definitions into the root's, under a
 * prefix, and rewrites its `$ref`s to point there.
 */
function embed(schema: JsonSchema, prefix: string, rootDefinitions: Record<string, unknown>): JsonSchema {
  const { $schema: _drop, definitions, $defs, ...rest } = schema;
  const local = { ...(definitions as Record<string, unknown> | undefined), ...($defs as Record<string, unknown> | undefined) };
  const hasDefs = Object.keys(local).length > 0;
  const rewrite = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(rewrite);
    if (typeof value !== "object" || value === null) return value;
    const copy: Record<string, unknown> = {};
    for (const [key, inner] of Object.entries(value)) {
      if (key === "$ref" && typeof inner === "string") {
        const match = /^#\/(?:definitions|\$defs)\/(.+)$/.exec(inner);
        if (match) copy[key] = `#/definitions/${encodeURIComponent(prefix)}${match[1]}`;
        else if (inner === "#") copy[key] = `#/definitions/${encodeURIComponent(prefix)}`;
        else copy[key] = inner;
      } else copy[key] = rewrite(inner);
    }
    return copy;
  };
  const body = rewrite(rest) as JsonSchema;
  if (hasDefs || JSON.stringify(rest).includes('"$ref":"#"')) {
    for (const [name, definition] of Object.entries(local)) rootDefinitions[`${prefix}${name}`] = rewrite(definition);
    rootDefinitions[prefix] = body;
  }
  return body;
}

/**
 * The JSON Schema of a config file naming these plugins: core's config schema, where each
 * job entry whose `plugin` and `type` match a known job type has its `config` checked
 * against that job type's schema (draft-07 if/then), and whose `type` must be one the
 * plugin declares.
 */
export function buildConfigJsonSchema(plugins: SchemaPlugin[]): JsonSchema {
  const root = toJsonSchema(configFileSchema);
  markDurations(root);
  const definitions: Record<string, unknown> = { ...(root.definitions as Record<string, unknown> | undefined) };
  const jobs = (root.properties as Record<string, JsonSchema>).jobs!;
  const entry = jobs.additionalProperties as JsonSchema;
  const rules: JsonSchema[] = [];
  for (const { specifier, plugin } of plugins) {
    const types = Object.keys(plugin.jobs);
    rules.push({
      if: { properties: { plugin: { const: specifier } }, required: ["plugin"] },
      then: { properties: { type: { enum: types, description: `A job type of ${plugin.name}.` } } },
    });
    for (const [type, jobType] of Object.entries(plugin.jobs) as Array<[string, JobType]>) {
      let config: JsonSchema;
      try {
        config = embed(toJsonSchema(jobType.config), `${specifier}#${type}/`, definitions);
      } catch {
        config = {};
      }
      if (jobType.description && config.description === undefined) config.description = jobType.description;
      rules.push({
        if: { properties: { plugin: { const: specifier }, type: { const: type } }, required: ["plugin", "type"] },
        then: { properties: { config } },
      });
    }
  }
  jobs.additionalProperties = rules.length > 0 ? { ...entry, allOf: rules } : entry;
  const { $schema: _drop, definitions: _defs, ...body } = root;
  return {
    $schema: DRAFT,
    title: "ujr config file",
    description: `ujr.config.yaml: runner settings and jobs${plugins.length ? ` (plugins: ${plugins.map((p) => p.specifier).join(", ")})` : ""}. Made by \`ujr schema\`.`,
    ...body,
    ...(Object.keys(definitions).length > 0 ? { definitions } : {}),
  };
}

export async function schemaCommand(argv: string[], output: Output): Promise<number> {
  const { values, positionals } = parse(argv, { out: { type: "string", short: "o" }, help: { type: "boolean", short: "h" } });
  if (values.help) {
    output.out(schemaHelp);
    return 0;
  }
  checkPositionals(positionals, 1, "ujr schema [config] [--out <file>]");
  if (values.out === "") throw new UsageError("--out needs a file name (or leave it out to print to stdout)");
  const plugins: SchemaPlugin[] = [];
  const problems: string[] = [];
  const warnings: string[] = [];
  const load = async (specifier: string, folder: string, where: { path: string; file: string }) => {
    try {
      plugins.push({ specifier, plugin: (await loadPlugin(specifier, folder, where)).plugin });
    } catch (error) {
      problems.push(`${specifier}: ${toTaskFailure(error).message}`);
    }
  };
  if (positionals[0]) {
    const file = resolve(positionals[0]);
    for (const { specifier, path } of pluginsNamedIn(file)) await load(specifier, configFolder(file), { path, file });
  } else {
    const folder = process.cwd();
    const search = findInstalledPlugins(folder);
    for (const { name } of search.plugins) await load(name, folder, { path: "(installed)", file: join(folder, "package.json") });
    // A schema without the job types a config uses checks none of their settings, and an
    // editor then says nothing: the schema is written all the same, with a word of why.
    if (search.plugins.length === 0) warnings.push(`warning: no ujr plugins found: ${whyNoPluginFound(search)}. The schema describes ujr's own settings only, no job type's config.`);
    const notFound = configPluginsNotFound(search);
    if (notFound.length > 0) {
      const instead = `ujr schema ${DEFAULT_CONFIG}${typeof values.out === "string" ? ` --out ${values.out}` : ""}`;
      warnings.push(describeNotFound(notFound, `warning: ./${DEFAULT_CONFIG} names plugins this schema does not describe (\`${instead}\` describes the plugins it names):`));
    }
  }
  const text = `${JSON.stringify(buildConfigJsonSchema(plugins), null, 2)}\n`;
  if (typeof values.out === "string") {
    const target = resolve(values.out);
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, text);
    const types = plugins.reduce((sum, { plugin }) => sum + Object.keys(plugin.jobs).length, 0);
    output.out(`wrote ${target} (${plugins.length} plugin${plugins.length === 1 ? "" : "s"}, ${types} job type${types === 1 ? "" : "s"})`);
  } else {
    output.out(text.trimEnd());
  }
  for (const warning of warnings) output.err(warning);
  for (const problem of problems) output.err(`problem: ${problem}`);
  return problems.length > 0 ? 2 : 0;
}
