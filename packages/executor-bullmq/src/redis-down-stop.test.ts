// Redis away. Stopping while it is down: a coordinator's close and a worker's stop must end
// (their graceful steps are Redis commands, which ioredis holds until Redis is back, for
// ever). While it is away and when it comes back: what workers and coordinators say.
import { createLogger, silentLogger } from "@ujr/core";
import { describe, expect, it, vi } from "vitest";
import { BullmqExecutor } from "./bullmq-executor.js";
import { runWorker } from "./worker.js";
import { capturedLog, cleanupsAfterEach, fixtureRun, obliterate, redisAvailable, redisRelay, uniqueQueue } from "./__fixtures__/helpers.js";

const hasRedis = await redisAvailable();

/** A fresh queue, a relay to Redis that the test can take down, and a debug log to read. */
async function bed(cleanups: ReturnType<typeof cleanupsAfterEach>, label: string) {
  const name = uniqueQueue(label);
  cleanups.push(() => obliterate(name));
  const relay = await redisRelay();
  cleanups.push(() => relay.close());
  const log = capturedLog();
  return { name, relay, log, logger: createLogger({ level: "debug", destination: log.stream }) };
}

describe.skipIf(!hasRedis)("stopping while Redis is down", () => {
  const cleanups = cleanupsAfterEach();

  it("a coordinator's close ends, saying the connections were dropped and the tasks stay in Redis", async () => {
    const { name, relay, log, logger } = await bed(cleanups, "down-close");
    const executor = new BullmqExecutor({ redis: relay.url, queue: name, logger });
    await executor.ready();
    // a task queued and no worker to take it: the stop's removal of it is a Redis command
    const outcome = executor.submit(fixtureRun("down", "record", { dir: "unused", name: "never" }));
    relay.down();
    // the coordinator has seen Redis go (its reconnects are refused)
    await log.written("UJR_BULLMQ_REDIS_UNREACHABLE");
    executor.cancelQueued({ name: "UjrError", code: "UJR_TASK_CANCELLED", message: "the runner is stopping" });
    await executor.close();
    expect(await outcome).toMatchObject({ ok: false, error: { code: "UJR_TASK_CANCELLED" } });
    expect(log.includes("closing while Redis does not answer: connections dropped; tasks still queued or running stay in Redis for the next coordinator")).toBe(true);
  });

  it("a worker's stop ends after its grace, dropping the connections", async () => {
    const { name, relay, log, logger } = await bed(cleanups, "down-stop");
    const worker = await runWorker({ redis: relay.url, queue: name, workers: 1, isolation: "thread", handleSignals: false, closeTimeoutMs: 200, logger });
    relay.down();
    await log.written("UJR_BULLMQ_REDIS_UNREACHABLE");
    await worker.stop({ graceMs: 100 });
    expect(log.includes("Redis did not answer while stopping: connections dropped")).toBe(true);
    expect(log.includes("worker stopped")).toBe(true);
  });
});

describe.skipIf(!hasRedis)("a worker while Redis is away", () => {
  const cleanups = cleanupsAfterEach();

  it("says the outage once with its code (not each reconnect attempt), and its end", async () => {
    const { name, relay, log, logger } = await bed(cleanups, "outage");
    const worker = await runWorker({ redis: relay.url, queue: name, workers: 1, isolation: "thread", handleSignals: false, logger });
    cleanups.push(() => worker.stop({ graceMs: 0 }));
    relay.down();
    await log.written("UJR_BULLMQ_REDIS_UNREACHABLE");
    // several reconnect attempts refused: each is an error of the connection
    await vi.waitFor(() => expect(relay.refused()).toBeGreaterThanOrEqual(4), { timeout: 15_000, interval: 20 });
    relay.up();
    await log.written("Redis answers again: taking tasks");
    expect(log.lines.filter((line) => line.includes("UJR_BULLMQ_REDIS_UNREACHABLE"))).toHaveLength(1);
    expect(log.lines.find((line) => line.includes("UJR_BULLMQ_REDIS_UNREACHABLE"))).toContain("Retrying: running tasks go on, new ones wait for Redis");
    expect(log.includes("worker connection error")).toBe(false);
  });
});

/** The time of the first log line that includes `text` (pino's ISO time), in ms. */
function timeOf(lines: string[], text: string): number {
  const line = lines.find((candidate) => candidate.includes(text));
  if (!line) throw new Error(`no log line includes ${JSON.stringify(text)}:\n${lines.join("\n")}`);
  return Date.parse((JSON.parse(line) as { time: string }).time);
}

/**
 * Resolves once the coordinator's Redis has been away longer than `ms`. ioredis waits 50 ms
 * times the attempt number before each reconnect, so `attempts` refused reconnects of one
 * connection took at least 25 * attempts * (attempts - 1) ms; the coordinator has two
 * connections (commands, events), hence twice as many refusals to count.
 */
async function awayLongerThan(relay: { refused: () => number }, ms: number): Promise<void> {
  let attempts = 1;
  while (25 * attempts * (attempts - 1) <= ms) attempts++;
  await vi.waitFor(() => expect(relay.refused()).toBeGreaterThanOrEqual(2 * attempts), { timeout: 30_000, interval: 20 });
}

describe.skipIf(!hasRedis)("a coordinator when Redis comes back", () => {
  const cleanups = cleanupsAfterEach();

  // Redis restarts (or the network between it and everyone comes back): the coordinator
  // reconnects a moment before the workers do, and its tasks have waited the whole outage.
  it("gives the workers one reconcile period to reconnect before it says none is there (no UJR_BULLMQ_NO_WORKERS)", async () => {
    const reconcileIntervalMs = 2000;
    const { name, relay, log, logger } = await bed(cleanups, "back-grace");
    // the workers' own way to Redis, brought back after the coordinator's
    const workersRelay = await redisRelay();
    cleanups.push(() => workersRelay.close());
    const worker = await runWorker({ redis: workersRelay.url, queue: name, workers: 1, isolation: "thread", handleSignals: false, logger: silentLogger() });
    cleanups.push(() => worker.stop({ graceMs: 0 }));
    const executor = new BullmqExecutor({ redis: relay.url, queue: name, reconcileIntervalMs, logger });
    cleanups.push(() => executor.close());
    await executor.ready();
    relay.down();
    workersRelay.down();
    const outcome = executor.submit(fixtureRun("back", "noop", "after the outage"));
    await awayLongerThan(relay, reconcileIntervalMs);
    relay.up();
    // without the grace, the coordinator says "no workers" as soon as it answers again
    await Promise.race([log.written("UJR_BULLMQ_NO_WORKERS"), log.written("Redis answers again")]);
    expect(log.lines.filter((line) => line.includes("UJR_BULLMQ_NO_WORKERS"))).toEqual([]);
    // the outage said once with its code, not once per refused reconnect
    expect(log.lines.filter((line) => line.includes("UJR_BULLMQ_REDIS_UNREACHABLE"))).toHaveLength(1);
    expect(log.includes("queued and running tasks stay in Redis, new ones wait for it")).toBe(true);
    expect(log.includes("queue connection error")).toBe(false);
    workersRelay.up();
    expect(await outcome).toEqual({ ok: true, value: "after the outage" });
    expect(log.lines.filter((line) => line.includes("UJR_BULLMQ_NO_WORKERS"))).toEqual([]);
  }, 30_000);

  it("still says UJR_BULLMQ_NO_WORKERS when no worker has come back once that period is over", async () => {
    const reconcileIntervalMs = 500;
    const { name, relay, log, logger } = await bed(cleanups, "back-none");
    const executor = new BullmqExecutor({ redis: relay.url, queue: name, reconcileIntervalMs, logger });
    cleanups.push(() => executor.close());
    await executor.ready();
    relay.down();
    const outcome = executor.submit(fixtureRun("back", "noop", "nobody runs this"));
    await awayLongerThan(relay, reconcileIntervalMs);
    relay.up();
    await log.written("UJR_BULLMQ_NO_WORKERS");
    expect(log.lines.filter((line) => line.includes("UJR_BULLMQ_NO_WORKERS"))).toHaveLength(1);
    expect(log.includes(`No worker takes tasks from the queue ${name} on ${relay.url}: 1 task(s) have waited over 0.5 s.`)).toBe(true);
    // judged once the workers' period was over, not on the coordinator's first look after the outage
    expect(timeOf(log.lines, "UJR_BULLMQ_NO_WORKERS") - timeOf(log.lines, "Redis answers again")).toBeGreaterThanOrEqual(reconcileIntervalMs - 5);
    await executor.close();
    expect(await outcome).toMatchObject({ ok: false, error: { code: "UJR_BULLMQ_EXECUTOR_CLOSED" } });
  }, 30_000);
});
