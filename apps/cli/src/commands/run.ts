import { resolve } from "node:path";
import { createLogger, type Executor, type Logger, type LogLevel, type RunnerConfig } from "@ujr/core";
import { ConfigFileRunner, loadConfigFile, startStatusServer, DEFAULT_STATUS_PORT, type StatusServer } from "@ujr/runner-local";
import { checkLogLevel, DEFAULT_CONFIG, parse, UsageError } from "../args.js";
import { exitCodeForRun } from "../exit-codes.js";
import { startLiveView, wantsLiveView, type LiveView, type ViewStream } from "../live-view.js";
import type { Output } from "../output.js";

export const runHelp = `ujr run [config] [options]
  Runs the jobs of a config file (default ./${DEFAULT_CONFIG}) until every job is done.
  The file is watched: valid edits add, remove or restart only the jobs that changed.
  In a terminal it shows a live status view under the log lines.
  --log-level <level>  fatal|error|warn|info|debug|trace|silent (default: runner.logLevel or info)
  --no-watch           do not reload the file when it changes
  --keep-alive         keep running (and watching) when every job is done
  --workers <n>        pool size (overrides runner.workers)
  --status-port <port> serve /status, /metrics, /healthz on 127.0.0.1:<port> (overrides
                       runner.status.port; ${DEFAULT_STATUS_PORT} is what \`ujr status\` looks at; 0: any free port)
  --no-tty             no live view: plain log lines even in a terminal (also under CI)
  --job <name>         run only this job of the file (repeat for several)`;

async function distributedExecutor(runnerConfig: RunnerConfig, logger: Logger): Promise<Executor> {
  const { createExecutorFromConfig } = await import("@ujr/executor-bullmq");
  return createExecutorFromConfig(runnerConfig, { logger });
}

/** Where `ujr run` writes; tests inject a terminal. */
export interface RunTerminal {
  stdout: ViewStream & NodeJS.WritableStream;
  stderr?: (ViewStream & NodeJS.WritableStream) | undefined;
  env?: NodeJS.ProcessEnv | undefined;
}

function statusPort(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const port = Number(value);
  if (!/^\d+$/.test(value) || port > 65535) throw new UsageError(`--status-port must be a port number from 0 to 65535 (got "${value}")`);
  return port;
}

export async function runCommand(argv: string[], output: Output, terminal?: RunTerminal): Promise<number> {
  const { values, positionals } = parse(argv, {
    "log-level": { type: "string" },
    "no-watch": { type: "boolean" },
    "keep-alive": { type: "boolean" },
    workers: { type: "string" },
    "status-port": { type: "string" },
    "no-tty": { type: "boolean" },
    job: { type: "string", multiple: true },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) {
    output.out(runHelp);
    return 0;
  }
  checkLogLevel(values["log-level"] as string | undefined);
  const port = statusPort(values["status-port"] as string | undefined);
  const file = resolve(positionals[0] ?? DEFAULT_CONFIG);
  const stdout = terminal?.stdout ?? process.stdout;
  const stderr = terminal?.stderr ?? (terminal ? undefined : process.stderr);
  const env = terminal?.env ?? process.env;
  const config = await loadConfigFile(file);

  const pretty = stdout.isTTY === true;
  const live = wantsLiveView(stdout, { noTty: values["no-tty"] === true, env });
  const logLevel = (values["log-level"] as LogLevel | undefined) ?? config.runner.logLevel ?? "info";
  // The live view keeps itself under the log lines by watching what goes through stdout's
  // write(): logs must go there (not straight to the file descriptor).
  const logger = createLogger({ level: logLevel, pretty, ...(live || terminal ? { destination: stdout } : {}) });
  // Tasks run in the local pool unless the config asks for a distributed executor.
  const executor = config.runner.executor.kind === "local" ? undefined : await distributedExecutor(config.runner, logger);
  const runner = new ConfigFileRunner(config, {
    ...(executor ? { executor } : {}),
    watch: !values["no-watch"],
    ...(values["keep-alive"] ? { keepAlive: true } : {}),
    ...(values.workers ? { workers: Number(values.workers) } : {}),
    ...(values.job ? { only: values.job as unknown as string[] } : {}),
    logLevel,
    logger,
    prettyLogs: pretty,
  });

  const statusConfig = port !== undefined ? { ...config.runner.status, port } : config.runner.status;
  let server: StatusServer | undefined;
  if (statusConfig) {
    server = await startStatusServer(runner, {
      port: statusConfig.port ?? DEFAULT_STATUS_PORT,
      host: statusConfig.host,
      allowedHosts: statusConfig.allowedHosts,
      token: statusConfig.token ?? (env.UJR_STATUS_TOKEN || undefined),
      logger,
    });
  }
  let view: LiveView | undefined;
  try {
    if (live) view = startLiveView({ stream: stdout, alsoCapture: stderr?.isTTY ? [stderr] : [], snapshot: () => runner.snapshot() });
    const result = await runner.run();
    return exitCodeForRun(result);
  } finally {
    view?.stop();
    await server?.close();
  }
}
