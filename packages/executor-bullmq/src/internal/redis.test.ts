import { describe, expect, it } from "vitest";
import { Redis } from "ioredis";
import { cleanupsAfterEach, REDIS_URL, redisAvailable, uniqueQueue } from "../__fixtures__/helpers.js";
import { redactRedisUrl, writeBatcher } from "./redis.js";

const hasRedis = await redisAvailable();

describe("redactRedisUrl", () => {
  it("hides the password and user", () => {
    expect(redactRedisUrl("redis://user:secret@host:6379/0")).toBe("redis://***:***@host:6379/0");
    expect(redactRedisUrl("not a url")).toBe("(unparsable redis URL)");
  });
});

describe.skipIf(!hasRedis)("writeBatcher", () => {
  const cleanups = cleanupsAfterEach();

  it("holds the commands of one tick back and sends them together, in order", async () => {
    const key = uniqueQueue("batch");
    const connection = new Redis(REDIS_URL);
    cleanups.push(() => connection.disconnect());
    cleanups.push(() => connection.del(key));
    await connection.ping();
    const batch = writeBatcher(connection);
    batch();
    batch();
    const replies = Promise.all([connection.set(key, "1"), connection.incr(key), connection.get(key)]);
    expect(connection.stream.writableCorked).toBe(1);
    expect(await replies).toEqual(["OK", 2, "2"]);
    expect(connection.stream.writableCorked).toBe(0);
  });

  it("leaves a connection that is not ready yet alone: its commands wait in ioredis's queue", async () => {
    const connection = new Redis(REDIS_URL, { lazyConnect: true });
    cleanups.push(() => connection.disconnect());
    writeBatcher(connection)();
    expect(await connection.ping()).toBe("PONG");
  });
});
