import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Queue, QueueEvents } from "bullmq";
import { Redis } from "ioredis";
import { Writable } from "node:stream";
import { createLogger, silentLogger } from "@ujr/core";
import { fixtureRun, marksOf, obliterate, REDIS_URL, redisAvailable, removeDir, tempDir, testbed, uniqueQueue, waitForMarks, workerOf, type WorkerProcess } from "./__fixtures__/helpers.js";
import { runWorker } from "./worker.js";
import { bullmqJobId, decodeResult, encodeRun, encodeText } from "./internal/codec.js";
import { cancelChannel, type CancelMessage } from "./internal/redis.js";

const hasRedis = await redisAvailable();

const runOf = (exportName: string, args: unknown, signature: string) => fixtureRun("shutdown", exportName, args, signature);

function outputIncludes(worker: WorkerProcess, text: string): Promise<void> {
  return new Promise((resolve) => {
    const check = () => {
      if (worker.output().includes(text)) {
        worker.child.stdout!.off("data", check);
        worker.child.stderr!.off("data", check);
        resolve();
      }
    };
    worker.child.stdout!.on("data", check);
    worker.child.stderr!.on("data", check);
    check();
  });
}

describe.skipIf(!hasRedis)("runWorker: graceful shutdown", () => {
  const cleanups: Array<() => Promise<unknown> | unknown> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function setup(label: string) {
    const bed = testbed(label, cleanups);
    const executor = bed.executor();
    const start = (tag: string, env: Record<string, string> = {}) => bed.start(tag, { UJR_LOG_LEVEL: "info", ...env });
    return { dir: bed.dir, executor, start };
  }

  it("SIGTERM: running tasks finish within the grace period, then the worker exits 0", async () => {
    const { dir, executor, start } = await setup("grace");
    const worker = await start("w1", { UJR_GRACE_MS: "30000" });
    const outcome = executor.submit(runOf("blockUntil", { dir, name: "finishing", value: "kept" }, "f"));
    await waitForMarks(dir, "finishing");
    worker.child.kill("SIGTERM");
    await outputIncludes(worker, "received SIGTERM");
    writeFileSync(join(dir, "release"), "");
    expect(await outcome).toEqual({ ok: true, value: { value: "kept", worker: "w1" } });
    expect(await worker.exited).toBe(0);
  });

  it("SIGTERM: a task still running after the grace period goes back to the queue and another worker runs it", async () => {
    const { dir, executor, start } = await setup("requeue");
    const leaving = await start("w1", { UJR_GRACE_MS: "200" });
    const outcome = executor.submit(runOf("onceThenBlock", { dir, name: "moved" }, "m"));
    await waitForMarks(dir, "moved");
    await start("w2");
    leaving.child.kill("SIGTERM");
    expect(await leaving.exited).toBe(0);
    expect(leaving.output()).toContain("put back on the queue");
    // One outcome, from the worker that took it over.
    expect(await outcome).toEqual({ ok: true, value: { worker: "w2", executions: 2 } });
    expect(marksOf(dir, "moved").map(workerOf).sort()).toEqual(["w1", "w2"]);
  });
});

describe.skipIf(!hasRedis)("runWorker: a job it cannot read", () => {
  it("fails it with UJR_BULLMQ_JOB_UNREADABLE, saying who may have put it there and what to do", async () => {
    const name = uniqueQueue("foreign");
    const connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    const queue = new Queue(name, { connection });
    const events = new QueueEvents(name, { connection: new Redis(REDIS_URL, { maxRetriesPerRequest: null }), lastEventId: "0-0" });
    const worker = await runWorker({ redis: REDIS_URL, queue: name, workers: 1, isolation: "thread", handleSignals: false, logger: silentLogger() });
    try {
      await events.waitUntilReady();
      const failed = new Promise<string>((resolve) => events.on("failed", ({ failedReason }) => resolve(failedReason)));
      await queue.add("someone-else", { hello: "world" }, { jobId: "foreign-1" });
      const reason = await failed;
      expect(reason).toContain("Job foreign-1 on the queue");
      expect(reason).toContain("is not a ujr task this worker can read (its data has no ujr task run)");
      expect(reason).toContain("give each its own queue (runner.executor.queue)");
    } finally {
      await worker.stop({ graceMs: 0 });
      await events.close();
      await queue.close();
      connection.disconnect();
      await obliterate(name);
    }
  });
});

describe.skipIf(!hasRedis)("runWorker: a cancel that comes before its task", () => {
  it("the task does not run; its job completes as cancelled, and a later try of the same task runs", async () => {
    const name = uniqueQueue("early-cancel");
    const dir = tempDir();
    const connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    const queue = new Queue(name, { connection });
    const events = new QueueEvents(name, { connection: new Redis(REDIS_URL, { maxRetriesPerRequest: null }), lastEventId: "0-0" });
    const lines: string[] = [];
    const logLines = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(...chunk.toString().split("\n").filter(Boolean));
        done();
      },
    });
    const logged = (text: string) =>
      new Promise<void>((resolve) => {
        const check = () => (lines.some((line) => line.includes(text)) ? resolve() : setImmediate(check));
        check();
      });
    const worker = await runWorker({
      redis: REDIS_URL,
      queue: name,
      workers: 1,
      isolation: "thread",
      handleSignals: false,
      logger: createLogger({ level: "debug", destination: logLines }),
    });
    try {
      await events.waitUntilReady();
      const completed = new Map<string, Promise<unknown>>();
      const whenCompleted = (jobId: string) => {
        if (!completed.has(jobId)) {
          completed.set(jobId, new Promise((resolve) => events.on("completed", (event) => event.jobId === jobId && resolve(event.returnvalue))));
        }
        return completed.get(jobId)!;
      };
      const first = fixtureRun("early", "record", { dir, name: "ran" }, "s1");
      const jobId = bullmqJobId(first);
      const reason = { name: "UjrError", code: "UJR_TASK_CANCELLED", message: "cancelled: job removed" };
      const message: CancelMessage = { jobId, runId: first.id, reason: encodeText(reason) };
      await connection.publish(cancelChannel("bull", name), JSON.stringify(message));
      await logged("remembered in case it comes");
      const firstDone = whenCompleted(jobId);
      await queue.add(first.job, encodeRun(first), { jobId, attempts: 1 });
      const firstResult = decodeResult(await firstDone);
      expect(firstResult).toEqual({ outcome: { ok: false, error: reason }, cancelled: true });
      expect(marksOf(dir, "ran")).toEqual([]);
      expect(lines.some((line) => line.includes("task cancelled by the coordinator before it started"))).toBe(true);
      // The next try of the same task (same job id, new run id) is not the one cancelled.
      await queue.remove(jobId);
      completed.delete(jobId);
      const second = { ...first, id: `${first.id}-again`, attempt: 2 };
      const secondDone = whenCompleted(jobId);
      await queue.add(second.job, encodeRun(second), { jobId, attempts: 1 });
      expect(decodeResult(await secondDone)?.outcome).toMatchObject({ ok: true, value: { name: "ran" } });
      expect(marksOf(dir, "ran")).toHaveLength(1);
    } finally {
      await worker.stop({ graceMs: 0 });
      await events.close();
      await queue.close();
      connection.disconnect();
      await obliterate(name);
      removeDir(dir);
    }
  });
});
