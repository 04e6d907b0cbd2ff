import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { join } from "node:path";
import { startEmulator, type Emulator } from "@ujr/x-api-emulator";
import { runJob } from "@ujr/core/testing";
import { captureLogger, dataIds, drive, readRawPages, searchJob, tempDir } from "./__fixtures__/helpers.js";
import type { CollectorJob } from "./job.js";

let emulator: Emulator;
let tmp: { dir: string; cleanup: () => Promise<void> };
beforeEach(async () => {
  tmp = await tempDir();
});
afterEach(async () => {
  vi.useRealTimers();
  await emulator?.close();
  await tmp.cleanup();
});

const noRetryWait = { attempts: 2, baseMs: 1, maxMs: 1, jitter: 0 };

/** Drives the job until it ends, moving the clock past each pause; returns the pauses (ms). */
async function driveThroughPauses(job: CollectorJob, most = 20): Promise<{ outcome: string; pauses: number[]; message?: string }> {
  const pauses: number[] = [];
  vi.useFakeTimers({ toFake: ["Date"] });
  try {
    for (let i = 0; i < most; i++) {
      const now = Date.now();
      const result = await drive(job);
      if (result.outcome !== "idle") return { outcome: result.outcome, pauses, ...(result.error ? { message: result.error.message } : {}) };
      pauses.push(job.nextCheck! - now);
      vi.setSystemTime(job.nextCheck! + 1);
    }
  } finally {
    vi.useRealTimers();
  }
  return { outcome: "rounds", pauses };
}

describe("the backoff ladder after failed tasks", () => {
  it("pauses failureBackoff × failureBackoffFactor per failed task in a row, up to failureBackoffMax, then a once job gives up at failureLimit", async () => {
    emulator = await startEmulator({ port: 0, faults: [{ kind: "503", rate: 1, endpoint: "search/recent" }] });
    const { logger, lines } = captureLogger();
    const job = searchJob(
      { query: "#brexit", baseUrl: emulator.url, mode: "once", maxResults: 10, retry: noRetryWait, failureBackoff: "10s", failureBackoffFactor: 3, failureBackoffMax: "60s", failureLimit: 5 },
      tmp.dir,
      logger,
    );
    const result = await driveThroughPauses(job);
    expect(result.pauses.map((ms) => Math.round(ms / 1000))).toEqual([10, 30, 60, 60]);
    expect(result.outcome).toBe("failed");
    expect(result.message).toMatch(
      /^Job "test-search" gave up: 5 fetch tasks in a row failed after their retries \(last: UJR_COLLECTOR_HTTP: The X API answered HTTP 503 .*raise failureLimit \(0: never give up\)/,
    );
    expect(lines.join("")).toMatch(/fetch failed after its retries \(1 in a row\); the job pauses until/);
    expect(emulator.requests.filter((r) => r.endpoint === "search/recent")).toHaveLength(10); // 5 tasks × 2 tries
  });

  it("a once job gives up after 5 failed tasks by default; a continuous one keeps trying (failureLimit 0)", async () => {
    emulator = await startEmulator({ port: 0, faults: [{ kind: "503", rate: 1, endpoint: "search/recent" }] });
    const once = await driveThroughPauses(searchJob({ query: "#brexit", baseUrl: emulator.url, mode: "once", retry: noRetryWait }, tmp.dir));
    expect(once.outcome).toBe("failed");
    expect(once.pauses.map((ms) => Math.round(ms / 60_000))).toEqual([1, 2, 4, 8]);
    const continuous = await driveThroughPauses(searchJob({ query: "#brexit", baseUrl: emulator.url, mode: "continuous", retry: noRetryWait }, join(tmp.dir, "c")), 8);
    expect(continuous.outcome).toBe("rounds");
    expect(continuous.pauses.map((ms) => Math.round(ms / 60_000))).toEqual([1, 2, 4, 8, 15, 15, 15, 15]);
  });

  it("a job that recovered ends done: failed tasks before the recovery do not fail it", async () => {
    // 2: after a stored page (that try ends done); 3-4 and 5-6: two tasks whose both tries store nothing (two pauses).
    emulator = await startEmulator({ port: 0, faults: [{ kind: "503", at: [2, 3, 4, 5, 6], endpoint: "search/recent" }] });
    const job = searchJob({ query: "#brexit", baseUrl: emulator.url, mode: "once", maxResults: 10, retry: noRetryWait }, tmp.dir);
    const result = await driveThroughPauses(job);
    expect(result.pauses).toHaveLength(2);
    expect(result.outcome).toBe("done");
    const ids = dataIds(await readRawPages(join(tmp.dir, "raw")));
    expect(new Set(ids).size).toBe(100);
    expect(ids).toHaveLength(100);
  });

  it("a flaky API that still lets the collection advance fails no task: a try that stored pages ends done with them", async () => {
    // Every second request is a 503: each try stores a page, then meets a fault.
    emulator = await startEmulator({ port: 0, faults: [{ kind: "503", at: Array.from({ length: 30 }, (_, i) => 2 * (i + 1)), endpoint: "search/recent" }] });
    const { logger, lines } = captureLogger();
    const job = searchJob({ query: "#brexit", baseUrl: emulator.url, mode: "once", maxResults: 10, pagesPerTask: 5, retry: { attempts: 2, baseMs: 1, maxMs: 1, jitter: 0 }, failureBackoff: "50ms" }, tmp.dir, logger);
    const run = await runJob(job, { concurrency: 1, logger });
    expect(run.reason).toBe("done");
    expect(run.failedJobs).toEqual([]);
    expect(run.tasks.failed).toBe(0);
    expect(run.tasks.retried).toBe(0);
    const ids = dataIds(await readRawPages(join(tmp.dir, "raw")));
    expect(ids).toHaveLength(100);
    expect(new Set(ids).size).toBe(100);
    expect(lines.join("")).toMatch(/HTTP 503 .*after 1 page\(s\) of this task were stored: the task ends with them and the job fetches again/);
  });
});
