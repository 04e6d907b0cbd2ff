import { isAbsolute, join, resolve } from "node:path";
import { historySchema, type Logger, type Runner, type RunnerConfig } from "@ujr/core";
import { HistoryStore } from "./history-store.js";
import { PgHistoryStore } from "./pg-history-store.js";
import { recordRunnerHistory } from "./record.js";

export interface RunnerHistoryOptions {
  /** `runner.history` of the config (false: none; unset: the defaults). */
  settings: RunnerConfig["history"];
  /** Absolute `runner.dataDir`: the default file lives there. */
  dataDir: string;
  /** The config file's folder: a relative `file` resolves from it. */
  configDir: string;
  /** Plugin and job type of each job, stored with its runs. */
  describeJob?: ((job: string) => { plugin?: string | undefined; jobType?: string | undefined } | undefined) | undefined;
  logger?: Logger | undefined;
}

export interface RunnerHistory {
  readonly store: HistoryStore | PgHistoryStore;
  /** Jobs paused when the runner started (restored from the file). */
  readonly restoredPaused: readonly string[];
  /** Stops recording, writes what is pending and closes the file. */
  close(): Promise<void>;
}

/** Where the history of a config lives: `runner.history.file`, else `<dataDir>/_history.sqlite`. */
export function historyFile(settings: Exclude<RunnerConfig["history"], false>, dataDir: string, configDir: string): string {
  // "_" cannot begin a job name, so this never meets a job's state folder.
  if (!settings?.file) return join(dataDir, "_history.sqlite");
  return isAbsolute(settings.file) ? settings.file : resolve(configDir, settings.file);
}

type Pausable = { pauseJob?: (name: string) => boolean };

/**
 * Opens the history of a config and records the runner into it; jobs that were paused
 * when it last ran are paused again as they are added. Undefined when history is off.
 */
export async function openRunnerHistory(runner: Runner, options: RunnerHistoryOptions): Promise<RunnerHistory | undefined> {
  if (options.settings === false) return undefined;
  const settings = options.settings ?? (historySchema.parse({}) as Exclude<RunnerConfig["history"], false | undefined>);
  const common = { retention: settings.retention, flushIntervalMs: settings.flushInterval, logger: options.logger };
  const store = settings.url
    ? await PgHistoryStore.open({ url: settings.url, schema: settings.schema, ...common })
    : HistoryStore.open({ file: historyFile(settings, options.dataDir, options.configDir), ...common });
  const paused = new Set(await store.pausedJobs());
  const recorder = recordRunnerHistory(runner, store, { describeJob: options.describeJob, logger: options.logger });
  const pausable = runner as unknown as Pausable;
  const onAdded = ({ job }: { job: string }) => {
    if (!paused.has(job)) return;
    if (typeof pausable.pauseJob === "function") pausable.pauseJob(job);
    else options.logger?.warn({ job }, "job was paused before the restart, but this runner cannot pause jobs; it runs");
  };
  runner.on("job:added", onAdded);
  if (paused.size > 0) options.logger?.info({ jobs: [...paused] }, "jobs paused before the restart stay paused (resume them on the dashboard)");
  return {
    store,
    restoredPaused: [...paused],
    async close() {
      runner.off("job:added", onAdded);
      recorder.stop();
      await store.close();
    },
  };
}
