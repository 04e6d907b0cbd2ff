import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createLogger } from "@ujr/core";
import { createJobsOrThrow, dataDirProblem, loadConfigFile, type LoadedConfig } from "@ujr/runner-local";
import { checkPositionals, DEFAULT_CONFIG, parse } from "../args.js";
import { BULLMQ_PACKAGE, importOptional } from "../optional-package.js";
import { HISTORY_PACKAGE, runHistoryWanted } from "../run-history.js";
import type * as History from "@ujr/history";
import type { Output } from "../output.js";

export const validateHelp = `ujr validate [config] [--no-create]
  Checks a config file (default ./${DEFAULT_CONFIG}): YAML, runner settings, plugins, each
  job's config against its plugin's schema, the task modules its job types declare, the
  executor's package (runner.executor.kind: bullmq needs @ujr/executor-bullmq; Redis is
  not contacted), and each enabled job's create() (run with a temporary state folder,
  then closed). Reports every problem at once; exit code 2 if any.
  --no-create   do not call create() (a job that opens a database named in its config opens it)`;

export async function validateCommand(argv: string[], output: Output): Promise<number> {
  const { values, positionals } = parse(argv, { "no-create": { type: "boolean" }, help: { type: "boolean", short: "h" } });
  if (values.help) {
    output.out(validateHelp);
    return 0;
  }
  checkPositionals(positionals, 1, "ujr validate [config] [--no-create]");
  const config = await loadConfigFile(resolve(positionals[0] ?? DEFAULT_CONFIG));
  if (config.runner.executor.kind === "bullmq") {
    // `ujr run` would stop here: it imports the executor's package from the same folders
    // (the config's, then ujr's own) and fails the same way when it is missing or broken.
    // Its settings were checked with the file; only the connection to Redis is left to run.
    await importOptional(BULLMQ_PACKAGE, "run", [config.dir]);
  }
  await checkRunHistory(config);
  const enabled = config.jobs.filter((job) => job.enabled);
  // create() below gets a temporary folder: the real one is checked as `ujr run` checks it.
  const unusable = enabled.length > 0 ? dataDirProblem(config.dataDir, config.file) : undefined;
  if (unusable) throw unusable;
  if (!values["no-create"] && enabled.length > 0) {
    // create() is part of what `ujr run` checks before any task: a job that cannot be made
    // is bad input. Its state goes to a temporary folder, never to the real dataDir.
    const stateRoot = await mkdtemp(join(tmpdir(), "ujr-validate-"));
    try {
      const logger = createLogger({ level: "warn", destination: process.stderr });
      const entries = await createJobsOrThrow(enabled, { dataDir: stateRoot, dir: config.dir }, logger);
      await Promise.all(entries.map(({ job }) => Promise.resolve().then(() => job.close?.()).catch(() => undefined)));
    } finally {
      await rm(stateRoot, { recursive: true, force: true });
    }
  }
  output.out(`${config.file}: valid (${config.jobs.length} job${config.jobs.length === 1 ? "" : "s"})`);
  for (const job of config.jobs) output.out(`  ${job.name}: ${job.pluginSpecifier} ${job.typeName}${job.enabled ? "" : " (disabled)"}`);
  return 0;
}

/**
 * The run history `ujr run` would open (see openRunHistory): its package when settings ask
 * for one, and for a SQLite file the driver's native module, whose absence stops `ujr run`
 * before any task (UJR_HISTORY_DRIVER_UNAVAILABLE). The file itself is not created.
 */
async function checkRunHistory(config: LoadedConfig): Promise<void> {
  const settings = config.runner.history;
  if (settings === false || settings?.url !== undefined || runHistoryWanted(config) !== "on") return;
  const { HistoryStore, historyFile } = await importOptional<typeof History>(HISTORY_PACKAGE, "run", [config.dir]);
  HistoryStore.checkDriver(historyFile(settings, config.dataDir, config.dir));
}
