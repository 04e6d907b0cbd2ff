import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { join } from "node:path";
import { startEmulator, type Emulator } from "@ujr/x-api-emulator";
import { runJob } from "@ujr/core/testing";
import { resumeAt } from "./fetch.js";
import { captureLogger, dataIds, readRawPages, searchJob, tempDir } from "./__fixtures__/helpers.js";

let emulator: Emulator;
let tmp: { dir: string; cleanup: () => Promise<void> };
beforeEach(async () => {
  tmp = await tempDir();
});
afterEach(async () => {
  await emulator?.close();
  await tmp.cleanup();
});

describe("resumeAt", () => {
  const now = 1_700_000_000_000;
  it("is the reset to the millisecond plus the slack (fractions of a second honoured)", () => {
    expect(resumeAt({ resetMs: now + 1234.5 }, 20, now)).toBe(now + 1254.5);
    expect(resumeAt({ resetMs: now + 1000 }, 0, now)).toBe(now + 1000);
  });
  it("after a 429 whose reset is already past, waits a second (clocks disagree); after remaining 0, not at all", () => {
    expect(resumeAt({ resetMs: now - 100 }, 20, now, true)).toBe(now + 1000);
    expect(resumeAt({ resetMs: now - 100 }, 20, now, false)).toBe(now);
    expect(resumeAt({}, 20, now)).toBe(now + 60_000);
  });
});

describe("waiting for rate-limit windows", () => {
  it("resumes each window within a few ms of its reset (+ slack), logs every pause with its resume time, and stores every page once", async () => {
    const windowMs = 400;
    const slackMs = 20;
    emulator = await startEmulator({ port: 0, rateLimit: { limit: 2, windowMs, resetPrecision: "milliseconds" } });
    const { logger, lines } = captureLogger();
    const job = searchJob({ query: "#brexit", baseUrl: emulator.url, mode: "once", maxResults: 10, pagesPerTask: 50, rateLimitSlack: slackMs }, tmp.dir, logger);
    const run = await runJob(job, { concurrency: 1, logger });
    expect(run.reason).toBe("done");
    const ids = dataIds(await readRawPages(join(tmp.dir, "raw")));
    expect(ids).toHaveLength(100);
    expect(new Set(ids).size).toBe(100);

    const api = emulator.requests.filter((r) => r.endpoint === "search/recent");
    expect(api.map((r) => r.status).every((s) => s === 200)).toBe(true); // never asked into a used-up window
    expect(api).toHaveLength(10);
    // Windows of 2 requests each, started by their first request: the pause before window k
    // ends at window k-1's reset; what is beyond it is the collector's overhead.
    const overheads: number[] = [];
    for (let k = 2; k < api.length; k += 2) overheads.push(api[k]!.at - (api[k - 2]!.at + windowMs));
    const minimum = (api.length / 2 - 1) * windowMs;
    const total = api.at(-1)!.at - api[0]!.at;
    console.log(
      `rate-limit waits: ${overheads.length} pauses on ${windowMs} ms windows, slack ${slackMs} ms; beyond the reset: ${overheads.map((o) => `${o} ms`).join(", ")}; ` +
        `first to last request ${total} ms against a ${minimum} ms minimum (+${(((total - minimum) / minimum) * 100).toFixed(1)}%)`,
    );
    for (const overhead of overheads) {
      expect(overhead).toBeGreaterThanOrEqual(slackMs);
      // Whole-second rounding or a 1 s slack would put each pause 500-1000 ms beyond its reset.
      expect(overhead).toBeLessThan(slackMs + 200);
    }
    const pauses = lines.filter((line) => line.includes("x-rate-limit-remaining: 0"));
    expect(pauses).toHaveLength(4);
    const first = JSON.parse(pauses[0]!) as { msg: string; until: string; waitMs: number };
    expect(first.msg).toMatch(/^rate limit window used up \(x-rate-limit-remaining: 0\): collection pauses until \d{4}-\d\d-\d\dT[\d:.]+Z \(\d+ ms\)$/);
    // The window starts when the server counts the request, a ms or so after it logs its arrival.
    expect(Math.abs(Date.parse(first.until) - (api[0]!.at + windowMs + slackMs))).toBeLessThanOrEqual(3);
  }, 30_000);
});
