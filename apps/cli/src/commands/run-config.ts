import { createLogger, type Executor, type Logger, type RunnerConfig } from "@ujr/core";
import { ConfigFileRunner, dataDirProblem, loadConfigFile, startStatusServer, DEFAULT_STATUS_PORT, type LoadedConfig, type StatusServer, type TinypoolExecutor } from "@ujr/runner-local";
import { poolSettings, type EarlyPool, type PoolOverrides } from "@ujr/runner-local/pool";
import type * as BullmqExecutor from "@ujr/executor-bullmq";
import { DEFAULT_CONFIG } from "../args.js";
import { describeJobOutcomes, ExitCode, exitCodeForRun, type RunEnding } from "../exit-codes.js";
import { BULLMQ_PACKAGE, importOptional } from "../optional-package.js";
import { openRunHistory } from "../run-history.js";
import { startLiveView, wantsLiveView, type LiveView, type ViewStream } from "../live-view.js";

export const runHelp = `ujr run [config] [options]
  Runs the jobs of a config file (default ./${DEFAULT_CONFIG}) until every job is done.
  The file is watched: valid edits add, remove or restart only the jobs that changed.
  In a terminal it shows a live status view under the log lines.
  --log-level <level>  fatal|error|warn|info|debug|trace|silent (default: runner.logLevel or info)
  --no-watch           do not reload the file when it changes
  --keep-alive         keep running (and watching) when every job is done; a signal then
                       ends the run with exit code 0
  --workers <n>        pool size (overrides runner.workers)
  --status-port <port> serve the dashboard (/) and /status, /metrics, /healthz on 127.0.0.1:<port> (overrides
                       runner.status.port; ${DEFAULT_STATUS_PORT} is what \`ujr status\` looks at; 0: any free port)
  --no-tty             no live view: plain log lines even in a terminal (also under CI)
  --job <name>         run only this job of the file (repeat for several)
  Every task run is recorded in the run history (runner.history; see \`ujr history\`).`;

/** The BullMQ executor, found by name from the config's folder (as its plugins are), then beside ujr itself. */
async function distributedExecutor(runnerConfig: RunnerConfig, logger: Logger, configDir: string): Promise<Executor> {
  const { createExecutorFromConfig } = await importOptional<typeof BullmqExecutor>(BULLMQ_PACKAGE, "run", [configDir]);
  return createExecutorFromConfig(runnerConfig, { logger });
}

/**
 * Under --keep-alive, says when every job has ended (the run then only waits for config
 * changes or a signal) and notes whether that was still so when the stop came: a signal
 * that ends such a wait interrupts no work, so the run ends with exit code 0, not 130.
 */
function watchKeepAliveWait(runner: ConfigFileRunner, logger: Logger, keepAlive: boolean): RunEnding {
  const ending: RunEnding = { idleWhenStopped: false };
  if (!keepAlive) return ending;
  const failed = new Set<string>();
  const checkIdle = () => {
    if (runner.state !== "running" || runner.snapshot().jobs.length > 0) return;
    const done = failed.size === 0 ? "every job is done" : `every job has ended (failed: ${[...failed].join(", ")})`;
    logger.info({ keepAlive: true }, `${done}; --keep-alive: still watching the config for changes; stop with Ctrl-C (SIGINT) or SIGTERM`);
  };
  runner.on("job:added", ({ job }) => failed.delete(job));
  runner.on("job:failed", ({ job }) => failed.add(job));
  runner.on("job:done", checkIdle);
  runner.on("job:removed", checkIdle);
  runner.on("runner:stopping", () => {
    ending.idleWhenStopped = runner.snapshot().jobs.length === 0;
  });
  return ending;
}

/** Where `ujr run` writes; tests inject a terminal. */
export interface RunTerminal {
  stdout: ViewStream & NodeJS.WritableStream;
  stderr?: (ViewStream & NodeJS.WritableStream) | undefined;
  env?: NodeJS.ProcessEnv | undefined;
}

/** What `ujr run` read off its command line (see run.ts). */
export interface RunArguments {
  values: Record<string, unknown>;
  port: number | undefined;
  overrides: PoolOverrides;
  terminal: RunTerminal | undefined;
  /** The pool started from the file as written, if any: taken when the checked config asks for the same pool. */
  early: EarlyPool | undefined;
}

/** Loads and checks the config file, then runs it: the part of `ujr run` that needs zod, the runner and the plugins. */
export async function runConfigFile(file: string, args: RunArguments): Promise<number> {
  const { values, port, overrides, terminal, early } = args;
  const stdout = terminal?.stdout ?? process.stdout;
  const stderr = terminal?.stderr ?? (terminal ? undefined : process.stderr);
  const env = terminal?.env ?? process.env;
  // The local pool's first worker starts as soon as the runner settings are known (if the
  // early pool was not the right one): Node's start-up in that worker overlaps the plugins'
  // import and the history's opening here.
  let pool: TinypoolExecutor | undefined;
  const state = { running: false };
  try {
    const config = await loadConfigFile(file, {
      onRunnerSettings: (runner) => {
        if (runner.executor.kind !== "local") {
          void early?.close();
          return;
        }
        pool = early?.adopt(poolSettings(runner, overrides)) ?? ConfigFileRunner.startPool(runner, overrides);
      },
    });
    return await runLoaded(config, { values, port, overrides, stdout, stderr, env, pool, terminal, state });
  } finally {
    // A run that never started (bad config, history or server that would not open) closes
    // the pool started for it; a runner closes its executor when its run ends.
    if (!state.running) await pool?.close();
  }
}

interface RunSetup {
  values: Record<string, unknown>;
  port: number | undefined;
  overrides: PoolOverrides;
  stdout: ViewStream & NodeJS.WritableStream;
  stderr: (ViewStream & NodeJS.WritableStream) | undefined;
  env: NodeJS.ProcessEnv;
  pool: TinypoolExecutor | undefined;
  terminal: RunTerminal | undefined;
  /** Set when the runner runs (it then owns the pool). */
  state: { running: boolean };
}

async function runLoaded(config: LoadedConfig, setup: RunSetup): Promise<number> {
  const { values, port, overrides, stdout, stderr, env, pool, terminal, state } = setup;
  const { workers, logLevel: flagLevel } = overrides;
  const pretty = overrides.prettyLogs === true;
  const live = wantsLiveView(stdout, { noTty: values["no-tty"] === true, env });
  const logLevel = flagLevel ?? config.runner.logLevel ?? "info";
  // The live view keeps itself under the log lines by watching what goes through stdout's
  // write(): logs must go there (not straight to the file descriptor).
  const logger = createLogger({ level: logLevel, pretty, ...(live || terminal ? { destination: stdout } : {}) });
  // Tasks run in the local pool unless the config asks for a distributed executor.
  const executor = config.runner.executor.kind === "local" ? undefined : await distributedExecutor(config.runner, logger, config.dir);
  const runner = new ConfigFileRunner(config, {
    ...(executor ? { executor } : pool ? { executor: pool } : {}),
    watch: !values["no-watch"],
    ...(values["keep-alive"] ? { keepAlive: true } : {}),
    ...(workers !== undefined ? { workers } : {}),
    ...(values.job ? { only: values.job as unknown as string[] } : {}),
    logLevel,
    logger,
    prettyLogs: pretty,
  });

  // Jobs keep their state there and the history lives there by default: one clear error
  // before the first file is made, not a job's or the history's own mkdir failure.
  const unusable = config.jobs.some((job) => job.enabled) || config.runner.history !== false ? dataDirProblem(config.dataDir, config.file) : undefined;
  if (unusable) throw unusable;
  // Run history (runner.history; on by default): recorded from the runner's events, read by the dashboard and `ujr history`.
  const history = await openRunHistory(runner, config, logger);
  const statusConfig = port !== undefined ? { ...config.runner.status, port } : config.runner.status;
  let server: StatusServer | undefined;
  if (statusConfig) {
    server = await startStatusServer(runner, {
      port: statusConfig.port ?? DEFAULT_STATUS_PORT,
      host: statusConfig.host,
      allowedHosts: statusConfig.allowedHosts,
      token: statusConfig.token ?? (env.UJR_STATUS_TOKEN || undefined),
      logger,
      history: history?.store,
      // A BullMQ coordinator's dashboard shows its queue and the workers on it.
      executorInfo: executor && "describe" in executor ? () => (executor as { describe(): Promise<unknown> }).describe() : undefined,
    });
  }
  let view: LiveView | undefined;
  let summary: string | undefined;
  const keepAlive = values["keep-alive"] === true || config.runner.keepAlive === true;
  const ending = watchKeepAliveWait(runner, logger, keepAlive);
  try {
    if (live) view = startLiveView({ stream: stdout, alsoCapture: stderr?.isTTY ? [stderr] : [], snapshot: () => runner.snapshot() });
    state.running = true;
    const result = await runner.run();
    const exitCode = exitCodeForRun(result, ending);
    // The last line says, per job, what happened, and the exit code that follows from it.
    // a stop by signal is how a continuous run ends: not an error (log watchers alert on
    // those); a warning when it cut running tasks short or tasks failed
    const failedTasks = Object.values(result.jobs).some((job) => job.tasks.failed > 0);
    const level =
      exitCode === ExitCode.ok ? (failedTasks ? "warn" : "info") : exitCode === ExitCode.interrupted ? (failedTasks || result.reason === "aborted" ? "warn" : "info") : "error";
    const outcomes = describeJobOutcomes(result);
    const how = exitCode === 0 && result.reason !== "done" ? `stopped by ${result.stopReason ?? "a stop request"} after every job was done` : undefined;
    logger[level]({ exitCode, jobs: result.jobs }, `run ended (exit code ${exitCode}): ${how ? `${how}; ` : ""}${outcomes.join("; ") || "no jobs"}`);
    logger.flush?.();
    summary = [`ujr run ended, exit code ${exitCode}${how ? ` (${how})` : ""}`, ...outcomes.map((line) => `  ${line}`)].join("\n");
    return exitCode;
  } finally {
    view?.stop(summary);
    await server?.close();
    await history?.close();
  }
}
