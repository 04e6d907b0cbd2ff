import { statSync, type Stats } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { dirname, resolve as resolvePath } from "node:path";
import { isMap, LineCounter, parseDocument, type Document } from "yaml";
import { formatPath, ujrError, type ConfigIssue, type RunnerConfig, type UjrError } from "@ujr/core";
import { interpolateEnv } from "./interpolate.js";
import { resolveConfig, type LoadedJob } from "./resolve-config.js";

export type { LoadedJob };

export interface LoadedConfig {
  file: string;
  dir: string;
  runner: RunnerConfig;
  /** Absolute `runner.dataDir`. */
  dataDir: string;
  jobs: LoadedJob[];
  /**
   * The config came from a pipe or a device, not a file (`ujr run <(envsubst < ujr.tpl.yaml)`,
   * `/dev/stdin`): its relative paths resolve from the working directory (`dir`), and it
   * cannot be read again, so a runner does not watch it.
   */
  readFromStream?: boolean | undefined;
}

export interface PositionedIssue extends ConfigIssue {
  line?: number | undefined;
  col?: number | undefined;
}

export type ConfigError = UjrError & { issues: PositionedIssue[] };

export interface LoadConfigOptions {
  env?: NodeJS.ProcessEnv;
  /** See ResolveConfigOptions.onRunnerSettings: the runner settings, before the plugins load. */
  onRunnerSettings?: ((runner: RunnerConfig) => void) | undefined;
}

/**
 * The folder a config's relative paths (plugins, inputs, `dataDir`) resolve from: the
 * file's, or the working directory for a config that comes from a pipe or a device
 * (`ujr run <(envsubst < ujr.tpl.yaml)`: its folder, /dev/fd, is the kernel's).
 */
export function configFolder(path: string): string {
  try {
    return folderOf(path, statSync(path));
  } catch {
    return dirname(path);
  }
}

/** A pipe's or a device's folder (/dev/fd, /proc/self/fd) is no place for state folders and plugins. */
const isStream = (kind: Stats): boolean => !kind.isFile() && !kind.isDirectory();
const folderOf = (path: string, kind: Stats): string => (isStream(kind) ? process.cwd() : dirname(path));

/**
 * Reads, interpolates and validates a config file, loads the plugins it names and checks
 * every job's config with its plugin's schema. Every problem of the file is reported at
 * once, each with its path and line.
 */
export async function loadConfigFile(file: string, options: LoadConfigOptions = {}): Promise<LoadedConfig> {
  const path = resolvePath(file);
  let text: string;
  let kind: Stats;
  try {
    kind = await stat(path);
    text = await readFile(path, "utf8");
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === "ENOENT") throw ujrError("UJR_CONFIG_NOT_FOUND", { path });
    if (code === "EISDIR") throw ujrError("UJR_CONFIG_UNREADABLE", { path, reason: `it is a folder; pass the config file in it (e.g. ${path}/ujr.config.yaml)` });
    // /dev/stdin of a process whose parent gave it a socket (Node's spawn does) cannot be opened by path
    if (code === "ENXIO")
      throw ujrError("UJR_CONFIG_UNREADABLE", { path, reason: "it is a socket, which cannot be opened by its path; write the config to a file, or give it through a pipe (`ujr run <(cat ujr.yaml)` in a shell)" });
    throw ujrError("UJR_CONFIG_UNREADABLE", { path, reason: (error as Error).message });
  }
  const dir = folderOf(path, kind);
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) throw yamlError(path, doc.errors[0]!, lineCounter);
  const issues: PositionedIssue[] = [];
  let value: unknown;
  try {
    value = doc.toJS();
  } catch (error) {
    // yaml refuses to expand an alias bomb (a few lines that would grow to millions of nodes)
    throw ujrError("UJR_CONFIG_UNREADABLE", { path, reason: `${(error as Error).message}; write the repeated parts out, or use fewer aliases` });
  }
  const raw = interpolateEnv(value ?? {}, options.env ?? process.env, issues);
  const resolved = await resolveConfig(raw, { dir, file: path, onRunnerSettings: options.onRunnerSettings });
  issues.push(...resolved.issues);
  // A value whose variable is missing is still "${VAR}": its own schema errors are noise.
  const missing = issues.filter((issue) => issue.code === "UJR_CONFIG_ENV_MISSING").map((issue) => issue.path);
  const relevant = issues.filter((issue) => issue.code === "UJR_CONFIG_ENV_MISSING" || !missing.some((path) => issue.path === path || issue.path.startsWith(`${path}.`) || issue.path.startsWith(`${path}[`)));
  if (relevant.length > 0) throw configError(path, relevant, doc, lineCounter);
  return { file: path, dir, runner: resolved.runner, dataDir: resolved.dataDir, jobs: resolved.jobs, ...(isStream(kind) ? { readFromStream: true } : {}) };
}

/**
 * A YAML syntax error at the position the parser found it. `linePos` is only filled
 * with prettyErrors, so the offset is turned into line:column here.
 */
export function yamlError(file: string, error: { message: string; pos: [number, number]; linePos?: Array<{ line: number; col: number }> | undefined }, lineCounter?: LineCounter): UjrError {
  const pos = error.linePos?.[0] ?? lineCounter?.linePos(error.pos[0]) ?? { line: 1, col: 1 };
  return ujrError("UJR_CONFIG_YAML", { file, line: pos.line, col: pos.col, reason: error.message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, "").replace(/\.$/, "") });
}

/** UJR_CONFIG_INVALID listing every issue, each at its line in the file when there is one. */
export function configError(file: string, issues: PositionedIssue[], doc?: Document, lineCounter?: LineCounter): ConfigError {
  for (const issue of issues) {
    const position = doc && lineCounter ? locate(doc, lineCounter, issue.path, issue.code === "unrecognized_keys") : undefined;
    if (position) Object.assign(issue, position);
  }
  const list = issues
    .map((issue) => `  - ${issue.line ? `${file}:${issue.line}:${issue.col} ` : ""}${issue.path}: ${issue.message.replace(/\n/g, "\n      ")}`)
    .join("\n");
  const error = ujrError("UJR_CONFIG_INVALID", { file, count: issues.length, list }) as ConfigError;
  error.issues = issues;
  return error;
}

/** Line and column of the deepest node of the document on a dotted path. */
function locate(doc: Document, lineCounter: LineCounter, dotted: string, atKey = false): { line: number; col: number } | undefined {
  const parts = dotted
    .split(/\.|\[(\d+)\]/)
    .filter((part) => part !== undefined && part !== "")
    .map((part) => (/^\d+$/.test(part) ? Number(part) : part));
  if (atKey && parts.length > 0) {
    // An unknown key: point at the key itself, not at its value.
    const parent = parts.length === 1 ? doc.contents : doc.getIn(parts.slice(0, -1), true);
    if (isMap(parent)) {
      const pair = parent.items.find((item) => (item.key as { value?: unknown } | null)?.value === parts[parts.length - 1]);
      const keyRange = (pair?.key as { range?: [number, number, number] } | undefined)?.range;
      if (keyRange) return lineCounter.linePos(keyRange[0]);
    }
  }
  for (let length = parts.length; length >= 0; length--) {
    const node = length === 0 ? doc.contents : doc.getIn(parts.slice(0, length), true);
    const range = (node as { range?: [number, number, number] } | undefined)?.range;
    if (range) {
      // For a mapping, point at the key that is missing or unknown rather than the whole block.
      if (length < parts.length && isMap(node)) {
        const pair = node.items.find((item) => (item.key as { value?: unknown } | null)?.value === parts[length]);
        const keyRange = (pair?.key as { range?: [number, number, number] } | undefined)?.range;
        if (keyRange) return lineCounter.linePos(keyRange[0]);
      }
      return lineCounter.linePos(range[0]);
    }
  }
  return undefined;
}

export { formatPath };
