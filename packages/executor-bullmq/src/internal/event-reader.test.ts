import { describe, expect, it } from "vitest";
import { Redis } from "ioredis";
import { createLogger, silentLogger } from "@ujr/core";
import { cleanupsAfterEach, REDIS_URL, redisAvailable, uniqueQueue } from "../__fixtures__/helpers.js";
import { EventReader, eventField, type QueueEvent } from "./event-reader.js";

const hasRedis = await redisAvailable();

describe("eventField", () => {
  it("finds a field's value in a stream entry's field list", () => {
    const fields = ["event", "completed", "jobId", "j1", "returnvalue", '{"a":1}'];
    expect(eventField(fields, "returnvalue")).toBe('{"a":1}');
    expect(eventField(fields, "failedReason")).toBeUndefined();
  });
});

describe.skipIf(!hasRedis)("EventReader", () => {
  const cleanups = cleanupsAfterEach();

  function setup(onBatch: (events: QueueEvent[]) => void, logger = silentLogger()) {
    const key = `${uniqueQueue("events")}:events`;
    const admin = new Redis(REDIS_URL);
    const connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    cleanups.push(() => admin.disconnect());
    cleanups.push(() => admin.del(key));
    const reader = new EventReader({ connection, key, after: "0-0", events: new Set(["completed", "active"]), onBatch, logger, retryMs: 10 });
    cleanups.push(async () => {
      await reader.close();
      connection.disconnect();
      await reader.ended;
    });
    return { key, admin, reader };
  }

  it("hands over the wanted events of one read together, in stream order, and skips the rest", async () => {
    const batches: QueueEvent[][] = [];
    let delivered!: () => void;
    const received = new Promise<void>((resolve) => (delivered = resolve));
    const { key, admin, reader } = setup((events) => {
      batches.push(events);
      delivered();
    });
    // Written before the reader starts: its first read returns them all at once.
    await admin.xadd(key, "*", "event", "added", "jobId", "j1", "name", "x");
    await admin.xadd(key, "*", "event", "active", "jobId", "j1", "prev", "waiting");
    await admin.xadd(key, "*", "event", "completed", "jobId", "j1", "returnvalue", '{"ok":1}', "prev", "active");
    await admin.xadd(key, "*", "event", "drained");
    reader.start();
    await received;
    expect(batches).toEqual([
      [
        { event: "active", jobId: "j1", fields: ["event", "active", "jobId", "j1", "prev", "waiting"] },
        { event: "completed", jobId: "j1", fields: ["event", "completed", "jobId", "j1", "returnvalue", '{"ok":1}', "prev", "active"] },
      ],
    ]);
  });

  it("goes on reading after a failed read", async () => {
    let delivered!: (events: QueueEvent[]) => void;
    const received = new Promise<QueueEvent[]>((resolve) => (delivered = resolve));
    let failed!: () => void;
    const readFailed = new Promise<void>((resolve) => (failed = resolve));
    const logger = createLogger({ level: "warn", destination: { write: () => failed() } });
    const { key, admin, reader } = setup((events) => delivered(events), logger);
    // Not a stream: XREAD fails until the key becomes one.
    await admin.set(key, "not a stream");
    reader.start();
    await readFailed;
    await admin.del(key);
    await admin.xadd(key, "*", "event", "completed", "jobId", "j2", "returnvalue", "null");
    expect((await received).map((event) => event.jobId)).toEqual(["j2"]);
  });
});
