import { dirname, resolve } from "node:path";
import { createLogger, isDuration, parseDuration, type LogLevel } from "@ujr/core";
import { loadConfigFile } from "@ujr/runner-local";
import type * as BullmqExecutor from "@ujr/executor-bullmq";
import { checkLogLevel, parse, UsageError } from "../args.js";
import { BULLMQ_PACKAGE, importOptional } from "../optional-package.js";
import type { Output } from "../output.js";

export const workerHelp = `ujr worker [--config <file>] [--redis <redis://...>] [options]
  Runs tasks for coordinators whose config has runner.executor.kind: bullmq, on this
  machine's local pool. Start any number, on any machines; each resolves task modules
  (plugins by package name) from its own config's folder. With --config, the settings
  below default to that config's runner section (runner.executor.redis, queue and
  prefix, runner.workers, isolation, shutdownGrace, logLevel); options win.
  --config <file>      this machine's ujr.config.yaml: plugins resolve from its folder
  --redis <url>        the queue's Redis (default: the config's, then env REDIS_URL)
  --queue <name>       the queue (runner.executor.queue; default ujr)
  --prefix <prefix>    BullMQ key prefix (runner.executor.prefix; default bull)
  --workers <n>        local pool size (default: CPUs)
  --isolation <kind>   process (default) | thread
  --concurrency <n>    tasks taken from the queue at once (default: --workers: a task taken
                       counts as started); more keeps each pool worker's next task waiting
                       (short tasks)
  --grace <duration>   on a stop, how long running tasks may finish before they go back
                       to the queue (default 30s)
  --log-level <level>
  --status-port <port> serve /healthz and /metrics for probes on 127.0.0.1:<port> (0: any free port)
  First SIGINT/SIGTERM: stop taking tasks, let running ones finish (--grace), then hand
  them back to the queue; a second one stops at once.
  Needs the package @ujr/executor-bullmq (npm install @ujr/executor-bullmq), found from
  the config's folder (or the working folder), then beside ujr itself.`;

export async function workerCommand(argv: string[], output: Output): Promise<number> {
  const { values } = parse(argv, {
    redis: { type: "string" },
    queue: { type: "string" },
    prefix: { type: "string" },
    config: { type: "string" },
    workers: { type: "string" },
    isolation: { type: "string" },
    concurrency: { type: "string" },
    grace: { type: "string" },
    "log-level": { type: "string" },
    "status-port": { type: "string" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) {
    output.out(workerHelp);
    return 0;
  }
  checkLogLevel(values["log-level"] as string | undefined);
  // This machine's config: its runner section gives the defaults (a config that does not load stops the worker, as it stops `ujr run`).
  const configFile = values.config ? resolve(values.config as string) : undefined;
  const runner = configFile ? (await loadConfigFile(configFile)).runner : undefined;
  const queueSpec = runner?.executor.kind === "bullmq" ? runner.executor : undefined;
  const redis = (values.redis as string | undefined) ?? queueSpec?.redis ?? process.env.REDIS_URL;
  if (!redis) {
    throw new UsageError("ujr worker needs the queue's Redis: pass --redis redis://host:6379, set REDIS_URL, or give a --config whose runner.executor.kind is bullmq");
  }
  const isolation = (values.isolation as string | undefined) ?? runner?.isolation;
  if (isolation !== undefined && isolation !== "process" && isolation !== "thread") throw new UsageError(`--isolation must be process or thread (got "${isolation}")`);
  const workers = values.workers === undefined ? runner?.workers : Number(values.workers);
  if (workers !== undefined && !(Number.isInteger(workers) && workers > 0)) throw new UsageError(`--workers must be a positive whole number (got "${String(values.workers)}")`);
  const concurrency = values.concurrency === undefined ? undefined : Number(values.concurrency);
  if (concurrency !== undefined && !(Number.isInteger(concurrency) && concurrency > 0)) {
    throw new UsageError(`--concurrency must be a positive whole number (got "${String(values.concurrency)}")`);
  }
  const statusPort = values["status-port"] === undefined ? undefined : Number(values["status-port"]);
  if (statusPort !== undefined && !(Number.isInteger(statusPort) && statusPort >= 0 && statusPort <= 65535)) {
    throw new UsageError(`--status-port must be a port number from 0 to 65535 (got "${String(values["status-port"])}")`);
  }
  const grace = values.grace as string | undefined;
  if (grace !== undefined && !isDuration(grace)) throw new UsageError(`--grace must be a duration such as 30s, 2m or 500ms (got "${grace}")`);
  const logLevel = ((values["log-level"] as string | undefined) ?? runner?.logLevel ?? "info") as LogLevel;
  const logger = createLogger({ level: logLevel, pretty: process.stdout.isTTY === true });
  // Found by name from the config's folder (or the working folder), then beside ujr itself.
  const { runWorker } = await importOptional<typeof BullmqExecutor>(BULLMQ_PACKAGE, "worker", [configFile ? dirname(configFile) : process.cwd()]);
  const handle = await runWorker({
    redis,
    queue: (values.queue as string | undefined) ?? queueSpec?.queue,
    prefix: (values.prefix as string | undefined) ?? queueSpec?.prefix,
    ...(configFile ? { configFile } : {}),
    ...(workers ? { workers } : {}),
    ...(isolation ? { isolation: isolation as "process" | "thread" } : {}),
    ...(concurrency ? { concurrency } : {}),
    shutdownGrace: grace !== undefined ? parseDuration(grace) : runner?.shutdownGrace,
    logger,
    logLevel,
  });
  // runWorker logs "worker ready" itself (with the Redis, pool and folders): once is enough.
  const probes = statusPort === undefined ? undefined : await (await import("../worker-probes.js")).startWorkerProbes(handle, { port: statusPort, logger });
  await handle.closed;
  await probes?.close();
  return 0;
}
