import { createLogger, didYouMean, isUjrError, toTaskFailure, ujrError, type JobChanges, type JobEntry, type LogLevel, type RunnerConfig } from "@ujr/core";
import { createJobs, createJobsOrThrow } from "./config/create-job.js";
import { localRunnerOptions } from "./config/runner-options.js";
import { loadConfigFile, type LoadedConfig, type LoadedJob } from "./config/load.js";
import { watchFile, type FileWatch } from "./config/watch-file.js";
import { LocalJobsRunner, type LocalJobsRunnerOptions } from "./local-runner.js";
import { TinypoolExecutor } from "./tinypool-executor.js";
import { poolSettings } from "./pool.js";

export interface ConfigFileRunnerOptions extends Omit<LocalJobsRunnerOptions, "jobs"> {
  /** Reload the file when it changes (default true). */
  watch?: boolean | undefined;
  /** Keep running when every job is done (default: `runner.keepAlive` of the file). */
  keepAlive?: boolean | undefined;
  env?: NodeJS.ProcessEnv | undefined;
  /** Run only these jobs of the file (by name). */
  only?: string[] | undefined;
}

/**
 * A LocalJobsRunner whose jobs come from a YAML config file, reloaded when it changes:
 * only added, removed or changed jobs start or stop; an invalid edit is reported and the
 * running config stays.
 */
export class ConfigFileRunner extends LocalJobsRunner {
  #config: LoadedConfig;
  readonly #watch: boolean;
  readonly #env: NodeJS.ProcessEnv | undefined;
  readonly #only: Set<string> | undefined;
  #watcher: FileWatch | undefined;
  #reloadPending = false;
  #debounce: NodeJS.Timeout | undefined;

  /**
   * Loads and validates the file (throwing its user errors), then builds the runner. It
   * starts no worker: a runner built and never run must not keep the process alive
   * (`ujr run`, which always runs or closes, starts one early with startPool).
   */
  static async fromFile(file: string, options: ConfigFileRunnerOptions = {}): Promise<ConfigFileRunner> {
    const config = await loadConfigFile(file, options.env ? { env: options.env } : {});
    return new ConfigFileRunner(config, options);
  }

  /**
   * The local pool a ConfigFileRunner given `options` makes for these runner settings,
   * with its first worker started now: a caller that has the settings before the plugins
   * are loaded (the `onRunnerSettings` of loadConfigFile) passes it as `executor`, and the
   * worker's start-up overlaps the plugins' import. The started worker keeps the process
   * alive: the caller closes the pool if no runner runs (a runner closes it when its run ends).
   */
  static startPool(runner: RunnerConfig, options: Omit<ConfigFileRunnerOptions, "executor"> = {}): TinypoolExecutor {
    // poolSettings: the same settings an EarlyPool (started from the file as written) is compared by
    const pool = TinypoolExecutor.fromSettings({ ...poolSettings(runner, options), maxWorkerMemoryMb: options.maxWorkerMemoryMb }, options.logger);
    pool.prestart();
    return pool;
  }

  constructor(config: LoadedConfig, options: ConfigFileRunnerOptions = {}) {
    const runner = config.runner;
    const logLevel: LogLevel = options.logLevel ?? runner.logLevel ?? "info";
    const logger = options.logger ?? createLogger({ level: logLevel, pretty: options.prettyLogs });
    super({
      ...localRunnerOptions(runner, config.dir),
      exitWhenIdle: !(options.keepAlive ?? runner.keepAlive),
      ...options,
      logLevel,
      logger,
    });
    this.#config = config;
    this.#watch = options.watch ?? true;
    this.#env = options.env;
    this.#only = options.only ? new Set(options.only) : undefined;
    // A name that matches nothing (or a disabled job) would run nothing and exit 0: refuse it.
    const problems = (options.only ?? []).flatMap((name) => {
      const job = config.jobs.find((candidate) => candidate.name === name);
      const names = config.jobs.map((candidate) => candidate.name);
      if (!job) return [`  - job "${name}" is not in this file (its jobs: ${names.join(", ") || "none"}).${didYouMean(name, names)}`];
      if (!job.enabled) return [`  - job "${name}" is disabled in this file (enabled: false); enable it to run it`];
      return [];
    });
    if (problems.length > 0) throw ujrError("UJR_CONFIG_INVALID", { file: config.file, count: problems.length, list: problems.join("\n") });
  }

  /** The jobs of a loaded config this runner runs: enabled, and selected when `only` is given. */
  #selected(config: LoadedConfig): LoadedJob[] {
    return config.jobs.filter((job) => job.enabled && (this.#only === undefined || this.#only.has(job.name)));
  }

  get config(): LoadedConfig {
    return this.#config;
  }

  protected override async fetchJobs(): Promise<JobEntry[]> {
    if (this.#watch) this.#startWatching();
    this.once("runner:stopped", () => this.#stopWatching());
    // A job whose create() throws is bad input: the run ends before any task starts.
    return createJobsOrThrow(this.#selected(this.#config), this.#config, this.logger);
  }

  protected override async getChangedJobs(): Promise<JobChanges | undefined> {
    if (!this.#reloadPending) return undefined;
    this.#reloadPending = false;
    let next: LoadedConfig;
    try {
      next = await loadConfigFile(this.#config.file, this.#env ? { env: this.#env } : {});
    } catch (error) {
      const failure = toTaskFailure(error);
      this.logger.error(
        { file: this.#config.file, err: failure, issues: isUjrError(error) ? (error as { issues?: unknown }).issues : undefined },
        "the edited config is invalid; the previous config keeps running",
      );
      this.emit("changes:error", { error: failure });
      return undefined;
    }
    const before = new Map(this.#selected(this.#config).map((job) => [job.name, job]));
    const after = new Map(this.#selected(next).map((job) => [job.name, job]));
    const remove = [...before.keys()].filter((name) => !after.has(name));
    const changed: LoadedJob[] = [];
    for (const [name, job] of after) if (before.get(name)?.fingerprint !== job.fingerprint) changed.push(job);
    if (JSON.stringify({ ...next.runner, dataDir: undefined }) !== JSON.stringify({ ...this.#config.runner, dataDir: undefined })) {
      this.logger.warn({ file: next.file }, "runner settings changed; they apply when ujr is restarted (jobs were reloaded)");
    }
    this.#config = next;
    if (remove.length === 0 && changed.length === 0) return undefined;
    this.logger.info({ removed: remove, added: changed.filter((job) => !before.has(job.name)).map((job) => job.name), changed: changed.filter((job) => before.has(job.name)).map((job) => job.name) }, "config reloaded");
    return { remove, add: await this.#createJobs(changed, next) };
  }

  /** On reload: a job that cannot be created is reported; the others (and the running ones) go on. */
  async #createJobs(jobs: LoadedJob[], config: LoadedConfig): Promise<JobEntry[]> {
    const { entries, failures } = await createJobs(jobs, config, this.logger);
    for (const failure of failures) this.logger.error({ job: failure.params.job, err: toTaskFailure(failure) }, "could not create job; the other jobs run");
    return entries;
  }

  /** Re-reads the config file now (also what the file watcher triggers). */
  reload(): void {
    this.#reloadPending = true;
    this.notifyJobsChanged();
  }

  #startWatching(): void {
    const file = this.#config.file;
    if (this.#config.readFromStream) {
      this.logger.info({ file }, "the config came from a pipe, not a file: it is not watched (no hot reload)");
      return;
    }
    this.#watcher = watchFile(
      file,
      () => {
        clearTimeout(this.#debounce);
        this.#debounce = setTimeout(() => this.reload(), 100);
      },
      (error) => this.logger.warn({ err: error }, "config file watcher failed; hot reload is off"),
    );
  }

  #stopWatching(): void {
    clearTimeout(this.#debounce);
    this.#watcher?.close();
    this.#watcher = undefined;
  }
}

