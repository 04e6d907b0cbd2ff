import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Task } from "@ujr/core";
import { searchConfigSchema } from "./config.js";
import type { FetchResult } from "./fetch.js";
import { CollectorJob } from "./job.js";
import { captureLogger, TOKEN, tempDir } from "./__fixtures__/helpers.js";

// The job's pauses on a laptop: the wall clock jumps (set back by NTP or by hand; forward
// after a sleep), the monotonic clock does not go back. Both are the test's.
let wall = Date.parse("2024-05-01T12:00:00Z");
let mono = 1_000_000;
const clocks = { wall: () => wall, mono: () => mono };
const pass = (ms: number) => {
  wall += ms;
  mono += ms;
};

let tmp: { dir: string; cleanup: () => Promise<void> };
beforeEach(async () => {
  tmp = await tempDir();
  wall = Date.parse("2024-05-01T12:00:00Z");
  mono = 1_000_000;
});
afterEach(async () => {
  await tmp.cleanup();
});

function job(config: Record<string, unknown> = {}): CollectorJob {
  const parsed = searchConfigSchema.parse({ bearerToken: TOKEN, urlResolution: { enabled: false }, query: "#brexit", baseUrl: "http://127.0.0.1:9", pollInterval: "20s", ...config });
  return new CollectorJob({ kind: "search", ...parsed }, { name: "clock", stateDir: tmp.dir, configDir: tmp.dir, logger: captureLogger().logger }, { clocks });
}

function fetched(overrides: Partial<FetchResult> = {}): FetchResult {
  return { pages: 1, files: [], tweets: 10, recovered: 0, sweepComplete: true, done: false, rateLimitedUntil: null, interrupted: null, sinceId: "1", nextToken: null, nextSeq: 2, ...overrides };
}

async function fetchTask(j: CollectorJob): Promise<Task | undefined> {
  return (await j.getRunnableTasks()).find((t) => t.signature === "fetch");
}

describe("the collector's pauses when the clock jumps", () => {
  it("a clock set back an hour during the poll interval: the next fetch comes after the poll interval, not an hour later", async () => {
    const j = job();
    const task = (await fetchTask(j))!;
    await j.onTaskDone(task, fetched());
    expect(await fetchTask(j)).toBeUndefined();
    expect(j.nextCheck).toBe(wall + 20_000);
    pass(5_000);
    wall -= 3_600_000; // set back an hour
    expect(await fetchTask(j)).toBeUndefined();
    // the rest of the poll interval, and a second of grace (while the clocks agree, the wall clock decides to the ms)
    expect(j.nextCheck).toBe(wall + 16_000);
    expect(j.status().fetchNotBefore).toBe(wall + 16_000);
    pass(15_999);
    expect(await fetchTask(j)).toBeUndefined();
    pass(1);
    expect(await fetchTask(j)).toBeDefined();
  });

  it("a rate-limit pause: a clock set back keeps the time left to the reset; a sleep past the reset fetches at once on waking", async () => {
    const j = job();
    await j.onTaskDone((await fetchTask(j))!, fetched({ sweepComplete: false, rateLimitedUntil: wall + 900_000 }));
    expect(await fetchTask(j)).toBeUndefined();
    expect(j.nextCheck).toBe(wall + 900_000);
    wall -= 3_600_000;
    expect(await fetchTask(j)).toBeUndefined();
    expect(j.nextCheck).toBe(wall + 901_000);
    // the lid closes for two hours: the monotonic clock (Linux, macOS) does not count a suspend
    wall += 2 * 3_600_000;
    expect(await fetchTask(j)).toBeDefined();
  });

  it("the backoff after failed tasks is kept as a length of time when the clock is set back", async () => {
    const j = job({ failureBackoff: "1m" });
    await j.onTaskFailed((await fetchTask(j))!, { name: "CollectorError", code: "UJR_COLLECTOR_NETWORK", message: "down", retryable: true });
    expect(await fetchTask(j)).toBeUndefined();
    expect(j.nextCheck).toBe(wall + 60_000);
    wall -= 3_600_000;
    expect(await fetchTask(j)).toBeUndefined();
    expect(j.nextCheck).toBe(wall + 61_000);
    pass(61_000);
    expect(await fetchTask(j)).toBeDefined();
  });
});
