import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { silentLogger, type Task } from "@ujr/core";
import { capturingLogger } from "@ujr/core/testing";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { summaryConfigSchema } from "./config.js";
import { SummaryJob } from "./job.js";
import type { Manifest } from "./manifest.js";
import { isDue, nextRunAt, recordRun, startWaiting, type Schedule } from "./schedule.js";

const H = 3_600_000;

describe("schedule (pure)", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("cron slots follow the time zone", () => {
    vi.setSystemTime(new Date("2024-05-01T12:00:00Z"));
    const s: Schedule = { kind: "cron", expressions: ["0 8 * * *"], timezone: "Australia/Brisbane" };
    // 08:00 in Brisbane (UTC+10) is 22:00 UTC the day before
    expect(new Date(nextRunAt(s, {}, Date.now())!).toISOString()).toBe("2024-05-01T22:00:00.000Z");
    expect(isDue(s, {}, Date.now())).toBe(false);
    vi.setSystemTime(new Date("2024-05-01T22:00:00Z"));
    const state = recordRun({}, Date.now());
    expect(new Date(nextRunAt(s, state, Date.now())!).toISOString()).toBe("2024-05-02T22:00:00.000Z");
  });

  it("interval: first run at start, then every interval; cron runs once per slot as time passes", () => {
    vi.setSystemTime(new Date("2024-05-01T00:00:00Z"));
    const iv: Schedule = { kind: "interval", everyMs: H };
    const cron: Schedule = { kind: "cron", expressions: ["*/15 * * * *"], timezone: "UTC" };
    let si = {};
    let sc = startWaiting({}, Date.now());
    let runsI = 0;
    let runsC = 0;
    for (let minute = 0; minute < 180; minute++) {
      if (isDue(iv, si, Date.now())) (si = recordRun(si, Date.now())), runsI++;
      if (isDue(cron, sc, Date.now())) (sc = recordRun(sc, Date.now())), runsC++;
      vi.advanceTimersByTime(60_000);
    }
    expect(runsI).toBe(3); // 00:00, 01:00, 02:00
    expect(runsC).toBe(11); // 00:15 ... 02:45 (the first waits for a slot)
  });

  it("a run missed while the runner was down is caught up once, not once per slot", () => {
    const s: Schedule = { kind: "cron", expressions: ["0 * * * *"], timezone: "Europe/London" };
    const last = Date.parse("2024-05-01T10:00:00Z");
    const now = Date.parse("2024-05-03T15:30:00Z"); // 53 slots missed
    let state = recordRun({}, last);
    expect(isDue(s, state, now)).toBe(true);
    state = recordRun(state, now);
    expect(isDue(s, state, now)).toBe(false);
    expect(new Date(nextRunAt(s, state, now)!).toISOString()).toBe("2024-05-03T16:00:00.000Z");
    const iv: Schedule = { kind: "interval", everyMs: H };
    expect(isDue(iv, recordRun({}, last), now)).toBe(true);
    expect(isDue(iv, recordRun(recordRun({}, last), now), now + 1000)).toBe(false);
  });

  it("once: due at start, then never", () => {
    expect(nextRunAt({ kind: "once" }, {}, 5)).toBe(5);
    expect(nextRunAt({ kind: "once" }, recordRun({}, 5), 10)).toBeNull();
  });
});

function fakeManifest(dir: string, runId: string): Manifest {
  return { version: 1, job: "j", runId, startedAt: "", finishedAt: "", durationMs: 0, database: { dialect: "sqlite", location: "x" }, timeRange: { from: null, to: null, since: null, firstTweetAt: null, lastTweetAt: null }, queries: [], errors: 0, ok: true, dir: path.join(dir, runId), report: path.join(dir, runId, "report.html"), watermark: "2024-01-01T00:00:00.000Z" };
}

describe("SummaryJob", () => {
  let stateDir: string;
  beforeEach(() => {
    stateDir = mkdtempSync(path.join(os.tmpdir(), "ujr-summary-job-"));
  });
  afterEach(() => rmSync(stateDir, { recursive: true, force: true }));

  const config = (schedule: object) =>
    summaryConfigSchema.parse({
      database: "tidy.db",
      schedule,
      notify: [{ type: "folder", name: "share", path: "/tmp/x" }, { type: "webhook", name: "hook", url: "https://hooks.example.com/secret", allowPrivateAddresses: true }],
      notifyRetry: { attempts: 3, base: "1m", max: "10m" },
    });

  it("runs the queries, then notifies each target; a failed notification is retried without running the queries again", async () => {
    let now = Date.parse("2024-05-01T00:00:00Z");
    const clock = { now: () => now };
    const ctx = { name: "j", stateDir, configDir: stateDir, logger: silentLogger() };
    const job = new SummaryJob(config({ every: "1h" }), ctx, { clock });
    const t1 = await job.getRunnableTasks();
    expect(t1.map((t) => t.ref.export)).toEqual(["runQueries"]);
    expect(await job.getRunnableTasks()).toEqual([]); // still running: not emitted twice
    await job.onTaskDone(t1[0]!, fakeManifest(stateDir, "2024-05-01T00-00-00Z"));
    const t2 = await job.getRunnableTasks();
    expect(t2.map((t) => [t.ref.export, t.signature])).toEqual([
      ["notifyTarget", "notify:share:2024-05-01T00-00-00Z"],
      ["notifyTarget", "notify:hook:2024-05-01T00-00-00Z"],
    ]);
    await job.onTaskDone(t2[0]!, {});
    await job.onTaskFailed(t2[1]!, { name: "SummaryError", code: "UJR_SUMMARY_WEBHOOK_FAILED", message: "down" });
    expect(await job.getRunnableTasks()).toEqual([]);
    expect(job.nextCheck).toBe(now + 60_000);
    now += 60_000;
    const t3: Task[] = await job.getRunnableTasks();
    expect(t3.map((t) => [t.ref.export, t.signature])).toEqual([["notifyTarget", "notify:hook:2024-05-01T00-00-00Z"]]);
    await job.onTaskDone(t3[0]!, {});
    expect(job.state!.pending).toEqual([]);
    now += H;
    expect((await job.getRunnableTasks()).map((t) => t.ref.export)).toEqual(["runQueries"]);
  });

  it("persists the last run: after a restart a missed run happens once, and pending notifications survive", async () => {
    let now = Date.parse("2024-05-01T08:00:00Z");
    const clock = { now: () => now };
    const ctx = { name: "j", stateDir, configDir: stateDir, logger: silentLogger() };
    const cfg = config({ cron: "0 * * * *", timezone: "UTC", runOnStart: true });
    const a = new SummaryJob(cfg, ctx, { clock });
    const [run] = await a.getRunnableTasks();
    await a.onTaskDone(run!, fakeManifest(stateDir, "r1"));
    // runner stops before notifying; restarts 5 hours later
    now += 5 * H + 10 * 60_000;
    const b = new SummaryJob(cfg, ctx, { clock });
    const tasks = await b.getRunnableTasks();
    expect(tasks.map((t) => t.ref.export).sort()).toEqual(["notifyTarget", "notifyTarget", "runQueries"]);
    const runTask = tasks.find((t) => t.ref.export === "runQueries")!;
    await b.onTaskDone(runTask, fakeManifest(stateDir, "r2"));
    const after = await b.getRunnableTasks();
    expect(after.filter((t) => t.ref.export === "runQueries")).toEqual([]);
    expect(after.map((t) => t.signature)).toEqual(["notify:share:r2", "notify:hook:r2"]);
    expect(b.state!.runs).toBe(2);
  });

  it("once: JobDone after the run and its notifications", async () => {
    const ctx = { name: "j", stateDir, configDir: stateDir, logger: silentLogger() };
    const job = new SummaryJob(summaryConfigSchema.parse({ database: "x.db", schedule: { once: true } }), ctx);
    const [run] = await job.getRunnableTasks();
    await job.onTaskDone(run!, fakeManifest(stateDir, "r"));
    await expect(job.getRunnableTasks()).rejects.toMatchObject({ code: "UJR_JOB_DONE" });
  });

  it("once: a failed run fails the job; the next process runs it again, and a success ends it", async () => {
    const { logger, logs } = capturingLogger();
    const ctx = { name: "j", stateDir, configDir: stateDir, logger };
    const cfg = summaryConfigSchema.parse({ database: "x.db", schedule: { once: true } });
    const failure = { name: "SummaryError", code: "UJR_SUMMARY_OUTPUT", message: 'summary job "j" could not write the report in "/out/j": the disk is full (ENOSPC, 0 B free).' };
    const first = new SummaryJob(cfg, ctx);
    const [run] = await first.getRunnableTasks();
    await first.onTaskFailed(run!, failure);
    await expect(first.getRunnableTasks()).rejects.toMatchObject({ code: "UJR_JOB_FAILED", message: `the summary run failed: UJR_SUMMARY_OUTPUT: ${failure.message}` });

    // the next `ujr run`: the stored failure is history, the job runs again
    const second = new SummaryJob(cfg, ctx);
    const retry = await second.getRunnableTasks();
    expect(retry.map((t) => t.ref.export)).toEqual(["runQueries"]);
    expect(logs.map((l) => l.msg)).toContain(`the last summary run failed (UJR_SUMMARY_OUTPUT: ${failure.message}): running it again now`);
    expect(await second.getRunnableTasks()).toEqual([]); // running: not emitted twice
    await second.onTaskDone(retry[0]!, fakeManifest(stateDir, "r"));
    expect(second.state).toMatchObject({ lastError: undefined, runs: 2 });
    await expect(second.getRunnableTasks()).rejects.toMatchObject({ code: "UJR_JOB_DONE" });
  });

  it("every/cron: after a failed run the next slot tries again (no hot loop); a new process tries again at once", async () => {
    let now = Date.parse("2024-05-01T08:00:00Z");
    const clock = { now: () => now };
    const ctx = { name: "j", stateDir, configDir: stateDir, logger: silentLogger() };
    const failure = { name: "SummaryError", code: "UJR_SUMMARY_DB_OPEN", message: "locked" };
    const every = new SummaryJob(config({ every: "1h" }), ctx, { clock });
    const [run] = await every.getRunnableTasks();
    await every.onTaskFailed(run!, failure);
    expect(await every.getRunnableTasks()).toEqual([]);
    expect(every.nextCheck).toBe(now + H);
    now += H;
    const [again] = await every.getRunnableTasks();
    expect(again!.ref.export).toBe("runQueries");
    await every.onTaskFailed(again!, failure);

    // a daily cron whose run failed: a restart (the cause fixed) does not wait for tomorrow
    const daily = config({ cron: "0 8 * * *", timezone: "UTC" });
    now += 10 * 60_000;
    const restarted = new SummaryJob(daily, ctx, { clock });
    const [retry] = await restarted.getRunnableTasks();
    expect(retry!.ref.export).toBe("runQueries");
    await restarted.onTaskFailed(retry!, failure);
    // within this process the failed slot counts as taken: the next try is tomorrow's slot
    expect(await restarted.getRunnableTasks()).toEqual([]);
    expect(new Date(restarted.nextCheck!).toISOString()).toBe("2024-05-02T08:00:00.000Z");
  });

  it("validates the schedule", () => {
    expect(summaryConfigSchema.safeParse({ database: "x", schedule: {} }).success).toBe(false);
    expect(summaryConfigSchema.safeParse({ database: "x", schedule: { cron: "not a cron" } }).success).toBe(false);
    expect(summaryConfigSchema.safeParse({ database: "x", schedule: { cron: "0 8 * * *", timezone: "Nowhere/City" } }).success).toBe(false);
    expect(summaryConfigSchema.safeParse({ database: "x", schedule: { cron: "0 8 * * *", timezone: "Australia/Brisbane" } }).success).toBe(true);
  });
});
