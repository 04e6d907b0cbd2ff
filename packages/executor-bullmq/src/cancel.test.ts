// A cancelled try (a timeout, a removed job, a stopping runner) ends when no code of it
// runs any more, not when the coordinator asks: otherwise the runner could start the
// next try of the task while the old one still runs (the runner's promise a).
import { describe, expect, it } from "vitest";
import { Redis } from "ioredis";
import { JobDone, Runner, silentLogger, type Executor, type Job, type Task, type TaskFailure, type TaskOutcome, type TaskRun } from "@ujr/core";
import { cleanupsAfterEach, fixtureRun, marksOf, REDIS_URL, redisAvailable, tasksModule, testbed, waitForMarks, workerOf } from "./__fixtures__/helpers.js";
import { runWorker } from "./worker.js";
import { cancelChannel } from "./internal/redis.js";

const hasRedis = await redisAvailable();

const reason: TaskFailure = { name: "UjrError", code: "UJR_TASK_CANCELLED", message: "cancelled: job removed" };

/**
 * The local pool of an in-process worker, whose tasks' code stops when the test says so:
 * a cancel reaches it, but the code goes on (a pool worker still starting, a task that
 * ignores its abort signal) until `stop`. Everything that happens goes into `log`, with
 * what the test adds to it, in order.
 */
class HeldPool implements Executor {
  readonly size = 2;
  readonly log: string[] = [];
  readonly #tries = new Map<string, { run: TaskRun; resolve(outcome: TaskOutcome): void; cancelled?: TaskFailure }>();
  readonly #watchers: Array<{ entry: string; resolve(): void }> = [];

  capacity(): number {
    return this.size - this.#tries.size;
  }

  submit(run: TaskRun): Promise<TaskOutcome> {
    return new Promise((resolve) => {
      this.#tries.set(run.id, { run, resolve });
      this.note(`begin ${run.attempt}`);
      // Later attempts return at once.
      if (run.attempt > 1) this.stop(run.id);
    });
  }

  cancel(runId: string, failure: TaskFailure): void {
    const held = this.#tries.get(runId);
    if (!held || held.cancelled) return;
    held.cancelled = failure;
    this.note(`cancel ${held.run.attempt}`);
  }

  /** The code of a try stops: it returns, or fails with its cancel reason if it was cancelled. */
  stop(runId: string): void {
    const held = this.#tries.get(runId)!;
    this.#tries.delete(runId);
    this.note(`end ${held.run.attempt}`);
    held.resolve(held.cancelled ? { ok: false, error: held.cancelled } : { ok: true, value: held.run.attempt });
  }

  /** The run id of the try of `attempt` running now. */
  runIdOf(attempt: number): string {
    return [...this.#tries.values()].find(({ run }) => run.attempt === attempt)!.run.id;
  }

  note(entry: string): void {
    this.log.push(entry);
    for (const watcher of this.#watchers.filter((w) => w.entry === entry)) {
      this.#watchers.splice(this.#watchers.indexOf(watcher), 1);
      watcher.resolve();
    }
  }

  /** Resolves once `entry` is in the log. */
  seen(entry: string): Promise<void> {
    if (this.log.includes(entry)) return Promise.resolve();
    return new Promise((resolve) => this.#watchers.push({ entry, resolve }));
  }

  /** Ends every try still held (after a test, so that its worker can stop). */
  stopAll(): void {
    for (const runId of [...this.#tries.keys()]) this.stop(runId);
  }

  async close(): Promise<void> {}
}

/** A job that emits one task until it has finished (successfully or not), then is done. */
class OneTaskJob implements Job {
  outcome: "done" | "failed" | undefined;
  constructor(readonly name: string, readonly task: Task) {}
  getRunnableTasks(): Task[] {
    if (this.outcome) throw new JobDone();
    return [this.task];
  }
  onTaskDone(): void {
    this.outcome = "done";
  }
  onTaskFailed(): void {
    this.outcome = "failed";
  }
}

describe.skipIf(!hasRedis)("cancelling a try on BullMQ", () => {
  const cleanups = cleanupsAfterEach();

  /** A fresh queue and a worker in this process running tasks in a HeldPool. */
  async function heldBed(label: string) {
    const bed = testbed(label, cleanups);
    const pool = new HeldPool();
    const worker = await runWorker({ redis: REDIS_URL, queue: bed.queue, executor: pool, handleSignals: false, logger: silentLogger() });
    cleanups.push(() => worker.stop({ graceMs: 0 }));
    cleanups.push(() => pool.stopAll());
    return { bed, pool };
  }

  it("a running try's outcome comes once its worker has stopped its code, with the cancel reason", async () => {
    const { bed, pool } = await heldBed("held");
    const exec = bed.executor();
    const run = fixtureRun("held", "noop", null, "h");
    const outcome = exec.submit(run);
    void outcome.then(() => pool.note("settled"));
    await pool.seen("begin 1");
    exec.cancel(run.id, reason);
    // The worker heard the cancel and passed it to its pool; the code still runs.
    await pool.seen("cancel 1");
    expect(exec.capacity()).toBe(exec.size - 1);
    pool.stop(run.id);
    expect(await outcome).toEqual({ ok: false, error: reason });
    expect(pool.log).toEqual(["begin 1", "cancel 1", "end 1", "settled"]);
    expect(exec.capacity()).toBe(exec.size);
  });

  it("a timed-out try is retried only after its worker has stopped its code", async () => {
    const { bed, pool } = await heldBed("timeout");
    const task: Task = { ref: { module: tasksModule, export: "noop" }, args: null, signature: "t", timeoutMs: 200, retry: { attempts: 2, baseMs: 0, jitter: 0 } };
    const job = new OneTaskJob("timeouts", task);
    const runner = new Runner({ executor: bed.executor(), jobs: [job] });
    runner.on("task:retry", (event) => pool.note(`retry ${event.attempt} (${event.error.code})`));
    runner.on("task:done", (event) => pool.note(`done ${event.attempt}`));
    const running = runner.run();
    // The timeout's cancel reached the worker's pool: the code of attempt 1 stops only now.
    await pool.seen("cancel 1");
    pool.stop(pool.runIdOf(1));
    const result = await running;
    expect(result.tasks).toMatchObject({ done: 1, retried: 1, failed: 0 });
    expect(job.outcome).toBe("done");
    expect(pool.log).toEqual(["begin 1", "cancel 1", "end 1", "retry 1 (UJR_TASK_TIMEOUT)", "begin 2", "end 2", "done 2"]);
  });

  /** Resolves on the next cancel message published on the queue's cancel channel. */
  async function nextCancelMessage(queue: string): Promise<() => Promise<void>> {
    const subscriber = new Redis(REDIS_URL);
    cleanups.push(() => subscriber.disconnect());
    await subscriber.subscribe(cancelChannel("bull", queue));
    const message = new Promise<void>((resolve) => subscriber.once("message", () => resolve()));
    return () => message;
  }

  it("a cancelled try on a worker that died ends once the worker's lock has expired", async () => {
    const bed = testbed("dead", cleanups);
    const victim = await bed.start("w1", { UJR_LOCK_MS: "1000" });
    const exec = bed.executor();
    const run = fixtureRun("dead", "blockUntil", { dir: bed.dir, name: "cancelled" }, "d");
    const outcome = exec.submit(run);
    await waitForMarks(bed.dir, "cancelled", 1);
    victim.child.kill("SIGKILL");
    await victim.exited;
    // No worker is left to check for stalled jobs: the coordinator removes the job once its lock expired.
    exec.cancel(run.id, reason);
    expect(await outcome).toEqual({ ok: false, error: reason });
    expect(exec.capacity()).toBe(exec.size);
    const redis = new Redis(REDIS_URL);
    cleanups.push(() => redis.disconnect());
    expect(await redis.exists(`bull:${bed.queue}:${exec.jobIdOf(run)}`)).toBe(0);
  });

  it("a cancelled try on a worker that died: the stalled check of another worker does not run it again", async () => {
    const fast = { UJR_LOCK_MS: "1000", UJR_STALLED_MS: "300" };
    const bed = testbed("stalled", cleanups);
    await bed.start("w1", fast);
    await bed.start("w2", fast);
    const exec = bed.executor();
    const run = fixtureRun("stalled", "onceThenBlock", { dir: bed.dir, name: "cancelled" }, "s");
    const outcome = exec.submit(run);
    const [mark] = await waitForMarks(bed.dir, "cancelled", 1);
    const victim = bed.workers.find((worker) => worker.tag === workerOf(mark!))!;
    victim.child.kill("SIGKILL");
    await victim.exited;
    // Cancelled while the dead worker's lock holds (it is renewed every 500 ms): the other
    // worker hears the cancel before its stalled check can hand it the job.
    exec.cancel(run.id, reason);
    expect(await outcome).toEqual({ ok: false, error: reason });
    // Had it run again, it would have marked again (and returned at once).
    expect(marksOf(bed.dir, "cancelled")).toEqual([mark]);
    // Removed, or its outcome read and deleted (close() waits for deletions in flight).
    await exec.close();
    const redis = new Redis(REDIS_URL);
    cleanups.push(() => redis.disconnect());
    expect(await redis.exists(`bull:${bed.queue}:${exec.jobIdOf(run)}`)).toBe(0);
  });

  it("a stop does not wait for a dead worker's lock: tries cancelled before the stop and after its grace end at once", async () => {
    const bed = testbed("dead-stop", cleanups);
    // Its lock would outlive the test's timeout: the stop must not wait for it.
    const victim = await bed.start("w1", { UJR_LOCK_MS: "120000", UJR_WORKERS: "2", UJR_CONCURRENCY: "2" });
    const exec = bed.executor();
    const blocking = (name: string): Task => ({ ref: { module: tasksModule, export: "blockUntil" }, args: { dir: bed.dir, name }, signature: name });
    const runner = new Runner({ executor: exec, jobs: [new OneTaskJob("first", blocking("t")), new OneTaskJob("second", blocking("u"))] });
    const runIds = new Map<string, string>();
    runner.on("task:started", (event) => runIds.set(event.job, event.runId));
    const running = runner.run();
    await waitForMarks(bed.dir, "t", 1);
    await waitForMarks(bed.dir, "u", 1);
    victim.child.kill("SIGKILL");
    await victim.exited;
    // A try cancelled while the runner runs waits for its worker, which will never answer.
    const cancelSent = await nextCancelMessage(bed.queue);
    expect(runner.cancelTask(runIds.get("first")!)).toBe(true);
    await cancelSent();
    expect(exec.capacity()).toBe(exec.size - 2);
    // The stop ends it at once, and the other one after the grace.
    runner.stop({ graceMs: 100 });
    const result = await running;
    expect(result).toMatchObject({ reason: "aborted", tasks: { done: 0, failed: 0, cancelled: 2 } });
  });
});
