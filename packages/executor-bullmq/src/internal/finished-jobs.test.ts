import { describe, expect, it } from "vitest";
import { Job, Queue, Worker } from "bullmq";
import { Redis } from "ioredis";
import { cleanupsAfterEach, obliterate, REDIS_URL, redisAvailable, uniqueQueue } from "../__fixtures__/helpers.js";
import { defineRemoveFinished, removeFinishedJobs } from "./finished-jobs.js";

const hasRedis = await redisAvailable();

describe.skipIf(!hasRedis)("removeFinishedJobs", () => {
  const cleanups = cleanupsAfterEach();

  it("deletes completed and failed jobs in one call and leaves a waiting one alone", async () => {
    const name = uniqueQueue("finished");
    cleanups.push(() => obliterate(name));
    const connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    defineRemoveFinished(connection);
    const queue = new Queue(name, { connection });
    cleanups.push(() => connection.disconnect());
    cleanups.push(() => queue.close());
    const keep = { removeOnComplete: false, removeOnFail: false };
    await queue.add("ok", null, { jobId: "done", ...keep });
    await queue.add("bad", null, { jobId: "broken", ...keep });
    const worker = new Worker(
      name,
      async (job) => {
        if (job.name === "bad") throw new Error("failed on purpose");
        return "result";
      },
      { connection: new Redis(REDIS_URL, { maxRetriesPerRequest: null }) },
    );
    const finished = new Promise<void>((resolve) => {
      let count = 0;
      const onFinished = () => ++count === 2 && resolve();
      worker.on("completed", onFinished);
      worker.on("failed", onFinished);
    });
    await finished;
    await worker.close();
    await queue.add("later", null, { jobId: "waiting" });
    await connection.rpush(`${queue.toKey("done")}:logs`, "a log line");

    const keys = { completed: queue.keys.completed!, failed: queue.keys.failed!, jobPrefix: queue.toKey("") };
    expect(await removeFinishedJobs(connection, keys, ["done", "broken", "waiting", "never-there"])).toBe(2);
    expect(await Job.fromId(queue, "done")).toBeUndefined();
    expect(await Job.fromId(queue, "broken")).toBeUndefined();
    expect(await connection.exists(`${queue.toKey("done")}:logs`)).toBe(0);
    expect(await queue.getJobCounts("completed", "failed", "waiting")).toMatchObject({ completed: 0, failed: 0, waiting: 1 });
    expect(await (await Job.fromId(queue, "waiting"))?.getState()).toBe("waiting");
  });
});
