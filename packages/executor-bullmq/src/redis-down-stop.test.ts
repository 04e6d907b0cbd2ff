// Stopping while Redis is down: a coordinator's close and a worker's stop must end (their
// graceful steps are Redis commands, which ioredis holds until Redis is back, for ever).
import { createLogger } from "@ujr/core";
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
    await log.written("queue connection error");
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
