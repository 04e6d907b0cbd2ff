import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { TinypoolExecutor, loadConfigFile } from "@ujr/runner-local";
import { Redis } from "ioredis";
import { silentLogger } from "@ujr/core";
import { BullmqExecutor, createExecutorFromConfig, runWorker } from "./index.js";
import { REDIS_URL, fixtureRun, obliterate, redisAvailable, removeDir, tempDir, uniqueQueue } from "./__fixtures__/helpers.js";

const hasRedis = await redisAvailable();

describe("createExecutorFromConfig", () => {
  const closers: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
  });

  it("keeps the local pool as the default", async () => {
    const executor = await createExecutorFromConfig({ executor: { kind: "local" }, workers: 3, isolation: "thread", logLevel: undefined });
    closers.push(() => executor.close());
    expect(executor).toBeInstanceOf(TinypoolExecutor);
    expect((executor as TinypoolExecutor).workers).toBe(3);
  });

  it.skipIf(!hasRedis)("builds a BullMQ executor from `runner.executor` of a config file, with ${REDIS_URL} interpolated", async () => {
    const dir = tempDir();
    try {
      const queue = uniqueQueue("config");
      closers.push(() => obliterate(queue));
      const file = join(dir, "ujr.config.yaml");
      writeFileSync(file, `runner:\n  executor:\n    kind: bullmq\n    redis: \${REDIS_URL}\n    queue: ${queue}\njobs: {}\n`);
      const config = await loadConfigFile(file, { env: { REDIS_URL } });
      const executor = await createExecutorFromConfig(config.runner, { size: 5 });
      closers.push(() => executor.close());
      expect(executor).toBeInstanceOf(BullmqExecutor);
      expect((executor as BullmqExecutor).queueName).toBe(queue);
      expect(executor.capacity()).toBe(5);
    } finally {
      removeDir(dir);
    }
  });

  it.skipIf(!hasRedis)("takes the coordinator's window from `runner.executor.size`", async () => {
    const dir = tempDir();
    try {
      const queue = uniqueQueue("size");
      closers.push(() => obliterate(queue));
      const file = join(dir, "ujr.config.yaml");
      writeFileSync(file, `runner:\n  executor:\n    kind: bullmq\n    redis: \${REDIS_URL}\n    queue: ${queue}\n    size: 32\njobs: {}\n`);
      const config = await loadConfigFile(file, { env: { REDIS_URL } });
      const executor = await createExecutorFromConfig(config.runner, { size: 5 });
      closers.push(() => executor.close());
      expect(executor.size).toBe(32);
      expect(executor.capacity()).toBe(32);
    } finally {
      removeDir(dir);
    }
  });

  it.skipIf(!hasRedis)("takes the key prefix from `runner.executor.prefix` (a Redis Cluster hash tag): a worker with the same prefix runs its tasks", async () => {
    const dir = tempDir();
    try {
      const queue = uniqueQueue("prefix");
      const prefix = "{ujr-test}";
      closers.push(() => obliterate(queue, prefix));
      const file = join(dir, "ujr.config.yaml");
      writeFileSync(file, `runner:\n  executor:\n    kind: bullmq\n    redis: \${REDIS_URL}\n    queue: ${queue}\n    prefix: "${prefix}"\njobs: {}\n`);
      const config = await loadConfigFile(file, { env: { REDIS_URL } });
      const executor = (await createExecutorFromConfig(config.runner)) as BullmqExecutor;
      closers.push(() => executor.close());
      expect(executor.prefix).toBe(prefix);
      const worker = await runWorker({ redis: REDIS_URL, queue, prefix, workers: 1, isolation: "thread", handleSignals: false, logger: silentLogger() });
      closers.push(() => worker.stop({ graceMs: 0 }));
      const run = fixtureRun("prefixed", "noop", "through {ujr-test}", "p");
      expect(await executor.submit(run)).toEqual({ ok: true, value: "through {ujr-test}" });
      const redis = new Redis(REDIS_URL);
      closers.push(async () => redis.disconnect());
      expect(await redis.exists(`${prefix}:${queue}:meta`)).toBe(1);
      expect(await redis.exists(`bull:${queue}:meta`)).toBe(0);
    } finally {
      removeDir(dir);
    }
  });

  it("rejects a window below one with the path of the setting", async () => {
    const dir = tempDir();
    try {
      const file = join(dir, "ujr.config.yaml");
      writeFileSync(file, "runner:\n  executor:\n    kind: bullmq\n    redis: redis://127.0.0.1:6379\n    size: 0\njobs: {}\n");
      const failure = await loadConfigFile(file, { env: {} }).then(
        () => undefined,
        (error: unknown) => error as { code: string; message: string },
      );
      expect(failure?.code).toBe("UJR_CONFIG_INVALID");
      expect(failure?.message).toContain("runner.executor.size");
    } finally {
      removeDir(dir);
    }
  });

  it("fails clearly when Redis cannot be reached, without showing the password", async () => {
    const failure = await createExecutorFromConfig(
      { executor: { kind: "bullmq", redis: "redis://ujr:s3cret-pass@127.0.0.1:1", queue: "ujr" }, workers: undefined, isolation: "process", logLevel: undefined },
      { connectTimeoutMs: 300 },
    ).then(
      () => undefined,
      (error: unknown) => error as { code: string; message: string },
    );
    expect(failure?.code).toBe("UJR_BULLMQ_REDIS_UNREACHABLE");
    expect(failure?.message).toContain("127.0.0.1:1");
    expect(failure?.message).not.toContain("s3cret-pass");
  });
});
