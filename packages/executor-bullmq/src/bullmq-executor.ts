import { Job as BullJob, Queue } from "bullmq";
import type { Redis } from "ioredis";
import { silentLogger, toTaskFailure, type Executor, type Logger, type TaskFailure, type TaskOutcome, type TaskRun } from "@ujr/core";
import { bullmqError } from "./errors.js";
import { bullmqJobId, decodeResult, encodeRun, encodeText, type JobData, type JobResult } from "./internal/codec.js";
import { EventReader, eventField, type QueueEvent } from "./internal/event-reader.js";
import { defineRemoveFinished, removeFinishedJobs, type FinishedJobKeys } from "./internal/finished-jobs.js";
import { CLOSE_TIMEOUT_MS, cancelChannel, connect, redactRedisUrl, redisTrouble, settledWithin, writeBatcher, type CancelMessage } from "./internal/redis.js";

export interface BullmqExecutorOptions {
  /** redis:// URL of the queue's Redis. */
  redis: string;
  /** BullMQ queue name (default "ujr"); coordinators and workers of one collection share it. */
  queue?: string | undefined;
  /** BullMQ key prefix (default "bull"). */
  prefix?: string | undefined;
  /**
   * Most tasks queued or running at once for this coordinator (default 64): keeps the
   * queue bounded. Set it to about twice the total concurrency of your workers.
   */
  size?: number | undefined;
  /** Results nobody collected are deleted after this long (default 7 days). */
  resultTtlMs?: number | undefined;
  /**
   * How often tasks waiting longer than this are checked directly in Redis, in case an
   * event was missed (a reconnect, a trimmed event stream). Default 10 s.
   */
  reconcileIntervalMs?: number | undefined;
  logger?: Logger | undefined;
  /**
   * How long close() waits for Redis (the removals in flight, the events reader, the queue)
   * before it drops the connections (default 5 s): with Redis down, it would wait for ever.
   */
  closeTimeoutMs?: number | undefined;
}

interface Waiter {
  runId: string;
  jobId: string;
  run: TaskRun;
  since: number;
  /** A worker took it (BullMQ 'active' event seen). */
  started: boolean;
  /** Its queue job was added (or found there): from then on a worker may run it. */
  queued: boolean;
  /** The add in flight, if any: a cancel's removal must not overtake it. */
  adding: Promise<void> | undefined;
  /** Cancelled with this reason; the try settles with it once no code of it runs. */
  cancelled: TaskFailure | undefined;
  /** A removal or cancel message for it is in flight (see #stopCode). */
  stopping: boolean;
  resolve(outcome: TaskOutcome): void;
}

const DEFAULT_TTL_MS = 7 * 24 * 3600_000;
/** What a close without Redis leaves: said whether Redis was gone before the close or went during it. */
const DROPPED = "connections dropped; tasks still queued or running stay in Redis for the next coordinator";
/** How often a cancelled try whose worker has not ended it is looked at again (at most). */
const CANCEL_CHECK_MS = 1000;

/** The queue events the coordinator acts on; the others (added, waiting...) are skipped unread. */
const EVENTS = new Set(["completed", "failed", "active", "duplicated", "removed"]);

/**
 * Runs tasks on worker machines through a BullMQ queue. The coordinator (the runner
 * loop) keeps asking jobs for tasks exactly as with the local pool; `submit` puts each
 * task on the queue and resolves with the outcome a worker (see `runWorker`) reports.
 *
 * - The BullMQ job id is derived from the task's dedup identity, so two coordinators (or
 *   a restarted one) never queue the same task twice while it is queued or running:
 *   the second one waits for the outcome of the job already there.
 * - Results stay in Redis until a coordinator reads them (then the job is removed), so
 *   a restarted coordinator picks up tasks that finished while it was away.
 * - BullMQ attempts stay at 1: the runner owns the retry policy (timeouts, backoff).
 */
export class BullmqExecutor implements Executor {
  readonly size: number;
  readonly queueName: string;
  readonly prefix: string;
  readonly #redisLabel: string;
  readonly #conn: Redis;
  readonly #batchWrites: () => void;
  readonly #queue: Queue<JobData, JobResult>;
  readonly #finishedKeys: FinishedJobKeys;
  #reader: EventReader | undefined;
  #readerConn: Redis | undefined;
  readonly #ready: Promise<void>;
  readonly #logger: Logger;
  readonly #ttlSeconds: number;
  readonly #reconcileMs: number;
  readonly #cancelCheckMs: number;
  readonly #waiters = new Map<string, Waiter>();
  readonly #byRunId = new Map<string, Waiter>();
  /** Jobs whose outcome nobody wants any more (cancelled): removed when they finish. */
  readonly #discard = new Set<string>();
  /** Cancelled tries that wait for their worker to end their code (see cancel()). */
  readonly #cancelling = new Set<Waiter>();
  #cancelTimer: NodeJS.Timeout | undefined;
  /** cancelQueued() was called (the runner is stopping) and nothing was submitted since. */
  #draining = false;
  readonly #reconciling = new Map<string, { again: boolean }>();
  /** Jobs whose outcome was read, to delete in one call at the end of the current batch. */
  #toRemove: string[] = [];
  /** Deletions in flight, by job id: a new add of the same id waits for its deletion. */
  readonly #removing = new Map<string, Promise<void>>();
  /** Deletions (and cancels' removals) in flight: close() waits for them. */
  readonly #removals = new Set<Promise<unknown>>();
  #timer: NodeJS.Timeout | undefined;
  #startListener: ((runId: string) => void) | undefined;
  /** The last look found tasks waiting and no worker on the queue (said once until one comes). */
  #noWorkers = false;
  #lookingForWorkers = false;
  /**
   * When the coordinator's Redis connection last became ready (0: not yet). Workers come back
   * after an outage on their own reconnect schedule: a task's wait for a worker counts from
   * here at the earliest, so that they get one reconcile period before "no workers".
   */
  #readyAt = 0;
  /** When the connection was lost after being ready, until it is ready again. */
  #lostAt: number | undefined;
  #lastError: string | undefined;
  #closed = false;
  #isReady = false;
  readonly #closeTimeoutMs: number;

  constructor(options: BullmqExecutorOptions) {
    const size = options.size ?? 64;
    if (!Number.isInteger(size) || size < 1) throw bullmqError("UJR_BULLMQ_OPTION_INVALID", { option: "size", reason: "use a whole number ≥ 1" });
    this.size = size;
    this.queueName = options.queue ?? "ujr";
    this.prefix = options.prefix ?? "bull";
    this.#redisLabel = redactRedisUrl(options.redis);
    this.#logger = (options.logger ?? silentLogger()).child({ component: "bullmq-executor", queue: this.queueName });
    this.#ttlSeconds = Math.max(1, Math.round((options.resultTtlMs ?? DEFAULT_TTL_MS) / 1000));
    this.#reconcileMs = options.reconcileIntervalMs ?? 10_000;
    this.#closeTimeoutMs = options.closeTimeoutMs ?? CLOSE_TIMEOUT_MS;
    this.#cancelCheckMs = this.#reconcileMs > 0 ? Math.min(CANCEL_CHECK_MS, this.#reconcileMs) : CANCEL_CHECK_MS;
    this.#conn = connect(options.redis);
    // The adds and removals of many tasks go out in one write per tick.
    this.#batchWrites = writeBatcher(this.#conn);
    defineRemoveFinished(this.#conn);
    this.#conn.on("error", (error: Error) => {
      this.#lastError = error.message;
    });
    this.#conn.on("ready", () => this.#onRedisReady());
    this.#conn.on("close", () => {
      if (this.#readyAt > 0 && !this.#closed) this.#lostAt ??= Date.now();
    });
    this.#queue = new Queue<JobData, JobResult>(this.queueName, { connection: this.#conn, prefix: this.prefix });
    // The end of an outage is said by #onRedisReady, with what it means for the workers.
    const trouble = redisTrouble(this.#logger, this.#conn, { redis: this.#redisLabel, queue: this.queueName }, { retrying: "Retrying: queued and running tasks stay in Redis, new ones wait for it" });
    this.#queue.on("error", (error: Error) => {
      // After close(): the queue's start cut short by our own disconnect (see close()).
      if (!this.#closed) trouble(error);
    });
    this.#finishedKeys = { completed: this.#queue.keys.completed!, failed: this.#queue.keys.failed!, jobPrefix: this.#queue.toKey("") };
    this.#ready = this.#init();
    this.#ready.catch(() => {});
  }

  #onRedisReady(): void {
    this.#readyAt = Date.now();
    if (this.#lostAt === undefined) return;
    this.#logger.info(
      { redis: this.#redisLabel, downMs: this.#readyAt - this.#lostAt, graceMs: this.#reconcileMs },
      `Redis answers again: workers have ${this.#reconcileMs / 1000} s (reconcileIntervalMs) to reconnect before tasks waiting for one are reported`,
    );
    this.#lostAt = undefined;
  }

  async #init(): Promise<void> {
    await this.#queue.waitUntilReady();
    // Read events from the stream's current end: nothing queued after this point is missed,
    // even though the events reader starts later. Jobs that finished before (a restart)
    // are found through the 'duplicated' event their re-submission causes.
    const last = await this.#conn.xrevrange(this.#queue.keys.events!, "+", "-", "COUNT", 1);
    const lastEventId = last[0]?.[0] ?? "0-0";
    if (this.#closed) return;
    const readerConn = this.#conn.duplicate();
    readerConn.on("error", (error: Error) => {
      this.#lastError = error.message;
    });
    this.#readerConn = readerConn;
    this.#reader = new EventReader({
      connection: readerConn,
      key: this.#queue.keys.events!,
      after: lastEventId,
      events: EVENTS,
      onBatch: (events) => this.#onEvents(events),
      logger: this.#logger,
    });
    this.#reader.start();
    this.#isReady = true;
    if (this.#reconcileMs > 0) {
      this.#timer = setInterval(() => this.#reconcileOld(), this.#reconcileMs);
      this.#timer.unref();
    }
  }

  /** Resolves once Redis answers; rejects with UJR_BULLMQ_REDIS_UNREACHABLE after `timeoutMs`. */
  async ready(timeoutMs = 10_000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.#ready,
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () =>
              reject(
                bullmqError("UJR_BULLMQ_REDIS_UNREACHABLE", {
                  redis: this.#redisLabel,
                  queue: this.queueName,
                  reason: this.#lastError ?? `no answer within ${timeoutMs} ms`,
                }),
              ),
            timeoutMs,
          );
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Tells the runner when a worker takes each task (BullMQ's `active` event), so task
   * timeouts count running time, not time waiting on the queue, as with the local pool.
   */
  setStartListener(listener: ((runId: string) => void) | undefined): void {
    this.#startListener = listener;
  }

  #markStarted(waiter: Waiter): void {
    if (waiter.started) return;
    waiter.started = true;
    // A worker's "completed" and its next "active" come in one read: the outcome settled
    // above reaches the runner first (see Executor.setStartListener).
    queueMicrotask(() => this.#byRunId.get(waiter.runId) === waiter && !waiter.cancelled && this.#startListener?.(waiter.runId));
  }

  capacity(): number {
    return this.#closed ? 0 : this.size - this.#byRunId.size;
  }

  /** The BullMQ job id a run is queued under. */
  jobIdOf(run: Pick<TaskRun, "job" | "ref" | "signature">): string {
    return bullmqJobId(run);
  }

  submit(run: TaskRun): Promise<TaskOutcome> {
    if (this.#closed) return Promise.resolve({ ok: false, error: this.#closedFailure(run) });
    this.#draining = false;
    const jobId = bullmqJobId(run);
    return new Promise<TaskOutcome>((resolve) => {
      const waiter: Waiter = { runId: run.id, jobId, run, since: Date.now(), started: false, queued: false, adding: undefined, cancelled: undefined, stopping: false, resolve };
      const previous = this.#waiters.get(jobId);
      if (previous) {
        // The runner never runs one identity twice at once; should it happen, the older try
        // gives way rather than two tries sharing one result.
        this.#settle(previous, { ok: false, error: this.#closedFailure(previous.run) });
      }
      // Registered before the job is added: its events may arrive before add() returns.
      this.#waiters.set(jobId, waiter);
      this.#byRunId.set(run.id, waiter);
      this.#batchWrites();
      void this.#add(waiter);
    });
  }

  /** Queues the waiter's job (again); `waiter.adding` is the add in flight. */
  #add(waiter: Waiter): Promise<void> {
    const adding = this.#addNow(waiter);
    waiter.adding = adding;
    return adding;
  }

  async #addNow(waiter: Waiter): Promise<void> {
    try {
      await this.#ready;
      // The previous job of this id (a result just read) must be gone first, or this add
      // would find it and hand the old result to the new try.
      const removing = this.#removing.get(waiter.jobId);
      if (removing) await removing;
      if (this.#waiters.get(waiter.jobId) !== waiter) return;
      if (waiter.cancelled) {
        // Cancelled before its job reached the queue (or before it went back on it): no
        // code of it runs, so the try is over.
        this.#settleCancelled(waiter);
        return;
      }
      waiter.queued = true;
      // A job with this id already queued, running or finished makes add() a no-op that
      // emits 'duplicated'; we then wait for (or read) that job's outcome.
      await this.#queue.add(waiter.run.job, encodeRun(waiter.run), {
        jobId: waiter.jobId,
        attempts: 1,
        removeOnComplete: { age: this.#ttlSeconds },
        removeOnFail: { age: this.#ttlSeconds },
      });
    } catch (error) {
      if (this.#waiters.get(waiter.jobId) !== waiter) return;
      const failure = toTaskFailure(error);
      this.#logger.error({ job: waiter.run.job, jobId: waiter.jobId, err: failure }, "could not queue a task");
      this.#settle(waiter, { ok: false, error: { ...failure, retryable: true } });
    }
  }

  #onEvents(events: QueueEvent[]): void {
    for (const { event, jobId, fields } of events) {
      switch (event) {
        case "completed":
          // Decoded only when someone waits for it: other coordinators' jobs share the stream.
          if (this.#waiters.has(jobId) || this.#discard.has(jobId)) this.#onCompleted(jobId, parseJson(eventField(fields, "returnvalue")));
          break;
        case "failed":
          this.#onFailed(jobId, eventField(fields, "failedReason") ?? "");
          break;
        case "active": {
          const waiter = this.#waiters.get(jobId);
          // A try we cancelled may still be active under the same job id as its retry: that is not the retry starting.
          if (waiter && !waiter.cancelled && !this.#discard.has(jobId)) this.#markStarted(waiter);
          break;
        }
        default:
          // 'duplicated' (our add found the job there, maybe finished) or 'removed'.
          this.#onMaybeGone(jobId);
      }
    }
  }

  /** Resolves a try; a cancelled one always with its cancel reason, whatever its job reported. */
  #settle(waiter: Waiter, outcome: TaskOutcome): void {
    if (this.#waiters.get(waiter.jobId) === waiter) this.#waiters.delete(waiter.jobId);
    if (this.#byRunId.get(waiter.runId) === waiter) this.#byRunId.delete(waiter.runId);
    if (this.#cancelling.delete(waiter) && this.#cancelling.size === 0) this.#stopCancelChecks();
    waiter.resolve(waiter.cancelled ? { ok: false, error: waiter.cancelled } : outcome);
  }

  /** Settles a cancelled try (with its cancel reason), unless it settled already. */
  #settleCancelled(waiter: Waiter): void {
    if (this.#pending(waiter)) this.#settle(waiter, { ok: false, error: waiter.cancelled! });
  }

  /** True while the try has not settled. */
  #pending(waiter: Waiter): boolean {
    return this.#byRunId.get(waiter.runId) === waiter;
  }

  /** Who waits for a job that finished; a finished job nobody wants (cancelled) is removed. */
  #waiterOfFinished(jobId: string): Waiter | undefined {
    const waiter = this.#waiters.get(jobId);
    const discarded = this.#discard.delete(jobId);
    if (!waiter && discarded) this.#remove(jobId);
    return waiter;
  }

  #onCompleted(jobId: string, returnvalue: unknown): void {
    const waiter = this.#waiterOfFinished(jobId);
    if (!waiter) return;
    if (waiter.cancelled) {
      // Its worker ended the job (stopped by the cancel, or done before it came): no code
      // of this try runs any more. Settled with the cancel reason, not the job's result.
      this.#settleCancelled(waiter);
      this.#remove(jobId);
      return;
    }
    let result: ReturnType<typeof decodeResult>;
    try {
      result = decodeResult(returnvalue);
    } catch {
      result = undefined;
    }
    if (!result || result.cancelled) {
      // A try someone cancelled (or a result this version cannot read): not an outcome
      // for this waiter. Run the task again.
      void this.#requeue(jobId);
      return;
    }
    this.#settle(waiter, result.outcome);
    this.#remove(jobId);
  }

  #onFailed(jobId: string, failedReason: string): void {
    const waiter = this.#waiterOfFinished(jobId);
    if (!waiter) return;
    this.#settle(waiter, { ok: false, error: this.#jobFailure(waiter.run, failedReason) });
    this.#remove(jobId);
  }

  /** The job we wait for was already there (it may have finished) or was removed. */
  #onMaybeGone(jobId: string): void {
    if (this.#waiters.has(jobId)) void this.#reconcile(jobId);
  }

  /** Looks the job up in Redis and acts on its state. One at a time per job. */
  async #reconcile(jobId: string): Promise<void> {
    const running = this.#reconciling.get(jobId);
    if (running) {
      running.again = true;
      return;
    }
    const state = { again: true };
    this.#reconciling.set(jobId, state);
    try {
      while (state.again && !this.#closed) {
        state.again = false;
        const waiter = this.#waiters.get(jobId);
        if (!waiter) return;
        const job = (await BullJob.fromId(this.#queue, jobId)) as BullJob<JobData, JobResult> | undefined;
        if (this.#waiters.get(jobId) !== waiter) return;
        if (!job) {
          // Removed (by another coordinator that read its result, or cancelled it): queue it again.
          await this.#add(waiter);
          continue;
        }
        const jobState = await job.getState();
        if (jobState === "completed") this.#onCompleted(jobId, job.returnvalue);
        else if (jobState === "failed") this.#onFailed(jobId, job.failedReason);
        else if (jobState === "active" && !waiter.cancelled && !this.#discard.has(jobId)) this.#markStarted(waiter);
      }
    } catch (error) {
      this.#logger.warn({ jobId, err: toTaskFailure(error) }, "could not check a queued task; will check again");
    } finally {
      this.#reconciling.delete(jobId);
    }
  }

  #reconcileOld(): void {
    const before = Date.now() - this.#reconcileMs;
    let waitingLong = 0;
    let heldBack = 0;
    for (const waiter of this.#waiters.values()) {
      if (waiter.since >= before) continue;
      void this.#reconcile(waiter.jobId);
      if (waiter.started) continue;
      if (this.#readyAt < before) waitingLong++;
      else heldBack++;
    }
    if (heldBack > 0 && this.#conn.status === "ready") {
      this.#logger.debug({ waiting: heldBack, readyForMs: Date.now() - this.#readyAt }, "tasks have waited long, but Redis answers only since recently: the workers may still be reconnecting");
    }
    if (waitingLong > 0 || this.#noWorkers) void this.#lookForWorkers(waitingLong);
  }

  /**
   * The queue and the workers on it, for status pages (the dashboard): job counts by
   * state and each worker connection's name (`ujr worker` names it `host/pid`), address
   * and idle time. Empty lists when Redis refuses CLIENT LIST.
   */
  async describe(): Promise<{ kind: "bullmq"; queue: string; redis: string; counts: Record<string, number>; workers: Array<{ name: string; address?: string | undefined; idleSeconds?: number | undefined }> }> {
    const counts = await this.#queue.getJobCounts("waiting", "active", "delayed", "prioritized", "failed");
    let workers: Array<{ name: string; address?: string | undefined; idleSeconds?: number | undefined }> = [];
    try {
      workers = (await this.#queue.getWorkers()).map((client) => {
        const raw = String(client.rawname ?? "");
        const named = raw.indexOf(":w:");
        return { name: named >= 0 ? raw.slice(named + 3) : "(unnamed)", address: client.addr, idleSeconds: client.idle === undefined ? undefined : Number(client.idle) };
      });
    } catch {
      // A Redis that refuses CLIENT LIST: no workers to show.
    }
    return { kind: "bullmq", queue: this.queueName, redis: this.#redisLabel, counts, workers };
  }

  /**
   * Tasks that wait long may have no worker to go to (none started, or a wrong queue or
   * Redis on the workers' side): say so once, and again when workers come. After an outage
   * a task's wait counts from Redis's return (see #readyAt), not from its submission.
   */
  async #lookForWorkers(waiting: number): Promise<void> {
    // Without Redis there is nothing to see; a CLIENT LIST held for its return would be
    // answered the moment it reconnects, before the workers have.
    if (this.#lookingForWorkers || this.#conn.status !== "ready") return;
    this.#lookingForWorkers = true;
    const readyAt = this.#readyAt;
    try {
      // BullMQ names its workers' connections: CLIENT LIST tells whether any is there.
      const workers = await this.#queue.getWorkersCount();
      // The connection went and came back meanwhile: the workers get their period again.
      if (this.#readyAt !== readyAt || this.#closed) return;
      if (workers === 0 && waiting > 0 && !this.#noWorkers) {
        this.#noWorkers = true;
        const warning = bullmqError("UJR_BULLMQ_NO_WORKERS", {
          queue: this.queueName,
          redis: this.#redisLabel,
          waiting,
          seconds: this.#reconcileMs / 1000,
        });
        this.#logger.warn({ code: warning.code, waiting }, warning.message);
      } else if (workers > 0 && this.#noWorkers) {
        this.#noWorkers = false;
        this.#logger.info({ workers }, "workers take tasks from the queue again");
      }
    } catch {
      // A Redis that refuses CLIENT LIST: nothing to tell.
    } finally {
      this.#lookingForWorkers = false;
    }
  }

  async #requeue(jobId: string): Promise<void> {
    try {
      const removed = await this.#queue.remove(jobId);
      // Not removed: it is locked, i.e. someone queued it again and a worker runs it now.
      if (removed === 1) {
        const waiter = this.#waiters.get(jobId);
        if (waiter) await this.#add(waiter);
      }
    } catch (error) {
      this.#logger.warn({ jobId, err: toTaskFailure(error) }, "could not requeue a cancelled task");
    }
  }

  /** Deletes a finished job whose outcome was read: batched, one Redis call per event batch. */
  #remove(jobId: string): void {
    if (this.#toRemove.push(jobId) === 1) queueMicrotask(() => this.#flushRemovals());
  }

  #flushRemovals(): void {
    const jobIds = this.#toRemove;
    if (jobIds.length === 0) return;
    this.#toRemove = [];
    this.#batchWrites();
    const removal = removeFinishedJobs(this.#conn, this.#finishedKeys, jobIds).then(
      () => {},
      (error: unknown) =>
        this.#logger.warn({ jobs: jobIds.length, err: toTaskFailure(error) }, "could not remove finished jobs; they expire after resultTtlMs"),
    );
    for (const jobId of jobIds) this.#removing.set(jobId, removal);
    this.#track(removal);
    void removal.then(() => {
      for (const jobId of jobIds) if (this.#removing.get(jobId) === removal) this.#removing.delete(jobId);
    });
  }

  /**
   * Stops a submitted try; its outcome resolves as failed with `reason` once no code of it
   * runs, so the runner never starts another try of the task while this one still runs
   * (promise a):
   * - a task still waiting on the queue is removed from it and resolves at once;
   * - a running one gets a cancel message; its worker aborts the pool run (terminating
   *   the pool worker) and ends the queue job, and the try resolves when that job's
   *   `completed` or `failed` event comes;
   * - a worker that died never answers: every second (or `reconcileIntervalMs`, if
   *   shorter) the removal is tried again, and the cancel message sent again. Once the dead
   *   worker's BullMQ lock has expired the job can be removed (or another worker's stalled
   *   check has put it back on the queue, where it is removed, or failed it), and the try
   *   resolves; a worker that took it meanwhile has heard the cancel and ends it unrun.
   *
   * After `cancelQueued()` (the runner is stopping: nothing starts any more) a cancelled
   * try resolves at once, so that a stop never waits for a dead worker's lock to expire;
   * its job stays active in Redis until its worker ends it, and a coordinator that queues
   * the task meanwhile waits for that job rather than running it beside it.
   */
  cancel(runId: string, reason: TaskFailure): void {
    const waiter = this.#byRunId.get(runId);
    if (!waiter) return;
    if (!waiter.cancelled) {
      waiter.cancelled = reason;
      this.#cancelling.add(waiter);
      this.#track(this.#stopCode(waiter));
    }
    if (this.#draining) this.#settleNow(waiter);
  }

  /** Settles a cancelled try before its worker ended it (a stop): the job's outcome, when it comes, is discarded. */
  #settleNow(waiter: Waiter): void {
    if (!this.#pending(waiter)) return;
    if (waiter.queued) this.#discard.add(waiter.jobId);
    this.#settleCancelled(waiter);
  }

  /**
   * Removes a cancelled try's job from the queue, or, when a worker holds it, tells the
   * workers to stop it. Settles the try when the job is gone (removed, or never queued).
   */
  async #stopCode(waiter: Waiter): Promise<void> {
    const { jobId, runId } = waiter;
    if (waiter.stopping) return;
    waiter.stopping = true;
    try {
      await this.#ready;
      // The removal must not overtake the add: a job added after it would run.
      await waiter.adding;
      if (!waiter.queued) {
        // Never queued: the add saw the cancel and settled it (or the try was settled meanwhile).
        this.#settleCancelled(waiter);
        return;
      }
      const removed = await this.#queue.remove(jobId);
      if (removed === 1) {
        // It was waiting, or it had finished, or its worker died and its lock expired:
        // no code of it runs.
        this.#discard.delete(jobId);
        this.#settleCancelled(waiter);
        return;
      }
      // A worker holds its lock: it runs it, or is about to (a cancel that overtakes its task
      // is remembered by every worker). Its completed or failed event settles the try.
      const message: CancelMessage = { jobId, runId, reason: encodeText(waiter.cancelled) };
      await this.#conn.publish(cancelChannel(this.prefix, this.queueName), JSON.stringify(message));
      if (this.#pending(waiter)) this.#startCancelChecks();
    } catch (error) {
      this.#logger.warn({ jobId, err: toTaskFailure(error) }, "could not cancel a queued task; will try again");
      if (this.#pending(waiter)) this.#startCancelChecks();
    } finally {
      waiter.stopping = false;
    }
  }

  #startCancelChecks(): void {
    if (this.#cancelTimer || this.#closed) return;
    this.#cancelTimer = setInterval(() => {
      for (const waiter of this.#cancelling) if (!waiter.stopping) this.#track(this.#stopCode(waiter));
    }, this.#cancelCheckMs);
    this.#cancelTimer.unref();
  }

  #stopCancelChecks(): void {
    if (this.#cancelTimer) clearInterval(this.#cancelTimer);
    this.#cancelTimer = undefined;
  }

  /** Redis work close() waits for. */
  #track(work: Promise<unknown>): void {
    this.#removals.add(work);
    void work.then(() => this.#removals.delete(work));
  }

  /**
   * Drops the tasks no worker has taken yet (the runner calls it when it stops): they
   * leave the queue and their tries resolve as failed with `reason`. Returns their run ids.
   * From then on until the next submit, cancelled tries resolve at once (see cancel()),
   * those cancelled earlier that still wait for their worker included.
   */
  cancelQueued(reason: TaskFailure): string[] {
    this.#draining = true;
    for (const waiter of [...this.#cancelling]) this.#settleNow(waiter);
    const dropped: string[] = [];
    for (const waiter of [...this.#byRunId.values()]) {
      if (waiter.started || waiter.cancelled) continue;
      dropped.push(waiter.runId);
      this.cancel(waiter.runId, reason);
    }
    return dropped;
  }

  /**
   * Closes the connections. Tasks still queued or running stay in Redis; their results
   * wait for the next coordinator. Open submits resolve as failed (UJR_BULLMQ_EXECUTOR_CLOSED).
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#stopCancelChecks();
    for (const waiter of [...this.#byRunId.values()]) this.#settle(waiter, { ok: false, error: this.#closedFailure(waiter.run) });
    if (!this.#isReady || this.#conn.status !== "ready") {
      // Not ready (Redis never answered, is only now coming up, or is down now): nothing to
      // close gracefully, and waiting would hang.
      if (this.#isReady) this.#logger.warn({ redis: this.#redisLabel }, `closing while Redis does not answer: ${DROPPED}`);
      this.#conn.disconnect();
      this.#readerConn?.disconnect();
      // The queue is closed only once its own start has settled. BullMQ's connection wrapper
      // starts by waiting for "ready", then asks the server version (INFO); its close()
      // drops the wrapper's 'error' listeners at once, while the disconnect above rejects
      // that INFO with "Connection is closed." only when the socket has closed. The wrapper
      // then re-emits the rejection as an 'error' nobody listens to any more, which throws
      // inside its own .catch(): an unhandled rejection (taskforcesh/bullmq#3546), seen when
      // a coordinator stops just as its connection comes up. The connection is ours (shared),
      // so the queue's close() only detaches listeners: closing it later holds nothing open,
      // and a start that never settles (Redis unreachable) leaves nothing behind either.
      const closeQueue = () => void this.#queue.close().catch(() => {});
      this.#queue.waitUntilReady().then(closeQueue, closeQueue);
      return;
    }
    this.#flushRemovals();
    const graceful = (async () => {
      await Promise.all([...this.#removals]);
      await this.#reader?.close();
      this.#readerConn?.disconnect();
      await this.#reader?.ended;
      await this.#queue.close().catch(() => {});
    })();
    if (!(await settledWithin(graceful, this.#closeTimeoutMs))) {
      // Redis went away while closing: what it did not take stays for the next coordinator
      this.#logger.warn({ redis: this.#redisLabel, waitedMs: this.#closeTimeoutMs }, `Redis did not answer while closing: ${DROPPED}`);
      this.#readerConn?.disconnect();
      graceful.catch(() => {});
    }
    this.#conn.disconnect();
  }

  #closedFailure(run: TaskRun): TaskFailure {
    return toTaskFailure(
      bullmqError("UJR_BULLMQ_EXECUTOR_CLOSED", { task: `${run.ref.module}#${run.ref.export}`, job: run.job, queue: this.queueName }),
    );
  }

  #jobFailure(run: TaskRun, reason: string): TaskFailure {
    const failure = toTaskFailure(
      bullmqError("UJR_BULLMQ_JOB_FAILED", { task: `${run.ref.module}#${run.ref.export}`, job: run.job, queue: this.queueName, reason }),
    );
    return { ...failure, retryable: true };
  }
}

function parseJson(text: string | undefined): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
