import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { join } from "node:path";
import { startEmulator, type Emulator } from "@ujr/x-api-emulator";
import { runJob } from "@ujr/core/testing";
import { clockSkewMs, resumeAt } from "./fetch.js";
import { captureLogger, dataIds, drive, readRawPages, searchJob, tempDir } from "./__fixtures__/helpers.js";

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
  it("reads the reset on the API's clock (its Date header) when this machine's clock is off by more than 2 s", () => {
    const window = 900_000; // 15 minutes, as the real API
    // this machine 10 minutes ahead of the API: the reset looks past; without the Date header it would ask again at once
    const ahead = { resetMs: now - 600_000 + window, serverNowMs: now - 600_000 };
    expect(resumeAt(ahead, 250, now, false)).toBe(now + window + 250);
    expect(resumeAt(ahead, 250, now, true)).toBe(now + window + 250);
    expect(clockSkewMs(ahead, now)).toBe(600_000);
    // this machine an hour behind (its clock set back): the reset looks an hour and 15 minutes away
    const behind = { resetMs: now + 3_600_000 + window, serverNowMs: now + 3_600_000 };
    expect(resumeAt(behind, 250, now, true)).toBe(now + window + 250);
    expect(clockSkewMs(behind, now)).toBe(-3_600_000);
    // a window already over on the API's clock: at once after remaining 0, a second after a 429
    const over = { resetMs: now - 600_000, serverNowMs: now - 600_000 + 5_000 };
    expect(resumeAt(over, 250, now, false)).toBe(now);
    expect(resumeAt(over, 250, now, true)).toBe(now + 1000);
  });
  it("keeps the millisecond reset when the clocks agree within the Date header's whole seconds", () => {
    // Date is rounded down to the second: up to a second behind, plus the transfer
    const agree = { resetMs: now + 1234.5, serverNowMs: now - 1_900 };
    expect(clockSkewMs(agree, now)).toBe(0);
    expect(resumeAt(agree, 20, now)).toBe(now + 1254.5);
  });
});

describe("a machine whose clock is off the API's", () => {
  for (const [what, offsetMs] of [
    ["10 minutes ahead", -600_000],
    ["an hour behind (set back)", 3_600_000],
  ] as const) {
    it(`${what}: pauses for the window the API says is left, once, and says the clocks disagree`, async () => {
      const windowMs = 60_000;
      emulator = await startEmulator({ port: 0, now: () => Date.now() + offsetMs, rateLimit: { limit: 1, windowMs, resetPrecision: "milliseconds" } });
      const { logger, lines } = captureLogger();
      const job = searchJob({ query: "#brexit", baseUrl: emulator.url, mode: "once", maxResults: 10, pagesPerTask: 50, rateLimitSlack: 250 }, tmp.dir, logger);
      const before = Date.now();
      const result = await drive(job, { logger });
      expect(result.outcome).toBe("idle"); // waiting for the window, not asking into it
      const api = emulator.requests.filter((r) => r.endpoint === "search/recent");
      expect(api.map((r) => r.status)).toEqual([200]);
      // a minute (the Date header rounds down to the second: up to one more), not 10 minutes early or an hour late
      const waitMs = job.nextCheck! - before;
      expect(waitMs).toBeGreaterThanOrEqual(windowMs + 250 - 50);
      expect(waitMs).toBeLessThanOrEqual(windowMs + 250 + 1_000 + 500);
      const pause = lines.map((l) => JSON.parse(l) as { msg: string; clockSkewMs?: number }).find((l) => l.msg.startsWith("rate limit window used up"));
      expect(pause?.clockSkewMs).toBeDefined();
      expect(Math.abs(pause!.clockSkewMs! + offsetMs)).toBeLessThan(2_000);
      // the API's Date counts whole seconds: the difference read from it may be a second off
      const seconds = Math.abs(offsetMs) / 1000;
      expect(pause!.msg).toMatch(new RegExp(`this machine's clock is (${seconds - 1}|${seconds}|${seconds + 1}) s ${offsetMs < 0 ? "ahead of" : "behind"} the API's`));
      expect(pause!.msg).toContain("check the clock's synchronisation (NTP)");
    });
  }
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
