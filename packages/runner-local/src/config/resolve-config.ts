import { resolve as resolvePath } from "node:path";
import { pathToFileURL } from "node:url";
import {
  configFileSchema,
  jobConfigSchema,
  jobNamePattern,
  didYouMean,
  findPackageDir,
  isPlugin,
  isUjrError,
  PLUGIN_API_VERSION,
  resolveTaskModule,
  strippedKeys,
  ujrError,
  zodIssues,
  type ConfigIssue,
  type JobSettings,
  type JobType,
  type Plugin,
  type RunnerConfig,
  type ConfigFile,
} from "@ujr/core";
import { checkPluginShape, loadPlugin, notAPlugin, type LoadedPlugin } from "./plugins.js";

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

export interface ResolvedConfig {
  runner: RunnerConfig;
  /** Absolute `runner.dataDir`. */
  dataDir: string;
  jobs: LoadedJob[];
  issues: ConfigIssue[];
}

export interface ResolveConfigOptions {
  /** Folder that plugin specifiers, `dataDir` and task modules resolve from. */
  dir: string;
  /** What named the plugins, for messages: the config file, or "createRunner()". */
  file: string;
  /** Plugins given as objects (composition in code), by job name. */
  pluginObjects?: Map<string, Plugin>;
  /**
   * Called with the runner settings when the whole config has the right shape, before any
   * plugin loads: a caller can start what those settings decide (the worker pool) while
   * the plugins load.
   */
  onRunnerSettings?: ((runner: RunnerConfig) => void) | undefined;
}

/**
 * Checks a config (the file's content after YAML and `${ENV}`, or the same data composed
 * in code) and loads what it names: runner settings, each job's plugin and job type, and
 * each job's config against its job type's schema. Collects every problem instead of
 * stopping at the first; the caller decides how to report them.
 */
export async function resolveConfig(raw: unknown, options: ResolveConfigOptions): Promise<ResolvedConfig> {
  const { dir, file } = options;
  const issues: ConfigIssue[] = [];
  const parsed = configFileSchema.safeParse(raw);
  if (!parsed.success) issues.push(...zodIssues(parsed.error, [], configFileSchema));
  // A mistake in one section must not hide the other's: the jobs are checked (plugins,
  // types, configs) even when the runner section is wrong, and the other way round.
  const value = (key: "runner" | "jobs"): unknown => (raw && typeof raw === "object" ? (raw as Record<string, unknown>)[key] : undefined);
  const runnerAlone = parsed.success ? undefined : configFileSchema.shape.runner.safeParse(value("runner"));
  const jobsAlone = parsed.success ? undefined : configFileSchema.shape.jobs.safeParse(value("jobs"));
  const runner: RunnerConfig = parsed.success ? parsed.data.runner : runnerAlone?.success ? runnerAlone.data : configFileSchema.shape.runner.parse(undefined);
  const jobEntries: ConfigFile["jobs"] | undefined = parsed.success ? parsed.data.jobs : jobsAlone?.success ? jobsAlone.data : validJobsOf(value("jobs"));
  if (parsed.success) options.onRunnerSettings?.(runner);
  const jobs: LoadedJob[] = [];
  if (jobEntries) {
    const pluginCache = new Map<string, Promise<LoadedPlugin>>();
    for (const [name, job] of Object.entries(jobEntries)) {
      const where = { path: `jobs.${name}.plugin`, file };
      let plugin: LoadedPlugin;
      try {
        const object = options.pluginObjects?.get(name);
        if (object) plugin = pluginFromObject(object, dir, where);
        else {
          let pending = pluginCache.get(job.plugin);
          if (!pending) {
            pending = loadPlugin(job.plugin, dir, where);
            pluginCache.set(job.plugin, pending);
          }
          plugin = await pending;
        }
      } catch (error) {
        issues.push(issueFromError(error, where.path));
        continue;
      }
      // Own keys only: "toString" or "constructor" would find Object.prototype's.
      const jobType = Object.hasOwn(plugin.plugin.jobs, job.type) ? plugin.plugin.jobs[job.type] : undefined;
      if (!jobType) {
        const known = Object.keys(plugin.plugin.jobs);
        const path = `jobs.${name}.type`;
        issues.push(
          issueFromError(
            ujrError("UJR_JOB_TYPE_UNKNOWN", { plugin: job.plugin, type: job.type, path, known: known.join(", ") || "(none)", suggestion: didYouMean(job.type, known) }),
            path,
          ),
        );
        continue;
      }
      const input = job.config ?? {};
      const checked = jobType.config.safeParse(input);
      const configIssues = checked.success ? [] : zodIssues(checked.error, ["jobs", name, "config"], jobType.config);
      // Keys a plain z.object would drop: a typo would silently become the default.
      const reported = new Set(configIssues.map((issue) => issue.path));
      configIssues.push(...strippedKeys(jobType.config, input, ["jobs", name, "config"]).filter((issue) => !reported.has(issue.path)));
      if (!checked.success || configIssues.length > 0) {
        issues.push(...configIssues);
        continue;
      }
      const taskIssue = checkTaskModules(jobType, plugin, [dir, plugin.folder], `jobs.${name}.type`);
      if (taskIssue) {
        issues.push(taskIssue);
        continue;
      }
      const settings: JobSettings = {
        maxTasksPerJob: job.maxTasksPerJob,
        taskTimeout: job.taskTimeout ?? runner.taskTimeout,
        retry: job.retry ?? runner.retry,
        // The config's folder first (what the user installed), then the plugin's own folder
        // (a plugin always reaches its own task modules, wherever the runner starts).
        resolveFrom: [dir, plugin.folder],
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
        fingerprint: JSON.stringify([job.plugin, plugin.url, job.type, input, job.maxTasksPerJob, settings.taskTimeout, settings.retry, runner.dataDir]),
      });
    }
  }
  return { runner, dataDir: resolvePath(dir, runner.dataDir), jobs, issues };
}

/**
 * The jobs whose name and entry are right when others are not (their problems are reported
 * with the file's): one job's mistake must not hide another's plugin, type or config.
 */
function validJobsOf(jobs: unknown): ConfigFile["jobs"] | undefined {
  if (!jobs || typeof jobs !== "object" || Array.isArray(jobs)) return undefined;
  const valid: ConfigFile["jobs"] = {};
  for (const [name, entry] of Object.entries(jobs)) {
    if (!jobNamePattern.test(name)) continue;
    const job = jobConfigSchema.safeParse(entry);
    if (job.success) valid[name] = job.data;
  }
  return valid;
}

/** A plugin object handed over in code: checked as a loaded package would be; its tasks resolve from its package if installed. */
function pluginFromObject(plugin: Plugin, dir: string, where: { path: string; file: string }): LoadedPlugin {
  const specifier = typeof (plugin as { name?: unknown })?.name === "string" ? plugin.name : "(plugin object)";
  if (!isPlugin(plugin)) throw notAPlugin("Plugin object", specifier, where.path, "object");
  if (plugin.apiVersion !== PLUGIN_API_VERSION) {
    throw ujrError("UJR_PLUGIN_API_VERSION", { plugin: specifier, path: where.path, actual: String(plugin.apiVersion), expected: String(PLUGIN_API_VERSION) });
  }
  checkPluginShape(plugin, "Plugin object", specifier, where.path);
  const folder = findPackageDir(plugin.name, dir) ?? dir;
  return { specifier, url: `${pathToFileURL(folder).href}/`, folder, plugin, tasks: [] };
}

/**
 * Resolves the task modules a job type declares (and its plugin's entry exports) from the
 * folders its tasks will resolve from: a package whose `exports` hides the subpath, or a
 * module that is not installed, is bad input found before any task runs.
 */
function checkTaskModules(jobType: JobType, plugin: LoadedPlugin, folders: string[], path: string): ConfigIssue | undefined {
  const modules = new Set([...(jobType.tasks ?? []), ...plugin.tasks].map((task) => task.ref.module));
  const from = folders.map((folder) => `${pathToFileURL(folder).href}/`);
  for (const module of modules) {
    try {
      resolveTaskModule(module, from);
    } catch (error) {
      return issueFromError(error, path);
    }
  }
  return undefined;
}

export function issueFromError(error: unknown, path: string): ConfigIssue {
  if (isUjrError(error)) return { path, code: error.code, message: error.message };
  return { path, message: (error as Error)?.message ?? String(error) };
}
