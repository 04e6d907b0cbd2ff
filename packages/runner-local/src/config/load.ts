import { readFile } from "node:fs/promises";
import { dirname, resolve as resolvePath } from "node:path";
import { isMap, LineCounter, parseDocument, type Document } from "yaml";
import {
  configFileSchema,
  formatPath,
  isUjrError,
  ujrError,
  zodIssues,
  type ConfigIssue,
  type JobSettings,
  type JobType,
  type RunnerConfig,
  type UjrError,
} from "@ujr/core";
import { interpolateEnv } from "./interpolate.js";
import { loadPlugin, type LoadedPlugin } from "./plugins.js";

export interface LoadedJob {
  name: string;
  pluginSpecifier: string;
  plugin: LoadedPlugin;
  typeName: string;
  jobType: JobType;
  /** The job's config after its plugin's schema (defaults filled). */
  config: unknown;
  settings: JobSettings;
  enabled: boolean;
  /** Changes whenever anything that defines the job changes: the hot-reload diff key. */
  fingerprint: string;
}

export interface LoadedConfig {
  file: string;
  dir: string;
  runner: RunnerConfig;
  /** Absolute `runner.dataDir`. */
  dataDir: string;
  jobs: LoadedJob[];
}

export interface PositionedIssue extends ConfigIssue {
  line?: number | undefined;
  col?: number | undefined;
}

export type ConfigError = UjrError & { issues: PositionedIssue[] };

export interface LoadConfigOptions {
  env?: NodeJS.ProcessEnv;
}

/**
 * Reads, interpolates and validates a config file, loads the plugins it names and checks
 * every job's config with its plugin's schema. Every problem of the file is reported at
 * once, each with its path and line.
 */
export async function loadConfigFile(file: string, options: LoadConfigOptions = {}): Promise<LoadedConfig> {
  const path = resolvePath(file);
  const dir = dirname(path);
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === "ENOENT") throw ujrError("UJR_CONFIG_NOT_FOUND", { path });
    throw ujrError("UJR_CONFIG_UNREADABLE", { path, reason: (error as Error).message });
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const first = doc.errors[0]!;
    const pos = first.linePos?.[0] ?? { line: 1, col: 1 };
    throw ujrError("UJR_CONFIG_YAML", { file: path, line: pos.line, col: pos.col, reason: first.message.split("\n")[0] });
  }
  const issues: PositionedIssue[] = [];
  const raw = interpolateEnv(doc.toJS() ?? {}, options.env ?? process.env, issues);
  const parsed = configFileSchema.safeParse(raw);
  if (!parsed.success) issues.push(...zodIssues(parsed.error));

  const jobs: LoadedJob[] = [];
  const runner = parsed.success ? parsed.data.runner : configFileSchema.shape.runner.parse(undefined);
  if (parsed.success) {
    const pluginCache = new Map<string, Promise<LoadedPlugin>>();
    for (const [name, job] of Object.entries(parsed.data.jobs)) {
      const where = { path: `jobs.${name}.plugin`, file: path };
      let plugin: LoadedPlugin;
      try {
        let pending = pluginCache.get(job.plugin);
        if (!pending) {
          pending = loadPlugin(job.plugin, dir, where);
          pluginCache.set(job.plugin, pending);
        }
        plugin = await pending;
      } catch (error) {
        issues.push(issueFromError(error, where.path));
        continue;
      }
      const jobType = plugin.plugin.jobs[job.type];
      if (!jobType) {
        const known = Object.keys(plugin.plugin.jobs);
        issues.push(
          issueFromError(
            ujrError("UJR_JOB_TYPE_UNKNOWN", { plugin: job.plugin, type: job.type, path: `jobs.${name}.type`, known: known.join(", ") || "(none)" }),
            `jobs.${name}.type`,
          ),
        );
        continue;
      }
      const checked = jobType.config.safeParse(job.config ?? {});
      if (!checked.success) {
        issues.push(...zodIssues(checked.error, ["jobs", name, "config"]));
        continue;
      }
      const settings: JobSettings = {
        maxTasksPerJob: job.maxTasksPerJob,
        taskTimeout: job.taskTimeout ?? runner.taskTimeout,
        retry: job.retry ?? runner.retry,
        resolveFrom: [dir, dirname(new URL(plugin.url).pathname)],
      };
      jobs.push({
        name,
        pluginSpecifier: job.plugin,
        plugin,
        typeName: job.type,
        jobType,
        config: checked.data,
        settings,
        enabled: job.enabled,
        fingerprint: JSON.stringify([job.plugin, plugin.url, job.type, job.config ?? {}, job.maxTasksPerJob, settings.taskTimeout, settings.retry, runner.dataDir]),
      });
    }
  }
  // A value whose variable is missing is still "${VAR}": its own schema errors are noise.
  const missing = issues.filter((issue) => issue.code === "UJR_CONFIG_ENV_MISSING").map((issue) => issue.path);
  const relevant = issues.filter((issue) => issue.code === "UJR_CONFIG_ENV_MISSING" || !missing.some((path) => issue.path === path || issue.path.startsWith(`${path}.`) || issue.path.startsWith(`${path}[`)));
  if (relevant.length > 0) throw configError(path, doc, lineCounter, relevant);
  return { file: path, dir, runner, dataDir: resolvePath(dir, runner.dataDir), jobs };
}

function issueFromError(error: unknown, path: string): PositionedIssue {
  if (isUjrError(error)) return { path, code: error.code, message: error.message };
  return { path, message: (error as Error)?.message ?? String(error) };
}

function configError(file: string, doc: Document, lineCounter: LineCounter, issues: PositionedIssue[]): ConfigError {
  for (const issue of issues) {
    const position = locate(doc, lineCounter, issue.path);
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
function locate(doc: Document, lineCounter: LineCounter, dotted: string): { line: number; col: number } | undefined {
  const parts = dotted
    .split(/\.|\[(\d+)\]/)
    .filter((part) => part !== undefined && part !== "")
    .map((part) => (/^\d+$/.test(part) ? Number(part) : part));
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
