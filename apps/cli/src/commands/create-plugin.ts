import { existsSync, readdirSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parse, UsageError } from "../args.js";
import type { Output } from "../output.js";

export const createPluginHelp = `ujr create-plugin <name> [--dir <folder>] [--type <job type>]
  Scaffolds a plugin package: package.json (ESM, exports "." and "./tasks" with types,
  @ujr/core as peer dependency, the "ujr-plugin" keyword), tsconfig, src/index.ts (the
  plugin, one job type), src/tasks.ts (one task), src/index.test.ts (@ujr/core/testing)
  and a README. It builds, tests and runs without edits.
  --dir <folder>     where to create it (default ./<name without scope>); must be empty
  --type <job type>  the job type's name (default hello)`;

/** The template folder shipped with the CLI (`files` in its package.json). */
const templateDir = fileURLToPath(new URL("../../templates/plugin/", import.meta.url));

/**
 * Versions the generated package.json asks for. vitest 4.1, not 5: vitest 5 declares
 * `@types/node` "^22 || >=24" (npm refuses it beside @types/node 20) and its reporter
 * needs Map.groupBy (Node 21+), so on Node 20 a failing test crashed the reporter.
 * vitest 4.1 runs on Node 20.19+ (the floor of the vite it uses), hence NODE_ENGINES.
 */
const TYPESCRIPT_VERSION = "7.0.2";
const VITEST_VERSION = "4.1.0";
const NODE_ENGINES = "^20.19.0 || >=22.12.0";

const packageNamePattern = /^(?:@[a-z0-9-~][a-z0-9-._~]*\/)?[a-z0-9-~][a-z0-9-._~]*$/;
const jobTypePattern = /^[a-z][a-zA-Z0-9-]*$/;

function coreVersion(): string {
  try {
    return (createRequire(import.meta.url)("@ujr/core/package.json") as { version: string }).version;
  } catch {
    return "0.1.0";
  }
}

function words(text: string): string[] {
  return text.split(/[^a-zA-Z0-9]+/).filter(Boolean);
}

export function templateValues(name: string, jobType: string): Record<string, string> {
  const parts = words(jobType);
  const pascal = parts.map((part) => part[0]!.toUpperCase() + part.slice(1)).join("");
  return {
    name,
    jobType,
    jobTypeKey: /^[A-Za-z_$][\w$]*$/.test(jobType) ? jobType : JSON.stringify(jobType),
    jobTypeClass: pascal,
    jobTypeCamel: pascal[0]!.toLowerCase() + pascal.slice(1),
    coreVersion: coreVersion(),
    typescriptVersion: TYPESCRIPT_VERSION,
    vitestVersion: VITEST_VERSION,
    nodeEngines: NODE_ENGINES,
  };
}

function fill(template: string, values: Record<string, string>): string {
  return template.replace(/\{\{(\w+)\}\}/g, (whole, key: string) => values[key] ?? whole);
}

async function listTemplates(dir: string, prefix = ""): Promise<string[]> {
  const files: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) files.push(...(await listTemplates(join(dir, entry.name), path)));
    else files.push(path);
  }
  return files.sort();
}

/** Where a template file goes: `x.tmpl` → `x`, `gitignore` → `.gitignore` (npm drops dotfiles from packages). */
function targetName(file: string): string {
  const name = file.endsWith(".tmpl") ? file.slice(0, -".tmpl".length) : file;
  return name === "gitignore" ? ".gitignore" : name;
}

/** Writes a new plugin package into `dir`; returns the files written (relative to it). */
export async function scaffoldPlugin(name: string, dir: string, jobType = "hello"): Promise<string[]> {
  if (!packageNamePattern.test(name) || name.length > 214) {
    throw new UsageError(`"${name}" is not a valid npm package name: use lowercase letters, digits, "-", "." and "_", optionally with a scope (@scope/name).`);
  }
  if (!jobTypePattern.test(jobType)) throw new UsageError(`--type "${jobType}" is not a valid job type name: start with a lowercase letter, then letters, digits or "-".`);
  if (existsSync(dir) && readdirSync(dir).length > 0) {
    throw new UsageError(`${dir} already exists and is not empty. Pass --dir with a new or empty folder.`);
  }
  const values = templateValues(name, jobType);
  const written: string[] = [];
  for (const file of await listTemplates(templateDir)) {
    const target = join(dir, targetName(file));
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, fill(await readFile(join(templateDir, file), "utf8"), values));
    written.push(relative(dir, target));
  }
  return written;
}

export async function createPluginCommand(argv: string[], output: Output): Promise<number> {
  const { values, positionals } = parse(argv, {
    dir: { type: "string" },
    type: { type: "string" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) {
    output.out(createPluginHelp);
    return 0;
  }
  const name = positionals[0];
  if (!name) throw new UsageError("Give the plugin's package name: ujr create-plugin <name> [--dir <folder>]. Run `ujr help` for more.");
  if (positionals.length > 1) throw new UsageError(`Unexpected argument "${positionals[1]}": ujr create-plugin <name> [--dir <folder>].`);
  const dir = resolve(typeof values.dir === "string" ? values.dir : name.replace(/^@[^/]+\//, ""));
  const jobType = typeof values.type === "string" ? values.type : "hello";
  const files = await scaffoldPlugin(name, dir, jobType);
  const shown = relative(process.cwd(), dir) || ".";
  output.out(`Created plugin ${name} in ${dir}:`);
  for (const file of files) output.out(`  ${file}`);
  output.out(`
Next:
  cd ${shown}
  npm install        # @ujr/core, TypeScript, vitest, publint
  npm run build      # tsc -b → dist/
  npm test           # vitest with @ujr/core/testing
Then, in a project: npm install <path or name>, and name it in ujr.config.yaml:
  jobs:
    hello:
      plugin: "${name}"
      type: ${jobType}`);
  return 0;
}
