import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { readFile, readdir, writeFile, rename } from "node:fs/promises";
import { join } from "node:path";
import { startEmulator, type Emulator } from "@ujr/x-api-emulator";
import { runJob } from "@ujr/core/testing";
import { apiRequests, captureLogger, dataIds, drive, expectedSearchIds, readRawPages, searchJob, tempDir, timelineJob, TOKEN } from "./__fixtures__/helpers.js";
import { EVERYTHING } from "./fields.js";
import { fetchPages } from "./tasks.js";

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

const fast = { retry: { attempts: 4, baseMs: 1, maxMs: 5, jitter: 0 } };

describe("search: pagination", () => {
  it("stores every tweet of the query exactly once, one page per file, in twarc2's page shape (through the runner)", async () => {
    emulator = await startEmulator({ port: 0 });
    const expected = await expectedSearchIds(emulator.url, "#brexit");
    expect(expected.length).toBe(100);
    emulator.clearRequests();
    const job = searchJob({ query: "#brexit", baseUrl: emulator.url, mode: "once", maxResults: 10, pagesPerTask: 3, ...fast }, tmp.dir);
    const result = await runJob(job, { concurrency: 2 });
    expect(result.reason).toBe("done");
    expect(result.failedJobs).toEqual([]);
    const pages = await readRawPages(join(tmp.dir, "raw"));
    expect(pages.length).toBe(10);
    expect(new Set(pages.map((p) => p.file)).size).toBe(10);
    const ids = dataIds(pages);
    expect(ids.length).toBe(100);
    expect(new Set(ids)).toEqual(new Set(expected));
    expect(apiRequests(emulator)).toBe(10);
    // twarc2 shape: data/includes/meta plus __twarc {url, version, retrieved_at}
    const first = pages[0]!.page;
    expect(Object.keys(first)).toEqual(expect.arrayContaining(["data", "includes", "meta", "__twarc"]));
    expect(first.__twarc.version).toBe("ujr-collector/0.1.0");
    expect(first.__twarc.retrieved_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$/);
    const url = new URL(first.__twarc.url);
    expect(url.pathname).toBe("/2/tweets/search/recent");
    for (const [key, value] of Object.entries(EVERYTHING)) expect(url.searchParams.get(key)).toBe(value);
    expect(url.searchParams.get("query")).toBe("#brexit");
    // Python json.dumps separators, as twarc2 writes
    const line = (await readFile(join(tmp.dir, "raw", pages[0]!.file), "utf8")).trimEnd();
    expect(line.startsWith('{"data": [{')).toBe(true);
    expect(line.includes("\n")).toBe(false);
    expect(/[^\x00-\x7e]/.test(line)).toBe(false);
    const state = JSON.parse(await readFile(join(tmp.dir, "collector-state.json"), "utf8"));
    expect(state).toMatchObject({ done: true, nextSeq: 11, pagesStored: 10, tweetsStored: 100, sweep: null });
  });

  it("uses max_results 500 and /2/tweets/search/all for full-archive search", async () => {
    emulator = await startEmulator({ port: 0 });
    const job = searchJob({ query: "#brexit", endpoint: "all", baseUrl: emulator.url, mode: "once", ...fast }, tmp.dir);
    expect((await drive(job)).outcome).toBe("done");
    const [request] = emulator.requests.filter((r) => r.endpoint === "search/all");
    expect(request?.query.max_results).toBe("500");
    expect(dataIds(await readRawPages(join(tmp.dir, "raw")))).toHaveLength(100);
  });
});

describe("search: continuous collection with since_id", () => {
  it("a second run (new job object, same folder) collects exactly the tweets added in between", async () => {
    emulator = await startEmulator({ port: 0 });
    const config = { query: "#brexit", baseUrl: emulator.url, mode: "continuous", maxResults: 10, pollInterval: "1h", ...fast };
    const first = await drive(searchJob(config, tmp.dir));
    expect(first.outcome).toBe("idle"); // waiting for the poll interval
    const before = dataIds(await readRawPages(join(tmp.dir, "raw")));
    expect(before).toHaveLength(100);
    const newest = before.reduce((a, b) => (BigInt(a) > BigInt(b) ? a : b));
    const state = JSON.parse(await readFile(join(tmp.dir, "collector-state.json"), "utf8"));
    expect(state.sinceId).toBe(newest);

    const added = emulator.addTweets(
      Array.from({ length: 25 }, (_, i) => ({ text: `new tweet ${i} #brexit`, author_id: "12", entities: { hashtags: [{ start: 12, end: 19, tag: "brexit" }] } })),
    );
    emulator.clearRequests();
    const job2 = searchJob(config, tmp.dir);
    const second = await drive(job2);
    expect(second.outcome).toBe("idle");
    const after = dataIds(await readRawPages(join(tmp.dir, "raw")));
    expect(after).toHaveLength(125);
    expect(new Set(after).size).toBe(125);
    expect(new Set(after.slice(100))).toEqual(new Set(added.map((t) => t.id)));
    expect(emulator.requests.every((r) => r.query.since_id === newest)).toBe(true);
    // The job now waits for its poll interval
    expect(job2.nextCheck).toBeGreaterThan(Date.now() + 3_500_000);
  });
});

describe("search: rate limits", () => {
  it("on a 429 the task returns at once and the job's nextCheck is the reset time; then it resumes with nothing lost or doubled", async () => {
    emulator = await startEmulator({ port: 0, rateLimit: { limit: 3, windowMs: 1500 } });
    const expected = await expectedSearchIds(emulator.url, "#brexit"); // uses 1 request of the window
    // Use up the window so that the job's first request gets a 429.
    for (let i = 0; i < 2; i++) await fetch(`${emulator.url}/2/tweets/search/recent?query=x`, { headers: { authorization: `Bearer ${TOKEN}` } });
    emulator.clearRequests();
    const job = searchJob({ query: "#brexit", baseUrl: emulator.url, mode: "once", maxResults: 10, pagesPerTask: 20, rateLimitSlack: 0, ...fast }, tmp.dir);
    const [task] = [...(await job.getRunnableTasks())];
    const { logger } = captureLogger();
    const started = Date.now();
    const result = await fetchPages.run(task!.args as never, { signal: new AbortController().signal, logger, attempt: 1, job: job.name, taskId: "1", progress: () => {} });
    expect(Date.now() - started).toBeLessThan(1000); // it did not sleep
    expect(emulator.requests.map((r) => r.status)).toEqual([429]);
    const resetHeader = emulator.requests[0]!;
    expect(resetHeader.status).toBe(429);
    await job.onTaskDone(task!, result);
    expect(result.rateLimitedUntil).not.toBeNull();
    expect(result.pages).toBe(0);
    expect(await job.getRunnableTasks()).toEqual([]);
    expect(job.nextCheck).toBe(result.rateLimitedUntil);
    // The reset time is the server's x-rate-limit-reset (seconds) exactly (slack 0).
    expect(result.rateLimitedUntil! % 1000).toBe(0);

    // Then the whole collection, through the runner, across several windows.
    const run = await runJob(job, { concurrency: 1 });
    expect(run.reason).toBe("done");
    const ids = dataIds(await readRawPages(join(tmp.dir, "raw")));
    expect(ids).toHaveLength(100);
    expect(new Set(ids)).toEqual(new Set(expected));
    expect(emulator.requests.filter((r) => r.status === 429).length).toBeLessThanOrEqual(2);
  }, 30_000);

  it("stops before a request that would be refused when x-rate-limit-remaining is 0", async () => {
    emulator = await startEmulator({ port: 0, rateLimit: { limit: 2, windowMs: 60_000 } });
    const job = searchJob({ query: "#brexit", baseUrl: emulator.url, mode: "once", maxResults: 10, pagesPerTask: 10, rateLimitSlack: 0, ...fast }, tmp.dir);
    const result = await drive(job);
    expect(result.outcome).toBe("idle");
    expect(emulator.requests.map((r) => r.status)).toEqual([200, 200]);
    const fetched = result.tasks[0]!.result as { rateLimitedUntil: number; pages: number };
    expect(fetched.pages).toBe(2);
    expect(job.nextCheck).toBe(fetched.rateLimitedUntil);
    expect(fetched.rateLimitedUntil).toBeGreaterThan(Date.now() + 50_000);
  });
});

describe("search: transient faults", () => {
  for (const kind of ["503", "500", "reset", "truncate"] as const) {
    it(`a ${kind} mid-pagination is retried from the saved position: every tweet once, no task failed`, async () => {
      emulator = await startEmulator({ port: 0, faults: [{ kind, at: [3, 6, 7], endpoint: "search/recent" }] });
      const expected = await expectedSearchIds(emulator.url, "#brexit");
      emulator.setFaults([{ kind, at: [3, 6, 7], endpoint: "search/recent" }], { resetCounters: true });
      emulator.clearRequests();
      const job = searchJob({ query: "#brexit", baseUrl: emulator.url, mode: "once", maxResults: 10, pagesPerTask: 4, ...fast }, tmp.dir);
      const result = await runJob(job, { concurrency: 1 });
      expect(result.reason).toBe("done");
      expect(result.tasks.failed).toBe(0);
      // A fault after pages were stored ends that try with them (done); one before any page is retried.
      const interrupted = result.done.filter((event) => (event.result as { interrupted?: unknown } | undefined)?.interrupted).length;
      expect(result.tasks.retried + interrupted).toBe(3);
      const ids = dataIds(await readRawPages(join(tmp.dir, "raw")));
      expect(ids).toHaveLength(100);
      expect(new Set(ids)).toEqual(new Set(expected));
      expect(apiRequests(emulator)).toBe(13);
    });
  }

  it("a request that takes longer than requestTimeout is retried", async () => {
    emulator = await startEmulator({ port: 0, faults: [{ kind: "slow", at: [2], delayMs: 2000, endpoint: "search/recent" }] });
    const job = searchJob({ query: "#brexit", baseUrl: emulator.url, mode: "once", maxResults: 50, requestTimeout: "300ms", ...fast }, tmp.dir);
    const result = await drive(job);
    expect(result.outcome).toBe("done");
    // The timeout came after the first page was stored: that try ends with it, the next goes on.
    expect(result.tasks.filter((t) => !t.ok)).toEqual([]);
    expect(result.tasks.map((t) => (t.result as { interrupted?: { code: string } | null }).interrupted?.code ?? null)).toEqual(["UJR_COLLECTOR_TIMEOUT", null]);
    expect(new Set(dataIds(await readRawPages(join(tmp.dir, "raw")))).size).toBe(100);
  });

  it("when the retries are used up the job backs off and later resumes where it was", async () => {
    // 2: after a stored page (that try ends done); 3, 4: both tries of the next task, with no progress.
    emulator = await startEmulator({ port: 0, faults: [{ kind: "503", at: [2, 3, 4], endpoint: "search/recent" }] });
    const job = searchJob({ query: "#brexit", baseUrl: emulator.url, mode: "once", maxResults: 10, failureBackoff: "1m", retry: { attempts: 2, baseMs: 0, maxMs: 0, jitter: 0 } }, tmp.dir);
    const first = await drive(job);
    expect(first.outcome).toBe("idle");
    // Backing off for a minute: the clock is moved past it rather than waited for.
    expect(job.nextCheck).toBeGreaterThan(Date.now() + 30_000);
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(job.nextCheck! + 1);
    const second = await drive(job);
    vi.useRealTimers();
    expect(second.outcome).toBe("done");
    const ids = dataIds(await readRawPages(join(tmp.dir, "raw")));
    expect(ids).toHaveLength(100);
    expect(new Set(ids).size).toBe(100);
  });
});

describe("search: errors that retrying cannot fix", () => {
  it("401: the job fails with a message about the bearer token after exactly one request", async () => {
    emulator = await startEmulator({ port: 0, bearerToken: "the-right-token" });
    const job = searchJob({ query: "#brexit", baseUrl: emulator.url, mode: "continuous", ...fast }, tmp.dir);
    const result = await runJob(job, { concurrency: 2 });
    expect(result.failedJobs).toEqual([job.name]);
    expect(result.tasks.retried).toBe(0);
    expect(emulator.requests.length).toBe(1);
    expect(emulator.requests[0]!.status).toBe(401);
    const outcome = await drive(job);
    expect(outcome.outcome).toBe("failed");
    expect(outcome.error!.message).toMatch(/check the bearer token/i);
    expect(outcome.error!.causes).toEqual(["UJR_COLLECTOR_UNAUTHORIZED"]);
    expect(emulator.requests.length).toBe(1);
  });

  it("400 (bad query): the job fails with a message about the query, without retrying", async () => {
    emulator = await startEmulator({ port: 0 });
    const job = searchJob({ query: "(unbalanced", baseUrl: emulator.url, mode: "once", ...fast }, tmp.dir);
    const result = await drive(job);
    expect(result.outcome).toBe("failed");
    expect(result.error!.message).toMatch(/check the query/i);
    expect(emulator.requests.length).toBe(1);
  });
});

describe("exactly once across crashes (state machine)", () => {
  it("a page file whose cursor step was not recorded is adopted, not fetched again", async () => {
    emulator = await startEmulator({ port: 0 });
    const config = { query: "#brexit", baseUrl: emulator.url, mode: "once", maxResults: 10, pagesPerTask: 1, ...fast };
    const job = searchJob(config, tmp.dir);
    // Two pages, each a complete step.
    await drive(job, { maxRounds: 2 });
    const stateBefore = await readFile(join(tmp.dir, "collector-state.json"), "utf8");
    // Third step, then "crash" between the page rename and the state write: restore the old state.
    await drive(job, { maxRounds: 1 });
    await writeFile(join(tmp.dir, ".tmp-state-x"), stateBefore);
    await rename(join(tmp.dir, ".tmp-state-x"), join(tmp.dir, "collector-state.json"));
    // A temp file of a page write that never finished is left behind too.
    await writeFile(join(tmp.dir, "raw", ".tmp-page-junk-1-abcd"), '{"data": [{"id": "1"');
    expect((await readRawPages(join(tmp.dir, "raw"))).length).toBe(3);
    emulator.clearRequests();

    const logs = captureLogger();
    const restarted = searchJob(config, tmp.dir, logs.logger);
    const result = await drive(restarted, { logger: logs.logger });
    expect(result.outcome).toBe("done");
    expect((result.tasks[0]!.result as { recovered: number }).recovered).toBe(1);
    // 7 pages were left: the recovered one was not asked for again.
    expect(apiRequests(emulator)).toBe(7);
    const ids = dataIds(await readRawPages(join(tmp.dir, "raw")));
    expect(ids).toHaveLength(100);
    expect(new Set(ids).size).toBe(100);
    expect((await readdir(join(tmp.dir, "raw"))).some((n) => n.startsWith(".tmp-"))).toBe(false);
    expect(logs.lines.join("")).toContain("crash recovery");
  });

  it("changing the query starts a new collection in the same folder without reusing the old cursor", async () => {
    emulator = await startEmulator({ port: 0 });
    await drive(searchJob({ query: "#brexit", baseUrl: emulator.url, mode: "continuous", maxResults: 100, ...fast }, tmp.dir));
    emulator.clearRequests();
    await drive(searchJob({ query: "brexit", baseUrl: emulator.url, mode: "continuous", maxResults: 100, ...fast }, tmp.dir));
    expect(emulator.requests.every((r) => r.query.since_id === undefined && r.query.query === "brexit")).toBe(true);
  });
});

describe("timeline", () => {
  it("looks the username up once and collects the user's timeline with pagination_token", async () => {
    emulator = await startEmulator({ port: 0 });
    const job = timelineJob({ username: "@observatoryteam", baseUrl: emulator.url, mode: "once", maxResults: 100, ...fast }, tmp.dir);
    const result = await drive(job);
    expect(result.outcome).toBe("done");
    const lookups = emulator.requests.filter((r) => r.endpoint === "users/lookup");
    expect(lookups).toHaveLength(1);
    const timeline = emulator.requests.filter((r) => r.endpoint === "users/tweets");
    expect(timeline.length).toBeGreaterThan(1);
    expect(timeline.slice(1).every((r) => typeof r.query.pagination_token === "string")).toBe(true);
    const ids = dataIds(await readRawPages(join(tmp.dir, "raw")));
    expect(ids.length).toBeGreaterThan(100);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("an unknown user ends the job with a clear error", async () => {
    emulator = await startEmulator({ port: 0 });
    const result = await drive(timelineJob({ username: "nobody_here_x", baseUrl: emulator.url, mode: "once", ...fast }, tmp.dir));
    expect(result.outcome).toBe("failed");
    expect(result.error!.message).toMatch(/no user @nobody_here_x/);
  });
});
