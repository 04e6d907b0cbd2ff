import { isAbsolute, resolve as resolvePath } from "node:path";
import { fileURLToPath } from "node:url";
import {
  createLogger,
  runnerConfigSchema,
  ujrError,
  type JobConfigInput,
  type JobEntry,
  type Logger,
  type Plugin,
  type RunnerConfig,
  type RunnerConfigInput,
  type RunResult,
} from "@ujr/core";
import { createJobsOrThrow } from "./config/create-job.js";
import { configError } from "./config/load.js";
import { resolveConfig, type LoadedJob } from "./config/resolve-config.js";
import { localRunnerOptions } from "./config/runner-options.js";
import { LocalJobsRunner, type LocalJobsRunnerOptions } from "./local-runner.js";
import { startStatusServer, DEFAULT_STATUS_PORT } from "./status-server.js";

/** A job as data: what a config file's `jobs.<name>` entry says, with the plugin also allowed as an object. */
export interface ComposedJob extends Omit<JobConfigInput, "plugin"> {
  /** An npm package name (resolved from `baseDir`), a ./relative path or file URL, or a plugin object. */
  plugin: string | Plugin;
}

export interface CreateRunnerOptions extends Omit<LocalJobsRunnerOptions, "jobs" | "resolveFrom"> {
  /** The jobs, by name, as in a config file. */
  jobs: Record<string, ComposedJob>;
  /** Runner settings, the same keys as a config file's `runner` section ("30s" durations included). */
  runner?: RunnerConfigInput;
  /**
   * Folder that plugin names, `runner.dataDir` and task modules resolve from (default: the
   * working folder). In a script, pass `import.meta.dirname` (or `new URL(".", import.meta.url)`)
   * so that it works from any working folder.
   */
  baseDir?: string | URL;
}

/** What createRunner() returns: a LocalJobsRunner, plus what it was made from. */
export class ComposedRunner extends LocalJobsRunner {
  readonly #status: RunnerConfigInput["status"] & {};
  /** The checked jobs (config with defaults filled, plugin, job type, settings). */
  readonly loadedJobs: readonly LoadedJob[];

  constructor(options: LocalJobsRunnerOptions, jobs: LoadedJob[], status: RunnerConfigInput["status"]) {
    super(options);
    this.loadedJobs = jobs;
    this.#status = status!;
  }

  #statusUrl: string | undefined;

  /** The URL of the status server (`runner.status`) while `run()` runs. */
  get statusUrl(): string | undefined {
    return this.#statusUrl;
  }

  /** Runs, with the status server of `runner.status` while it runs. */
  override async run(): Promise<RunResult> {
    const server = this.#status
      ? await startStatusServer(this, {
          port: this.#status.port ?? DEFAULT_STATUS_PORT,
          host: this.#status.host ?? "127.0.0.1",
          token: this.#status.token,
          allowedHosts: this.#status.allowedHosts,
          logger: this.logger,
        })
      : undefined;
    this.#statusUrl = server?.url;
    try {
      return await super.run();
    } finally {
      this.#statusUrl = undefined;
      await server?.close();
    }
  }
}

function folderOf(baseDir: string | URL | undefined): string {
  if (baseDir === undefined) return process.cwd();
  const path = baseDir instanceof URL || String(baseDir).startsWith("file:") ? fileURLToPath(baseDir) : String(baseDir);
  return isAbsolute(path) ? path : resolvePath(path);
}

/** What composeJobs() returns: the jobs made, and the checked settings they came from. */
export interface ComposedJobs {
  entries: JobEntry[];
  jobs: LoadedJob[];
  runner: RunnerConfig;
  /** Absolute folders: where names resolve from, and `runner.dataDir`. */
  dir: string;
  dataDir: string;
}

/**
 * Checks jobs given as data and creates them: what createRunner() does before it makes
 * the runner, for runners that take their jobs from elsewhere (a database, an HTTP
 * registry) and return them from fetchJobs()/getChangedJobs(). Disabled jobs are checked
 * but not created.
 */
export async function composeJobs(
  options: Pick<CreateRunnerOptions, "jobs" | "runner" | "baseDir"> & {
    /** What the jobs came from, for messages (default "createRunner() options"), e.g. the registry's URL. */
    source?: string;
  },
  logger: Logger,
): Promise<ComposedJobs> {
  const dir = folderOf(options.baseDir);
  const source = options.source ?? "createRunner() options";
  const pluginObjects = new Map<string, Plugin>();
  const data: Record<string, unknown> = {};
  for (const [name, job] of Object.entries(options.jobs ?? {})) {
    if (job && typeof job === "object" && job.plugin !== null && typeof job.plugin === "object") {
      pluginObjects.set(name, job.plugin);
      data[name] = { ...job, plugin: typeof job.plugin.name === "string" && job.plugin.name ? job.plugin.name : "(plugin object)" };
    } else data[name] = job;
  }
  const resolved = await resolveConfig({ runner: options.runner, jobs: data }, { dir, file: source, pluginObjects });
  if (resolved.issues.length > 0) throw configError(source, resolved.issues);
  const jobs = resolved.jobs.filter((job) => job.enabled);
  const entries = await createJobsOrThrow(jobs, { dataDir: resolved.dataDir, dir, file: source }, logger);
  return { entries, jobs, runner: resolved.runner, dir, dataDir: resolved.dataDir };
}

/**
 * Composes a runner in code from plugins and jobs as data: the same checks as a config
 * file (every problem at once, each with its path), state folders under `runner.dataDir`,
 * each job created with its context, and task modules resolved from `baseDir` and from
 * each plugin's own folder. Throws UJR_CONFIG_INVALID or UJR_JOB_CREATE_FAILED (exit code 2)
 * before anything runs.
 *
 *     const runner = await createRunner({
 *       baseDir: import.meta.dirname,
 *       runner: { workers: 2, dataDir: "./data" },
 *       jobs: { tidy: { plugin: "@ujr/plugin-tweet-tidier", type: "tidy", config: { input: "./raw" } } },
 *     });
 *     await runner.run();
 */
export async function createRunner(options: CreateRunnerOptions): Promise<ComposedRunner> {
  const { jobs, runner, baseDir, ...overrides } = options;
  // Checked first (without creating anything) so that settings problems come with the jobs' ones.
  const runnerSettings = runnerConfigSchema.safeParse(runner ?? {});
  const settings = localRunnerOptions(runnerSettings.success ? runnerSettings.data : runnerConfigSchema.parse({}), folderOf(baseDir));
  const logger = overrides.logger ?? createLogger({ level: overrides.logLevel ?? settings.logLevel ?? "info", pretty: overrides.prettyLogs });
  if (runnerSettings.success && runnerSettings.data.executor.kind !== "local" && !overrides.executor) {
    throw ujrError("UJR_CONFIG_INVALID", {
      file: "createRunner() options",
      count: 1,
      list: `  - runner.executor: kind "${runnerSettings.data.executor.kind}" needs its executor passed in: createRunner({ executor: await createExecutorFromConfig(runnerConfig), ... }) from @ujr/executor-bullmq`,
    });
  }
  const composed = await composeJobs({ jobs, runner, baseDir }, logger);
  return new ComposedRunner({ ...settings, ...overrides, logger, jobs: composed.entries }, composed.jobs, composed.runner.status);
}
