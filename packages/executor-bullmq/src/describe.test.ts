import { describe, expect, it } from "vitest";
import { hostname } from "node:os";
import { silentLogger } from "@ujr/core";
import { BullmqExecutor } from "./bullmq-executor.js";
import { runWorker } from "./worker.js";
import { cleanupsAfterEach, obliterate, REDIS_URL, redisAvailable, uniqueQueue } from "./__fixtures__/helpers.js";

const cleanups = cleanupsAfterEach();
const hasRedis = await redisAvailable();

describe.skipIf(!hasRedis)("BullmqExecutor.describe (real Redis)", () => {
  it("tells the queue's job counts and the workers on it, by name (host/pid by default)", async () => {
    const queue = uniqueQueue("describe");
    cleanups.push(() => obliterate(queue));
    const executor = new BullmqExecutor({ redis: REDIS_URL, queue, logger: silentLogger() });
    cleanups.push(() => executor.close());
    await executor.ready();
    const before = await executor.describe();
    expect(before).toMatchObject({ kind: "bullmq", queue, counts: { waiting: 0, active: 0, delayed: 0, failed: 0 }, workers: [] });
    expect(before.redis).not.toContain("@");

    const named = await runWorker({ redis: REDIS_URL, queue, workers: 1, isolation: "thread", handleSignals: false, logger: silentLogger(), name: "box-7/4242" });
    cleanups.push(() => named.stop({ graceMs: 0 }));
    const plain = await runWorker({ redis: REDIS_URL, queue, workers: 1, isolation: "thread", handleSignals: false, logger: silentLogger() });
    cleanups.push(() => plain.stop({ graceMs: 0 }));
    const names = [...new Set((await executor.describe()).workers.map((worker) => worker.name))].sort();
    expect(names).toEqual([`${hostname()}/${process.pid}`, "box-7/4242"].sort());
  }, 30_000);
});
