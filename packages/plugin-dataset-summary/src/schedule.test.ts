import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { silentLogger, type Task } from "@ujr/core";
import { capturingLogger } from "@ujr/core/testing";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { summaryConfigSchema } from "./config.js";
import { SummaryJob } from "./job.js";
import type { Manifest } from "./manifest.js";
import { saveState } from "./state.js";
import { afterClockWentBack, isDue, nextRunAt, recordRun, startWaiting, type Schedule, type ScheduleState } from "./schedule.js";

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

  describe("after the clock went back (NTP, a clock set by hand): no stall for as long as it went back, no run made twice", () => {
    const at = (iso: string) => Date.parse(iso);
    const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
    /** What the job does at each ask: rebase, then ask the schedule. */
    const next = (s: Schedule, state: ScheduleState, now: number) => {
      const rebased = afterClockWentBack(s, state, now)?.state ?? state;
      return { state: rebased, next: iso(nextRunAt(s, rebased, now)), due: isDue(s, rebased, now) };
    };
    it("interval: the next run is one interval after the clock went back, and comes", () => {
      const iv: Schedule = { kind: "interval", everyMs: 30_000 };
      const now = at("2024-05-01T08:00:10Z"); // set back an hour, 10 s after the 09:00:00 run
      const first = next(iv, recordRun({}, at("2024-05-01T09:00:00Z")), now);
      expect(first).toMatchObject({ next: "2024-05-01T08:00:40.000Z", due: false });
      expect(next(iv, first.state, now + 30_000)).toMatchObject({ due: true });
      // nothing to do when the clock did not go back
      expect(afterClockWentBack(iv, recordRun({}, now), now + 1)).toBeUndefined();
    });
    it("cron every minute: goes on from the slots after the new time instead of waiting an hour", () => {
      const s: Schedule = { kind: "cron", expressions: ["* * * * *"], timezone: "UTC" };
      const first = next(s, recordRun({}, at("2024-05-01T09:00:00Z")), at("2024-05-01T08:00:30Z"));
      expect(first).toMatchObject({ next: "2024-05-01T08:01:00.000Z", due: false });
      expect(next(s, first.state, at("2024-05-01T08:01:00Z"))).toMatchObject({ due: true });
    });
    it("cron daily: the slot the clock went back over is not run again", () => {
      const s: Schedule = { kind: "cron", expressions: ["0 8 * * *"], timezone: "UTC" };
      // 08:30 set back to 07:30: the 08:00 report was made, the next one is tomorrow's
      const state = recordRun({}, at("2024-05-01T08:00:00Z"));
      expect(next(s, state, at("2024-05-01T07:30:00Z"))).toMatchObject({ next: "2024-05-02T08:00:00.000Z", due: false });
      expect(next(s, state, at("2024-05-01T08:00:00Z"))).toMatchObject({ due: false });
    });
    it("cron hourly set back three hours: goes on from the next slot of the new time", () => {
      const s: Schedule = { kind: "cron", expressions: ["0 * * * *"], timezone: "UTC" };
      const first = next(s, recordRun({}, at("2024-05-01T12:00:00Z")), at("2024-05-01T09:10:00Z"));
      expect(first).toMatchObject({ next: "2024-05-01T10:00:00.000Z", due: false });
      expect(next(s, first.state, at("2024-05-01T10:00:00Z"))).toMatchObject({ due: true });
    });
    it("cron waiting for its first slot since a time after now: waits for the slot after now", () => {
      const s: Schedule = { kind: "cron", expressions: ["*/5 * * * *"], timezone: "UTC" };
      const first = next(s, startWaiting({}, at("2024-05-01T09:02:00Z")), at("2024-05-01T08:02:00Z"));
      expect(first).toMatchObject({ next: "2024-05-01T08:05:00.000Z", due: false });
      expect(next(s, first.state, at("2024-05-01T08:05:00Z"))).toMatchObject({ due: true });
    });
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
    // the database the jobs below name (the queries themselves never run here)
    writeFileSync(path.join(stateDir, "tidy.db"), "");
  });
  afterEach(() => rmSync(stateDir, { recursive: true, force: true }));

  it("a scheduled run whose SQLite database does not exist yet waits for it (a pipeline's first start), saying so once; a once job runs and fails as before", async () => {
    let now = Date.parse("2024-05-01T08:00:00Z");
    const clock = { now: () => now };
    const { logger, logs } = capturingLogger();
    const ctx = { name: "j", stateDir, configDir: stateDir, logger };
    const job = new SummaryJob(summaryConfigSchema.parse({ database: "later/tidy.sqlite", schedule: { every: "30s" } }), ctx, { clock });
    const file = path.join(stateDir, "later", "tidy.sqlite");
    expect(await job.getRunnableTasks()).toEqual([]);
    expect(job.nextCheck).toBe(now + 10_000);
    expect(job.statusPanel().fields?.find((f) => f.label === "Next run")).toMatchObject({ value: `when ${file} exists (it does not yet)`, tone: "warning" });
    now += 10_000;
    expect(await job.getRunnableTasks()).toEqual([]);
    const warnings = logs.filter((l) => l.level === 40);
    expect(warnings).toEqual([
      expect.objectContaining({
        code: "UJR_SUMMARY_DB_OPEN",
        msg: `SQLite database "${file}" does not exist yet: the due summary run waits for it (a tidy job makes it when it loads its first file). If no job writes it, check the job's "database" setting (relative paths are resolved from the config file's folder).`,
      }),
    ]);
    expect(job.state?.lastError).toBeUndefined(); // no failed run recorded
    // the tidier makes it
    mkdirSync(path.dirname(file));
    writeFileSync(file, "");
    now += 10_000;
    expect((await job.getRunnableTasks()).map((t) => t.ref.export)).toEqual(["runQueries"]);
    expect(logs.map((l) => l.msg)).toContain(`SQLite database "${file}" exists now: the summary run starts`);

    const once = new SummaryJob(summaryConfigSchema.parse({ database: "missing.sqlite", schedule: { once: true } }), { ...ctx, name: "o" }, { clock });
    expect((await once.getRunnableTasks()).map((t) => t.ref.export)).toEqual(["runQueries"]);
  });

  it("a once job that ran in an earlier process ends without a run and says so: when, where its report is, and how to make a new one", async () => {
    const { logger, logs } = capturingLogger();
    const ctx = { name: "report", stateDir, configDir: stateDir, logger };
    const runDir = path.join(stateDir, "out", "report", "2024-05-01T08-00-00Z");
    await saveState(stateDir, { version: 1, runs: 1, lastRunAt: Date.parse("2024-05-01T08:00:00Z"), lastRunDir: runDir, pending: [] });
    const job = new SummaryJob(summaryConfigSchema.parse({ database: "tidy.sqlite", schedule: { once: true } }), ctx, { clock: { now: () => Date.parse("2024-05-02T09:00:00Z") } });
    await expect(job.getRunnableTasks()).rejects.toMatchObject({ code: "UJR_JOB_DONE" });
    expect(logs.filter((l) => l.level === 30).map((l) => l.msg)).toContain(
      `summary "report" (once: true) ran at 2024-05-01T08:00:00.000Z, report ${path.join(runDir, "report.html")}: a once summary runs its queries once for good, so they are not run again now. ` +
        `For a new report, remove ${path.join(stateDir, "summary-state.json")} (the job's state) and run it again, or give it a schedule ("every" or "cron") in a runner that keeps running.`,
    );

    // a once job that runs in this process ends without that line
    const fresh = path.join(stateDir, "fresh");
    mkdirSync(fresh);
    const { logger: quiet, logs: quietLogs } = capturingLogger();
    const once = new SummaryJob(summaryConfigSchema.parse({ database: "tidy.sqlite", schedule: { once: true } }), { ...ctx, stateDir: fresh, logger: quiet }, { clock: { now: () => Date.parse("2024-05-02T09:00:00Z") } });
    const [run] = await once.getRunnableTasks();
    await once.onTaskDone(run!, fakeManifest(fresh, "2024-05-02T09-00-00Z"));
    await expect(once.getRunnableTasks()).rejects.toMatchObject({ code: "UJR_JOB_DONE" });
    expect(quietLogs.filter((l) => String(l.msg).includes("runs its queries once for good"))).toEqual([]);
  });

  it("a once run that finds no SQLite database says why it may be missing: the tidy job of the same run has not made it yet, or a typo (a near name in its folder)", async () => {
    const now = Date.parse("2024-05-01T08:00:00Z");
    const ownState = (name: string) => {
      const dir = path.join(stateDir, name);
      mkdirSync(dir);
      return dir;
    };
    const ctx = { name: "report", stateDir: ownState("first"), configDir: stateDir, logger: silentLogger() };
    const file = path.join(stateDir, "tidy.sqlite");
    const missing = { name: "SummaryError", code: "UJR_SUMMARY_DB_OPEN", message: `SQLite database "${file}" does not exist: check the job's "database" setting (relative paths are resolved from the config file's folder).` };
    const once = new SummaryJob(summaryConfigSchema.parse({ database: "tidy.sqlite", schedule: { once: true } }), ctx, { clock: { now: () => now } });
    const [run] = await once.getRunnableTasks();
    await once.onTaskFailed(run!, missing);
    const pipeline =
      ' If a tidy job of the same config makes it: a summary with "once: true" starts with the run and does not wait for the database, so run the tidy job first' +
      " (ujr run --job <tidy job>, then ujr run --job report), or give this summary a schedule (\"every\" or \"cron\"), which waits until the database exists.";
    await expect(once.getRunnableTasks()).rejects.toMatchObject({ code: "UJR_JOB_FAILED", message: `the summary run failed: UJR_SUMMARY_DB_OPEN: ${missing.message}${pipeline}` });

    // a typo: the file the user meant is there
    writeFileSync(path.join(stateDir, "tidy.sqlite3"), "");
    const typo = new SummaryJob(summaryConfigSchema.parse({ database: "tidy.sqlite", schedule: { once: true } }), { ...ctx, stateDir: ownState("typo") }, { clock: { now: () => now } });
    const [again] = await typo.getRunnableTasks();
    await typo.onTaskFailed(again!, missing);
    await expect(typo.getRunnableTasks()).rejects.toMatchObject({ message: `the summary run failed: UJR_SUMMARY_DB_OPEN: ${missing.message} Did you mean "tidy.sqlite3"?${pipeline}` });

    // the database exists (another cause of the same code): nothing is added
    writeFileSync(file, "");
    const other = new SummaryJob(summaryConfigSchema.parse({ database: "tidy.sqlite", schedule: { once: true } }), { ...ctx, stateDir: ownState("other") }, { clock: { now: () => now } });
    const [third] = await other.getRunnableTasks();
    await other.onTaskFailed(third!, { ...missing, message: "file is not a database" });
    await expect(other.getRunnableTasks()).rejects.toMatchObject({ message: "the summary run failed: UJR_SUMMARY_DB_OPEN: file is not a database" });
  });

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

  it("a folder target's relative path is from the config's folder, as outDir and database are, not from the working directory", async () => {
    const now = Date.parse("2024-05-01T00:00:00Z");
    const clock = { now: () => now };
    const configDir = path.join(stateDir, "config-folder");
    mkdirSync(configDir, { recursive: true });
    // a scheduled job waits for its SQLite file to exist (the tidier makes it)
    writeFileSync(path.join(configDir, "tidy.db"), "");
    const ctx = { name: "j", stateDir, configDir, logger: silentLogger() };
    const job = new SummaryJob(summaryConfigSchema.parse({ database: "tidy.db", schedule: { every: "1h" }, notify: [{ type: "folder", name: "share", path: "reports/shared" }] }), ctx, { clock });
    const [run] = await job.getRunnableTasks();
    await job.onTaskDone(run!, fakeManifest(stateDir, "2024-05-01T00-00-00Z"));
    const [notify] = await job.getRunnableTasks();
    expect(notify!.ref.export).toBe("notifyTarget");
    expect((notify!.args as { target: { path: string } }).target.path).toBe(path.join(configDir, "reports", "shared"));
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

  it("a clock set back an hour after a run: the job's next check is one interval away, in the same process and after a restart", async () => {
    let now = Date.parse("2024-05-01T09:00:00Z");
    const clock = { now: () => now };
    const ctx = { name: "j", stateDir, configDir: stateDir, logger: silentLogger() };
    const cfg = summaryConfigSchema.parse({ database: "tidy.db", schedule: { every: "30s" } });
    const { logger, logs } = capturingLogger();
    const job = new SummaryJob(cfg, { ...ctx, logger }, { clock });
    const [run] = await job.getRunnableTasks();
    await job.onTaskDone(run!, fakeManifest(stateDir, "r1"));
    expect(await job.getRunnableTasks()).toEqual([]);
    expect(job.nextCheck).toBe(now + 30_000);
    now -= H; // NTP, or the user, sets the clock back an hour
    expect(await job.getRunnableTasks()).toEqual([]);
    expect(job.nextCheck).toBe(now + 30_000);
    expect(job.statusPanel().fields?.find((f) => f.label === "Next run")).toMatchObject({ value: new Date(now + 30_000).toISOString() });
    expect(logs.filter((l) => l.msg?.includes("set back"))).toEqual([
      expect.objectContaining({ msg: `the clock is 3600 s before the last run's start (it was set back): the schedule goes on from now; next run ${new Date(now + 30_000).toISOString()}` }),
    ]);
    now += 30_000;
    const [again] = await job.getRunnableTasks();
    expect(again?.ref.export).toBe("runQueries");
    await job.onTaskDone(again!, fakeManifest(stateDir, "r2"));
    // the clock set back again, and a new process reads the state whose last run is in its future
    now -= H;
    const restarted = new SummaryJob(cfg, ctx, { clock });
    expect(await restarted.getRunnableTasks()).toEqual([]);
    expect(restarted.nextCheck).toBe(now + 30_000);
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
    await expect(first.getRunnableTasks()).rejects.toMatchObject({ code: "UJR_JOB_FAILED", message: `the summary run failed: UJR_SUMMARY_OUTPUT: ${failure.message}`, details: { causes: ["UJR_SUMMARY_OUTPUT"] } });

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
