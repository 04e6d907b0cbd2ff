import { historySchema, type Logger } from "@ujr/core";
import { installCommand, type ConfigFileRunner, type LoadedConfig } from "@ujr/runner-local";
import type * as History from "@ujr/history";
import { findPackage, importOptional, type OptionalPackage } from "./optional-package.js";

export const HISTORY_PACKAGE: OptionalPackage = { name: "@ujr/history", purpose: "the run history (SQLite) that `ujr history` and the dashboard read" };

/**
 * The run history of `ujr run`: with `runner.history` unset, kept when `@ujr/history` is
 * installed (beside the config or ujr) and said to be off otherwise; with settings, the
 * package is required (a clear error names the install command); `false`: none.
 */
/**
 * Whether `ujr run` keeps a run history for `config`: "off" (`runner.history: false`),
 * "not-installed" (unset, and @ujr/history found neither beside the config nor beside ujr),
 * or "on" (then the package is required).
 */
export function runHistoryWanted(config: LoadedConfig, find = findPackage): "off" | "not-installed" | "on" {
  const settings = config.runner.history;
  if (settings === false) return "off";
  if (settings === undefined && !find(HISTORY_PACKAGE.name, [config.dir])) return "not-installed";
  return "on";
}

export async function openRunHistory(runner: ConfigFileRunner, config: LoadedConfig, logger: Logger, find = findPackage): Promise<History.RunnerHistory | undefined> {
  const settings = config.runner.history;
  const wanted = runHistoryWanted(config, find);
  if (wanted === "off") return undefined;
  if (wanted === "not-installed") {
    logger.info(
      { package: HISTORY_PACKAGE.name, install: `cd ${config.dir} && ${installCommand(HISTORY_PACKAGE.name, config.dir)}` },
      "no run history: @ujr/history is not installed (install it to keep one for `ujr history` and the dashboard; runner.history: false silences this)",
    );
    return undefined;
  }
  const { openRunnerHistory } = await importOptional<typeof History>(HISTORY_PACKAGE, "run", [config.dir]);
  return openRunnerHistory(runner, {
    settings: settings ?? historySchema.parse({}),
    dataDir: config.dataDir,
    configDir: config.dir,
    // The config as it is now: a hot reload may have changed a job's plugin or type.
    describeJob: (name) => {
      const job = runner.config.jobs.find((entry) => entry.name === name);
      return job ? { plugin: job.pluginSpecifier, jobType: job.typeName } : undefined;
    },
    logger,
  });
}
