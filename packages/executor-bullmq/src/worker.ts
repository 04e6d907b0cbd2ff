import { existsSync } from "node:fs";
import { hostname } from "node:os";
import { dirname, resolve as resolvePath } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Worker, WaitingError, type Job as BullJob } from "bullmq";
import type { Redis } from "ioredis";
import { createLogger, splitPackageSpecifier, toTaskFailure, ujrError, type Executor, type Logger, type LogLevel, type TaskFailure, type TaskOutcome, type TaskRun } from "@ujr/core";
import { installCommand, isPathSpecifier, loadConfigFile, TinypoolExecutor, type Isolation } from "@ujr/runner-local";
import { bullmqError, workerError } from "./errors.js";
import { decodeRun, decodeText, encodeResult, type JobData, type JobResult } from "./internal/codec.js";
import { CLOSE_TIMEOUT_MS, cancelChannel, connect, redactRedisUrl, redisTrouble, settledWithin, writeBatcher, type CancelMessage } from "./internal/redis.js";

export interface RunWorkerOptions {
  /** redis:// URL of the queue's Redis. */
  redis: string;
  /** BullMQ queue name (default "ujr"): the coordinator's `runner.executor.queue`. */
  queue?: string | undefined;
  /** BullMQ key prefix (default "bull"). */
  prefix?: string | undefined;
  /**
   * This machine's config file: task modules resolve from its folder (and its plugins'
   * folders), as the coordinator's do from its own. Default: resolve from the working directory.
   */
  configFile?: string | undefined;
  /** More folders (paths or file URLs) to resolve task modules from, searched first. */
  resolveFrom?: string[] | undefined;
  /** Local pool size; default: available CPUs. */
  workers?: number | undefined;
  /** Local pool isolation: `process` (default) or `thread`. */
  isolation?: Isolation | undefined;
  /** The name coordinators see this worker by (default `host/pid`; no spaces). */
  name?: string | undefined;
  /** Tasks taken from the queue at once (default: the local pool's workers, each task starting when taken). */
  concurrency?: number | undefined;
  maxWorkerMemoryMb?: number | undefined;
  /** BullMQ lock of a running task (ms, default 30 s); a dead worker's tasks are recovered after it expires. */
  lockDuration?: number | undefined;
  /** How often this worker looks for stalled tasks of dead workers (ms, default 30 s). */
  stalledInterval?: number | undefined;
  /** Times a task may be recovered from a dead worker before it fails (default 1). */
  maxStalledCount?: number | undefined;
  /** On stop: how long running tasks may take to finish before they go back to the queue (ms, default 30 s). */
  shutdownGrace?: number | undefined;
  /** Stop gracefully on SIGINT/SIGTERM, at once on the second signal (default true). */
  handleSignals?: boolean | undefined;
  /**
   * After the grace, how long stop() waits for Redis (BullMQ's own close, the connections'
   * QUIT) before it drops the connections (default 5 s): with Redis down it would wait for ever.
   */
  closeTimeoutMs?: number | undefined;
  logger?: Logger | undefined;
  logLevel?: LogLevel | undefined;
  /** Where tasks run on this machine (default: a TinypoolExecutor of `workers` and `isolation`). */
  executor?: Executor | undefined;
}

export interface WorkerHandle {
  readonly queue: string;
  readonly concurrency: number;
  /** Folders (file URLs) this worker resolves task modules from, in order. */
  readonly resolveFrom: readonly string[];
  /** Tasks running on this worker now. */
  readonly running: number;
  /**
   * Stops taking tasks; running ones get `graceMs` (default: `shutdownGrace`) to finish,
   * then are stopped and put back on the queue for another worker. A second call stops
   * them at once.
   */
  stop(options?: { graceMs?: number; reason?: string }): Promise<void>;
  /** Resolves when the worker has stopped. */
  readonly closed: Promise<void>;
}

/** Cancels remembered for tasks that have not reached this worker (see `cancelledBeforeStart`). */
const MAX_EARLY_CANCELS = 5000;

type AbortReason = { kind: "cancel"; failure: TaskFailure } | { kind: "shutdown"; reason: string };

/** A task running on this worker; `why` is set once something stops it. */
interface ActiveTask {
  run: TaskRun;
  why?: AbortReason;
}

function toFolderUrl(folder: string): string {
  const url = folder.startsWith("file:") ? folder : pathToFileURL(resolvePath(folder)).href;
  return url.endsWith("/") ? url : `${url}/`;
}

/** Failures of a task's module that are this machine's (what it has installed), not the task's. */
const MODULE_PROBLEMS_HERE = new Set(["UJR_TASK_MODULE_LOAD_FAILED", "UJR_TASK_MODULE_NOT_EXPORTED", "UJR_TASK_EXPORT_NOT_FOUND"]);

/** Who this worker is, as coordinators see it (its queue connection's name) and as its machine knows it. */
interface WorkerIdentity {
  worker: string;
  host: string;
  pid: number;
  /** The folder it resolves task modules from: its config's, or its working directory. */
  folder: string;
  /** What that folder is, in words. */
  folderIs: string;
}

/**
 * A task module that does not resolve here, said from this worker: which one, where it
 * looked, and what to run on this machine. Core's failure names only the folders, which
 * the reader (on the coordinator's machine) would take for their own.
 */
function moduleNotFoundHere(run: TaskRun, failure: TaskFailure, identity: WorkerIdentity): TaskFailure {
  const module = run.ref.module;
  const searched = run.resolveFrom.map((folder) => (folder.startsWith("file:") ? fileURLToPath(folder) : folder)).join(", ") || "(nowhere)";
  let install: string | undefined;
  let fix: string;
  if (isPathSpecifier(module)) {
    fix = `Make the module exist at that path on that machine, or run the task's script where it does.`;
  } else {
    const { name } = splitPackageSpecifier(module);
    install = `cd ${identity.folder} && ${installCommand(name, identity.folder)}`;
    fix = `Install the package that provides it on that machine, in ${identity.folderIs}: ${install}`;
  }
  const error = workerError("UJR_TASK_MODULE_NOT_FOUND", { module, searched, worker: identity.worker, host: identity.host, pid: identity.pid, fix });
  // No stack: a missing install, not a bug in ujr; the message says it all.
  const { stack: _stack, ...said } = toTaskFailure(error);
  return {
    ...said,
    retryable: failure.retryable,
    details: { ...failure.details, worker: identity.worker, host: identity.host, pid: identity.pid, module, searched, ...(install ? { install } : {}) },
  };
}

async function workerFolders(options: RunWorkerOptions, logger: Logger): Promise<string[]> {
  const folders = (options.resolveFrom ?? []).map(toFolderUrl);
  if (options.configFile) {
    const file = resolvePath(options.configFile);
    if (!existsSync(file)) throw ujrError("UJR_CONFIG_NOT_FOUND", { path: file });
    folders.push(toFolderUrl(dirname(file)));
    try {
      // The plugins' own folders too, as the coordinator does for each job.
      const config = await loadConfigFile(file);
      for (const job of config.jobs) for (const folder of job.settings.resolveFrom ?? []) folders.push(toFolderUrl(folder));
    } catch (error) {
      logger.warn({ file, err: toTaskFailure(error) }, "could not load the config's plugins; task modules resolve from its folder only");
    }
  } else {
    folders.push(toFolderUrl(process.cwd()));
  }
  return [...new Set(folders)];
}

/**
 * A worker of a distributed collection (`ujr worker --redis ...`): takes tasks from the
 * BullMQ queue that coordinators fill, resolves their modules against its own folders,
 * runs them in its own local pool, and reports each outcome as the BullMQ job's return
 * value. Start any number, on any machines.
 */
export async function runWorker(options: RunWorkerOptions): Promise<WorkerHandle> {
  const logger = (options.logger ?? createLogger({ level: options.logLevel ?? "info" })).child({ component: "bullmq-worker" });
  const queueName = options.queue ?? "ujr";
  const redisLabel = redactRedisUrl(options.redis);
  const prefix = options.prefix ?? "bull";
  const folders = await workerFolders(options, logger);
  // A taken job counts as started: its task must not wait for a pool worker to start up
  // (it would spend its timeout there), so a worker's pool starts whole.
  const pool: Executor = options.executor ?? TinypoolExecutor.fromSettings({ ...options, warm: true }, logger);
  // A job taken is a task started (the coordinator counts it so, its timeout runs): take
  // no more than the pool has processes or threads to start them on. Its size counts the
  // queue of tasks waiting for one, which a local runner keeps full to spare round trips.
  const concurrency = options.concurrency ?? (pool instanceof TinypoolExecutor ? pool.workers : pool.size);
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw bullmqError("UJR_BULLMQ_OPTION_INVALID", { option: "concurrency", reason: "use a whole number ≥ 1" });
  }
  if (pool instanceof TinypoolExecutor) pool.prestart();
  const graceDefault = options.shutdownGrace ?? 30_000;
  const name = options.name ?? `${hostname()}/${process.pid}`;
  const identity: WorkerIdentity = {
    worker: name,
    host: hostname(),
    pid: process.pid,
    folder: options.configFile ? dirname(resolvePath(options.configFile)) : process.cwd(),
    folderIs: options.configFile ? "the folder of the worker's config" : "the worker's working directory (it has no --config)",
  };
  /** Tasks running here, by queue job id. */
  const active = new Map<string, ActiveTask>();
  /**
   * Cancels of tries not running here, by run id, oldest first: a cancel can reach this
   * worker just before the task it names does (the coordinator saw the job taken, the
   * processor has not started yet); that task must then not run. Kept for the last few
   * thousand, since every worker hears every coordinator's cancels.
   */
  const cancelledBeforeStart = new Map<string, TaskFailure>();
  /**
   * Stops a running task's pool run. Cancellation is this worker's own (not BullMQ's
   * per-job abort signal, which costs an AbortController and a listener per task).
   */
  const stopRun = (jobId: string, why: AbortReason): boolean => {
    const entry = active.get(jobId);
    if (!entry || entry.why) return false;
    entry.why = why;
    const { run } = entry;
    const failure =
      why.kind === "cancel"
        ? why.failure
        : toTaskFailure(bullmqError("UJR_BULLMQ_WORKER_STOPPED", { task: `${run.ref.module}#${run.ref.export}`, job: run.job, reason: why.reason }));
    pool.cancel(run.id, failure);
    return true;
  };

  /** Where a task's module resolves from here, by the coordinator's folders: this machine's first, then the coordinator's (a shared filesystem). */
  const merged = new Map<string, string[]>();
  const foldersFor = (theirs: string[]): string[] => {
    const key = theirs.join("\n");
    let ours = merged.get(key);
    if (!ours) {
      if (merged.size >= 256) merged.clear();
      ours = [...folders, ...theirs.filter((folder) => !folders.includes(folder))];
      merged.set(key, ours);
    }
    return ours;
  };

  const processor = async (job: BullJob<JobData, JobResult>, token: string | undefined): Promise<JobResult> => {
    let run: TaskRun;
    try {
      run = decodeRun(job.data);
    } catch (error) {
      throw bullmqError("UJR_BULLMQ_JOB_UNREADABLE", { jobId: job.id ?? "(no id)", queue: queueName, reason: toTaskFailure(error).message });
    }
    const cancelled = cancelledBeforeStart.get(run.id);
    if (cancelled) {
      cancelledBeforeStart.delete(run.id);
      logger.info({ job: run.job, task: `${run.ref.module}#${run.ref.export}`, jobId: job.id, reason: cancelled.message }, "task cancelled by the coordinator before it started");
      return encodeResult({ ok: false, error: cancelled }, true);
    }
    run.resolveFrom = foldersFor(run.resolveFrom);
    const entry: ActiveTask = { run };
    active.set(job.id!, entry);
    let outcome: TaskOutcome;
    try {
      outcome = await pool.submit(run);
    } finally {
      active.delete(job.id!);
    }
    // The pool often hands back several outcomes at once: their completions (and the
    // next tasks they fetch) then travel to Redis in one write.
    batchWrites();
    if (entry.why?.kind === "shutdown" && token) {
      // Not this worker's task any more: back to the queue for another worker.
      await job.moveToWait(token);
      logger.info({ job: run.job, task: `${run.ref.module}#${run.ref.export}`, jobId: job.id }, "task stopped by shutdown; put back on the queue");
      throw new WaitingError();
    }
    if (!outcome.ok && outcome.error.code === "UJR_TASK_MODULE_NOT_FOUND") {
      // This machine lacks it, not necessarily the others: said here once, and to the coordinator with who and what to install.
      const failure = moduleNotFoundHere(run, outcome.error, identity);
      const { module, searched, install } = failure.details!;
      logger.error({ code: failure.code, job: run.job, task: `${run.ref.module}#${run.ref.export}`, jobId: job.id, worker: name, module, searched, install }, failure.message);
      outcome = { ok: false, error: failure };
    } else if (!outcome.ok && MODULE_PROBLEMS_HERE.has(outcome.error.code ?? "")) {
      // Installed here but not loadable here (another version, a native module built for another Node): which machine matters.
      const failure: TaskFailure = {
        ...outcome.error,
        message: `${outcome.error.message} (on the worker ${name}, host ${identity.host}, pid ${identity.pid})`,
        details: { ...outcome.error.details, worker: name, host: identity.host, pid: identity.pid },
      };
      logger.error({ code: failure.code, job: run.job, task: `${run.ref.module}#${run.ref.export}`, jobId: job.id, worker: name }, failure.message);
      outcome = { ok: false, error: failure };
    }
    return encodeResult(outcome, entry.why?.kind === "cancel");
  };

  const connection = connect(options.redis);
  connection.on("error", () => {});
  const batchWrites = writeBatcher(connection);
  const worker = new Worker<JobData, JobResult>(queueName, processor, {
    connection,
    prefix,
    concurrency,
    autorun: false,
    // Coordinators list the queue's workers by this name (their dashboard): which machine, which process.
    name,
    ...(options.lockDuration !== undefined ? { lockDuration: options.lockDuration } : {}),
    ...(options.stalledInterval !== undefined ? { stalledInterval: options.stalledInterval } : {}),
    ...(options.maxStalledCount !== undefined ? { maxStalledCount: options.maxStalledCount } : {}),
  });
  worker.on("error", redisTrouble(logger, connection, { redis: redisLabel, queue: queueName }, { retrying: "Retrying: running tasks go on, new ones wait for Redis", back: "Redis answers again: taking tasks" }));
  worker.on("failed", (job, error) => logger.warn({ jobId: job?.id, err: toTaskFailure(error) }, "queue job failed"));
  worker.on("stalled", (jobId) => logger.warn({ jobId }, "recovered a stalled task of a worker that stopped answering"));

  // Cancel messages from coordinators: abort the matching run if it is ours.
  const subscriber = connection.duplicate();
  subscriber.on("error", () => {});
  subscriber.on("message", (_channel: string, text: string) => {
    try {
      const message = JSON.parse(text) as CancelMessage;
      const failure = decodeText<TaskFailure>(message.reason);
      const running = active.get(message.jobId);
      if (running) {
        // Another try of the same task (a cancel that came late) is left alone.
        if (running.run.id === message.runId && stopRun(message.jobId, { kind: "cancel", failure })) {
          logger.info({ jobId: message.jobId, reason: failure.message }, "task cancelled by the coordinator");
        }
        return;
      }
      logger.debug({ jobId: message.jobId, runId: message.runId }, "cancel of a task not running here: remembered in case it comes");
      cancelledBeforeStart.set(message.runId, failure);
      if (cancelledBeforeStart.size > MAX_EARLY_CANCELS) cancelledBeforeStart.delete(cancelledBeforeStart.keys().next().value!);
    } catch (error) {
      logger.warn({ err: toTaskFailure(error) }, "unreadable cancel message");
    }
  });
  await subscriber.subscribe(cancelChannel(prefix, queueName));
  await worker.waitUntilReady();
  const runLoop = worker.run().catch((error: unknown) => logger.error({ err: toTaskFailure(error) }, "worker stopped on an error"));

  let resolveClosed!: () => void;
  const closed = new Promise<void>((resolve) => (resolveClosed = resolve));
  let stopping: Promise<void> | undefined;
  let forceNow: (() => void) | undefined;

  const stop = (stopOptions: { graceMs?: number; reason?: string } = {}): Promise<void> => {
    const reason = stopOptions.reason ?? "worker stopping";
    if (stopping) {
      forceNow?.();
      return stopping;
    }
    const graceMs = stopOptions.graceMs ?? graceDefault;
    logger.info({ graceMs, running: active.size, reason }, "stopping: no new tasks; waiting for running tasks");
    stopping = (async () => {
      const closing = worker.close();
      let timer: NodeJS.Timeout | undefined;
      const expired = await Promise.race([
        closing.then(() => false),
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(true), graceMs);
          forceNow = () => resolve(true);
        }),
      ]);
      clearTimeout(timer);
      if (expired && active.size > 0) {
        logger.warn({ running: active.size }, "grace period over: stopping running tasks and putting them back on the queue");
        for (const jobId of [...active.keys()]) stopRun(jobId, { kind: "shutdown", reason });
      }
      // BullMQ's close and the connections' QUIT talk to Redis: bounded, since with Redis
      // down they would wait for it for ever, and a second signal could not end the worker
      const closeTimeoutMs = options.closeTimeoutMs ?? CLOSE_TIMEOUT_MS;
      let redisGone = connection.status !== "ready";
      if (!redisGone) redisGone = !(await settledWithin(closing, closeTimeoutMs));
      if (redisGone) void worker.close(true).catch(() => {});
      else await runLoop;
      await pool.close();
      for (const conn of [subscriber, connection]) {
        if (redisGone || conn.status !== "ready" || !(await settledWithin(conn.quit(), closeTimeoutMs))) conn.disconnect();
      }
      if (redisGone) logger.warn({ redis: redisLabel }, "Redis did not answer while stopping: connections dropped; the tasks this worker had taken go back to the queue when their locks expire");
      dispose();
      logger.info("worker stopped");
      resolveClosed();
    })();
    return stopping;
  };

  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) logger.warn({ signal }, `received ${signal} again: stopping running tasks now`);
    else logger.warn({ signal, graceMs: graceDefault }, `received ${signal}: no new tasks; running tasks have ${Math.round(graceDefault / 1000)} s to finish`);
    void stop({ reason: signal });
  };
  const handleSignals = options.handleSignals ?? true;
  if (handleSignals) {
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
  }
  function dispose(): void {
    if (handleSignals) {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    }
  }

  // concurrency: tasks taken from the queue at once (the pool's workers); poolSlots: what the
  // local pool accepts, its workers plus those queued for them (not a second pool size)
  logger.info({ redis: redisLabel, queue: queueName, concurrency, poolSlots: pool.size, resolveFrom: folders }, "worker ready");
  return {
    queue: queueName,
    concurrency,
    resolveFrom: folders,
    get running() {
      return active.size;
    },
    stop,
    closed,
  };
}
