import { statSync, type Stats } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { dirname, resolve as resolvePath } from "node:path";
import { isCollection, isMap, isNode, isScalar, isSeq, LineCounter, parseDocument, visit, type Document } from "yaml";
import { formatPath, runnerConfigSchema, ujrError, z, zodIssues, type ConfigIssue, type RunnerConfig, type UjrError } from "@ujr/core";
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

/** A config file read and parsed, with what its problems need to be placed at their lines. */
interface ConfigSource {
  path: string;
  dir: string;
  kind: Stats;
  text: string;
  doc: Document;
  lineCounter: LineCounter;
  value: unknown;
}

async function readConfigSource(file: string): Promise<ConfigSource> {
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
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) throw yamlError(path, doc.errors[0]!, lineCounter, { text, doc });
  let value: unknown;
  try {
    value = doc.toJS();
  } catch (error) {
    // yaml refuses to expand an alias bomb (a few lines that would grow to millions of nodes)
    throw ujrError("UJR_CONFIG_UNREADABLE", { path, reason: `${(error as Error).message}; write the repeated parts out, or use fewer aliases` });
  }
  return { path, dir: folderOf(path, kind), kind, text, doc, lineCounter, value };
}

/** A value whose variable is missing is still "${VAR}": its own schema errors are noise. */
function withoutNoiseOfMissingEnv(issues: PositionedIssue[]): PositionedIssue[] {
  const missing = issues.filter((issue) => issue.code === "UJR_CONFIG_ENV_MISSING").map((issue) => issue.path);
  return issues.filter((issue) => issue.code === "UJR_CONFIG_ENV_MISSING" || !missing.some((path) => issue.path === path || issue.path.startsWith(`${path}.`) || issue.path.startsWith(`${path}[`)));
}

/**
 * Reads, interpolates and validates a config file, loads the plugins it names and checks
 * every job's config with its plugin's schema. Every problem of the file is reported at
 * once, each with its path and line.
 */
export async function loadConfigFile(file: string, options: LoadConfigOptions = {}): Promise<LoadedConfig> {
  const { path, dir, kind, doc, lineCounter, value } = await readConfigSource(file);
  const issues: PositionedIssue[] = [];
  const raw = interpolateEnv(value ?? {}, options.env ?? process.env, issues);
  const resolved = await resolveConfig(raw, { dir, file: path, onRunnerSettings: options.onRunnerSettings });
  issues.push(...resolved.issues);
  const relevant = withoutNoiseOfMissingEnv(issues);
  if (relevant.length > 0) throw configError(path, relevant, doc, lineCounter);
  return { file: path, dir, runner: resolved.runner, dataDir: resolved.dataDir, jobs: resolved.jobs, ...(isStream(kind) ? { readFromStream: true } : {}) };
}

export interface LoadedRunnerSettings<Key extends keyof RunnerConfig> {
  file: string;
  /** The folder the config's relative paths resolve from. */
  dir: string;
  /** The keys asked for, defaults filled. */
  runner: Pick<RunnerConfig, Key>;
}

/**
 * Reads only some keys of a config's `runner` section (`ujr history` needs `dataDir` and
 * `history`): the jobs, their plugins and the other runner keys are neither interpolated
 * nor checked, so a secret that only `ujr run` needs (`executor.redis: ${REDIS_URL}`)
 * need not be set. Problems of those keys are reported as loadConfigFile reports them.
 */
export async function loadRunnerSettings<Key extends keyof RunnerConfig>(file: string, keys: readonly Key[], options: { env?: NodeJS.ProcessEnv } = {}): Promise<LoadedRunnerSettings<Key>> {
  const { path, dir, doc, lineCounter, value } = await readConfigSource(file);
  const section = value && typeof value === "object" ? (value as { runner?: unknown }).runner : undefined;
  const picked =
    section && typeof section === "object" && !Array.isArray(section)
      ? Object.fromEntries(Object.entries(section).filter(([key]) => (keys as readonly string[]).includes(key)))
      : (section ?? {});
  const issues: PositionedIssue[] = [];
  const interpolated = interpolateEnv(picked, options.env ?? process.env, issues, ["runner"]);
  const schema: z.ZodType = z.strictObject(Object.fromEntries(keys.map((key) => [key, runnerConfigSchema.shape[key]])));
  const parsed = schema.safeParse(interpolated);
  if (!parsed.success) issues.push(...zodIssues(parsed.error, ["runner"], schema));
  const relevant = withoutNoiseOfMissingEnv(issues);
  if (relevant.length > 0 || !parsed.success) throw configError(path, relevant, doc, lineCounter);
  return { file: path, dir, runner: parsed.data as Pick<RunnerConfig, Key> };
}

/**
 * A YAML syntax error at the position the parser found it. `linePos` is only filled
 * with prettyErrors, so the offset is turned into line:column here. An unclosed quote or
 * bracket is only found at the end of the file, where the parser reports it (past the
 * last line, and its `linePos` has no better start): the construct that runs to the end
 * is where the fix goes.
 */
export function yamlError(
  file: string,
  error: { message: string; pos: [number, number]; linePos?: Array<{ line: number; col: number }> | undefined },
  lineCounter?: LineCounter,
  source?: { text: string; doc: Document },
): UjrError {
  let pos = error.linePos?.[0] ?? lineCounter?.linePos(error.pos[0]) ?? { line: 1, col: 1 };
  if (source && lineCounter) {
    const end = source.text.trimEnd().length;
    if (error.pos[0] >= end) pos = unclosedAt(source.doc, error.pos[0], lineCounter) ?? lineCounter.linePos(Math.max(0, end - 1));
  }
  return ujrError("UJR_CONFIG_YAML", { file, line: pos.line, col: pos.col, reason: error.message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, "").replace(/\.$/, "") });
}

/** The start of the innermost quoted scalar or flow collection that runs up to `offset`. */
function unclosedAt(doc: Document, offset: number, lineCounter: LineCounter): { line: number; col: number } | undefined {
  let start: number | undefined;
  visit(doc, (_key, node) => {
    if (!isNode(node) || !node.range) return;
    // A block mapping or sequence needs no closing: it is not what is left open.
    if (isCollection(node) && !node.flow) return;
    if (isScalar(node) && node.type !== "QUOTE_DOUBLE" && node.type !== "QUOTE_SINGLE") return;
    const [from, to] = node.range;
    if (from < offset && to >= offset && (start === undefined || from > start)) start = from;
  });
  return start === undefined ? undefined : lineCounter.linePos(start);
}

/** Problems about a key itself (unknown, or an invalid job name) point at the key, not its value. */
const keyLevel = new Set(["unrecognized_keys", "invalid_key"]);

/**
 * UJR_CONFIG_INVALID listing every issue, each at its line in the file when there is one
 * and with its own catalogue code, in the order of the file (those without a line last).
 */
export function configError(file: string, issues: PositionedIssue[], doc?: Document, lineCounter?: LineCounter): ConfigError {
  for (const issue of issues) {
    const position = doc && lineCounter ? locate(doc, lineCounter, issue.path, keyLevel.has(issue.code ?? "")) : undefined;
    if (position) Object.assign(issue, position);
  }
  const sorted = [...issues].sort(byPosition);
  const list = sorted.map((issue) => `  - ${issue.line ? `${file}:${issue.line}:${issue.col} ` : ""}${issue.path}${codeTag(issue.code)}: ${issue.message.replace(/\n/g, "\n      ")}`).join("\n");
  const error = ujrError("UJR_CONFIG_INVALID", { file, count: sorted.length, list }) as ConfigError;
  error.issues = sorted;
  return error;
}

/** File order; problems with no line (a key that is not in the file) after those with one, in the order found. */
function byPosition(a: PositionedIssue, b: PositionedIssue): number {
  if (a.line === undefined || b.line === undefined) return (a.line === undefined ? 1 : 0) - (b.line === undefined ? 1 : 0);
  return a.line - b.line || (a.col ?? 0) - (b.col ?? 0);
}

/** A problem's own catalogue code; zod's issue codes ("invalid_type") are no part of the catalogue. */
const codeTag = (code: string | undefined): string => (code?.startsWith("UJR_") ? ` [${code}]` : "");

/**
 * Line and column of a dotted path in the document: of its value, of its key for
 * `atKey`, or of the nearest mapping above a key that is missing. Keys may contain dots
 * (job names do), so each step takes the longest key of the mapping that the path goes on with.
 */
function locate(doc: Document, lineCounter: LineCounter, dotted: string, atKey = false): { line: number; col: number } | undefined {
  let node: unknown = doc.contents;
  let keyStart: number | undefined;
  let rest = dotted === "(root)" ? "" : dotted;
  const startOf = (value: unknown): number | undefined => (isNode(value) ? value.range?.[0] : undefined);
  while (rest !== "") {
    let next: { value: unknown; keyStart: number | undefined; length: number } | undefined;
    if (isMap(node)) {
      for (const pair of node.items) {
        const key = isScalar(pair.key) ? String(pair.key.value) : undefined;
        if (key === undefined || (rest !== key && !rest.startsWith(`${key}.`) && !rest.startsWith(`${key}[`))) continue;
        if (!next || key.length > next.length) next = { value: pair.value, keyStart: startOf(pair.key), length: key.length };
      }
    } else if (isSeq(node)) {
      const index = /^\[(\d+)\]/.exec(rest);
      if (index) next = { value: node.items[Number(index[1])], keyStart: undefined, length: index[0].length };
    }
    if (!next) break;
    node = next.value;
    keyStart = next.keyStart;
    rest = rest.slice(next.length).replace(/^\./, "");
    if (rest === "") {
      const at = atKey ? (keyStart ?? startOf(node)) : (startOf(node) ?? keyStart);
      return at === undefined ? undefined : lineCounter.linePos(at);
    }
    if (node === null || node === undefined) break;
  }
  const at = startOf(node) ?? keyStart;
  return at === undefined ? undefined : lineCounter.linePos(at);
}

export { formatPath };
