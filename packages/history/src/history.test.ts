import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { hostname, tmpdir, uptime } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { InProcessExecutor, JobDone, makeTask, Runner, type Job, type Task } from "@ujr/core";
import { HistoryStore, openRunnerHistory, recordRunnerHistory, type RunRecord } from "./index.js";

const tasks = new URL("./__fixtures__/tasks.mjs", import.meta.url).href;
const task = (name: string, args: unknown, signature: string): Task => makeTask({ module: tasks, export: name }, args, { signature });

/** Emits its tasks until each has settled once, then is done. */
class ListJob implements Job {
  #pending: Task[];
  constructor(readonly name: string, list: Task[]) {
    this.#pending = [...list];
  }
  getRunnableTasks(): Task[] {
    if (this.#pending.length === 0) throw new JobDone();
    return this.#pending;
  }
  onTaskDone(settled: Task): void {
    this.#pending = this.#pending.filter((entry) => entry.signature !== settled.signature);
  }
  onTaskFailed(settled: Task): void {
    this.onTaskDone(settled);
  }
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "ujr-history-"));
});
afterEach(() => {
  vi.useRealTimers();
  rmSync(dir, { recursive: true, force: true });
});

const run = (overrides: Partial<RunRecord> & { runId: string }): RunRecord => ({ attempt: 1, job: "j", task: "m#t", outcome: "done", startedAt: Date.now() - 1, endedAt: Date.now(), durationMs: 1, ...overrides });

describe("recording a runner", () => {
  it("stores every run with its outcome, failure code and message, plugin and job type, and the job events", async () => {
    const store = HistoryStore.open({ file: join(dir, "h.sqlite") });
    const runner = new Runner({ executor: new InProcessExecutor({ size: 2 }), jobs: [] });
    recordRunnerHistory(runner, store, { describeJob: (job) => (job === "collect" ? { plugin: "@ujr/plugin-x", jobType: "search" } : undefined) });
    runner.addJob(new ListJob("collect", [task("echo", { n: 1 }, "page-1"), task("boom", { message: "rate limited", code: "E_RATE" }, "page-2"), task("report", {}, "page-3")]));
    await runner.run();
    await store.settled();

    const runs = store.runs({ job: "collect" });
    expect(runs).toHaveLength(3);
    const bySignature = Object.fromEntries(runs.map((row) => [row.signature, row]));
    expect(bySignature["page-1"]).toMatchObject({ outcome: "done", plugin: "@ujr/plugin-x", jobType: "search", attempt: 1, task: expect.stringMatching(/tasks\.mjs#echo$/) });
    expect(bySignature["page-1"]!.startedAt).toBeTypeOf("number");
    expect(bySignature["page-1"]!.endedAt).toBeGreaterThanOrEqual(bySignature["page-1"]!.startedAt!);
    expect(bySignature["page-2"]).toMatchObject({ outcome: "failed", code: "E_RATE", message: "rate limited" });
    expect(bySignature["page-3"]).toMatchObject({ outcome: "done", progress: "3/4 pages" });
    expect(store.runs({ failed: true }).map((row) => row.signature)).toEqual(["page-2"]);
    expect(store.runs({ search: "PAGE-3" }).map((row) => row.signature)).toEqual(["page-3"]);
    expect(store.jobEvents({ job: "collect" }).map((event) => event.event)).toEqual(["done", "added"]);
    await store.close();
  });

  it("a task that runs across a sweep is recorded as running, then its row gets its outcome", async () => {
    const store = HistoryStore.open({ file: join(dir, "h.sqlite") });
    let open!: () => void;
    (globalThis as { __historyGate?: unknown }).__historyGate = { promise: new Promise<void>((resolve) => (open = resolve)) };
    const runner = new Runner({ executor: new InProcessExecutor({ size: 1 }), jobs: [] });
    const recorder = recordRunnerHistory(runner, store);
    runner.addJob(new ListJob("long", [task("gated", {}, "slow")]));
    runner.once("task:started", () => {
      recorder.sweep();
      void store.settled().then(() => {
        expect(store.runs()).toEqual([expect.objectContaining({ signature: "slow", outcome: "running" })]);
        open();
      });
    });
    await runner.run();
    await store.settled();
    expect(store.runs()).toEqual([expect.objectContaining({ signature: "slow", outcome: "done", durationMs: expect.any(Number) })]);
    await store.close();
  });

  it("sweeps only while tasks are in flight: an idle runner, between a collection's polls, is not woken each second", async () => {
    const store = HistoryStore.open({ file: join(dir, "h.sqlite") });
    let open!: () => void;
    (globalThis as { __historyGate?: unknown }).__historyGate = { promise: new Promise<void>((resolve) => (open = resolve)) };
    const runner = new Runner({ executor: new InProcessExecutor({ size: 1 }), jobs: [], exitWhenIdle: false });
    const looks = vi.spyOn(runner, "runningTasks");
    const snapshots = vi.spyOn(runner, "snapshot");
    recordRunnerHistory(runner, store, { sweepMs: 10 });
    looks.mockClear(); // the look when attached (a runner busy already is swept at once)
    const done = runner.run();
    // idle: twenty sweeps' time pass without one (the old recorder swept every sweepMs, idle or not)
    const idleFor = () => new Promise((resolve) => setTimeout(resolve, 200));
    await idleFor();
    expect(looks).not.toHaveBeenCalled();
    expect(snapshots).not.toHaveBeenCalled();
    const idle = new Promise<void>((resolve) => runner.once("runner:idle", () => resolve()));
    runner.addJob(new ListJob("long", [task("gated", {}, "slow")]));
    // busy: swept, and the running task recorded as such
    await vi.waitFor(() => expect(looks.mock.results.some((result) => (result.value as unknown[]).length === 1)).toBe(true), { timeout: 10_000, interval: 10 });
    await store.settled();
    expect(store.runs()).toEqual([expect.objectContaining({ signature: "slow", outcome: "running" })]);
    open();
    await idle;
    looks.mockClear();
    await idleFor();
    expect(looks).not.toHaveBeenCalled();
    expect(snapshots).not.toHaveBeenCalled();
    runner.stop();
    await done;
    await store.settled();
    expect(store.runs()).toEqual([expect.objectContaining({ signature: "slow", outcome: "done" })]);
    await store.close();
  });

  it("records a job changed by a reload as one 'changed' event, a removed one with its reason", async () => {
    const store = HistoryStore.open({ file: join(dir, "h.sqlite") });
    const runner = new Runner({ executor: new InProcessExecutor({ size: 1 }), jobs: [] });
    recordRunnerHistory(runner, store);
    const emit = (name: string, event: unknown) => (runner as unknown as { emit: (name: string, event: unknown) => void }).emit(name, event);
    emit("job:added", { job: "a" });
    emit("job:removed", { job: "a", reason: "job changed" });
    emit("job:added", { job: "a" });
    emit("job:removed", { job: "a", reason: "job deleted by a configuration change" });
    await store.settled();
    expect(store.jobEvents({ job: "a" }).reverse().map((event) => [event.event, event.message])).toEqual([
      ["added", undefined],
      ["changed", undefined],
      ["removed", "job deleted by a configuration change"],
    ]);
    await store.close();
  });

    it("writes in batches: nothing before the interval, everything in one transaction after it", async () => {
    vi.useFakeTimers();
    const file = join(dir, "h.sqlite");
    const store = HistoryStore.open({ file, flushIntervalMs: 200, writer: "inline" });
    const reader = new Database(file, { readonly: true });
    const count = () => (reader.prepare("SELECT coalesce(sum(runs), 0) AS n FROM run_batches").get() as { n: number }).n;
    for (let index = 0; index < 50; index++) store.recordRun(run({ runId: `r${index}` }));
    expect(count()).toBe(0);
    expect(store.pending).toBe(50);
    vi.advanceTimersByTime(200);
    expect(count()).toBe(50);
    expect(store.pending).toBe(0);
    reader.close();
    await store.close();
  });

  it("with writer: thread, a thread of its own writes the batches; settled() waits for them", async () => {
    const store = HistoryStore.open({ file: join(dir, "h.sqlite"), writer: "thread" });
    for (let index = 0; index < 2500; index++) store.recordRun(run({ runId: `r${index}` }));
    await store.settled();
    expect(store.pending).toBe(0);
    expect(store.runs({ limit: 10_000 })).toHaveLength(2500);
    await store.close();
  });

  it("writes a full batch at the next turn of the event loop, not inside the caller", async () => {
    const store = HistoryStore.open({ file: join(dir, "h.sqlite"), maxBatch: 10, flushIntervalMs: 60_000, writer: "inline" });
    for (let index = 0; index < 10; index++) store.recordRun(run({ runId: `r${index}` }));
    expect(store.pending).toBe(10);
    await new Promise((resolve) => setImmediate(resolve));
    expect(store.pending).toBe(0);
    expect(store.runs()).toHaveLength(10);
    await store.close();
  });

  it("writes at once when the event loop does not turn while four full batches wait, so memory stays bounded", async () => {
    const store = HistoryStore.open({ file: join(dir, "h.sqlite"), maxBatch: 10, flushIntervalMs: 60_000, writer: "inline" });
    for (let index = 0; index < 39; index++) store.recordRun(run({ runId: `r${index}` }));
    expect(store.pending).toBe(39);
    store.recordRun(run({ runId: "r39" }));
    expect(store.pending).toBe(0);
    expect(store.runs({ limit: 100 })).toHaveLength(40);
    await store.close();
  });

  it("a run updated before its batch is written is written once, as it ended", async () => {
    vi.useFakeTimers();
    const store = HistoryStore.open({ file: join(dir, "h.sqlite"), writer: "inline" });
    const record = run({ runId: "a", outcome: "running", endedAt: undefined });
    store.recordRun(record);
    record.outcome = "failed";
    record.code = "E_X";
    store.recordRun(record);
    vi.advanceTimersByTime(200);
    expect(store.runs()).toEqual([expect.objectContaining({ runId: "a", outcome: "failed", code: "E_X" })]);
    await store.close();
  });
});

describe("after a crash", () => {
  it("keeps every written batch, loses only the last one, and marks the runs that were running as interrupted", async () => {
    const file = join(dir, "h.sqlite");
    const crashed = spawnSync(process.execPath, [new URL("./__fixtures__/crash.mjs", import.meta.url).pathname, file], { encoding: "utf8" });
    expect(crashed.signal).toBe("SIGKILL");
    const again = HistoryStore.open({ file });
    const runs = again.runs();
    expect(runs.map((row) => row.runId).sort()).toEqual(["done-before", "running-at-crash"]);
    expect(runs.find((row) => row.runId === "running-at-crash")).toMatchObject({ outcome: "interrupted", message: expect.stringMatching(/without recording an outcome/) });
    await again.close();
    const check = new Database(file);
    expect(check.pragma("integrity_check", { simple: true })).toBe("ok");
    check.close();
  });
});

describe("runs whose runner is gone", () => {
  /** A pid no process has: one of a child that has exited (reaped by spawnSync). */
  const deadPid = (): number => spawnSync(process.execPath, ["-e", ""]).pid!;

  it("a reader shows a run of this machine whose runner process is gone as interrupted at once, before any writer opens the file", async () => {
    const file = join(dir, "h.sqlite");
    const writer = HistoryStore.open({ file, writer: "inline" });
    const gone = deadPid();
    writer.recordRun(run({ runId: "pid-gone", outcome: "running", endedAt: undefined, durationMs: undefined, host: hostname(), pid: gone }));
    writer.recordRun(run({ runId: "before-the-boot", outcome: "running", startedAt: Date.now() - uptime() * 1000 - 120_000, endedAt: undefined, durationMs: undefined, host: hostname(), pid: process.pid }));
    writer.recordRun(run({ runId: "still-running", outcome: "running", endedAt: undefined, durationMs: undefined, host: hostname(), pid: process.pid }));
    writer.recordRun(run({ runId: "elsewhere", outcome: "running", endedAt: undefined, durationMs: undefined, host: `not-${hostname()}`, pid: gone }));
    await writer.settled();
    const reader = HistoryStore.openReadOnly(file);
    const outcomes = Object.fromEntries(reader.runs().map((row) => [row.runId, row.outcome]));
    expect(outcomes).toEqual({ "pid-gone": "interrupted", "before-the-boot": "interrupted", "still-running": "running", elsewhere: "running" });
    expect(reader.runs({ failed: true }).map((row) => row.runId).sort()).toEqual(["before-the-boot", "pid-gone"]);
    expect(reader.runs().find((row) => row.runId === "pid-gone")?.message).toMatch(/without recording an outcome/);
    await reader.close();
    await writer.close();
  });

  it("a second runner opening the history leaves the running runs of a runner of this machine that still runs as they are", async () => {
    const file = join(dir, "h.sqlite");
    const first = HistoryStore.open({ file, writer: "inline" });
    const running = run({ runId: "first-runs-it", outcome: "running", endedAt: undefined, durationMs: undefined, host: hostname(), pid: process.pid });
    first.recordRun(running);
    first.recordRun(run({ runId: "left-by-a-dead-one", outcome: "running", endedAt: undefined, durationMs: undefined, host: hostname(), pid: deadPid() }));
    await first.settled();
    const second = HistoryStore.open({ file, writer: "inline" });
    expect(Object.fromEntries(second.runs().map((row) => [row.runId, row.outcome]))).toEqual({ "first-runs-it": "running", "left-by-a-dead-one": "interrupted" });
    await second.close();
    // The first runner records the outcome later, as usual.
    Object.assign(running, { outcome: "done", endedAt: Date.now(), durationMs: 1 });
    first.recordRun(running);
    await first.settled();
    expect(first.runs().find((row) => row.runId === "first-runs-it")?.outcome).toBe("done");
    await first.close();
  });
});

describe("retention", () => {
  it("deletes runs older than the days kept and beyond the count kept, newest kept", async () => {
    const now = Date.UTC(2026, 0, 31);
    const day = 86_400_000;
    const store = HistoryStore.open({ file: join(dir, "h.sqlite"), retention: { days: 7, runs: 3 }, now: () => now });
    store.recordRun(run({ runId: "old", startedAt: now - 10 * day, endedAt: now - 10 * day }));
    for (let index = 0; index < 5; index++) store.recordRun(run({ runId: `new-${index}`, startedAt: now - day, endedAt: now - day }));
    store.recordJobEvent({ at: now - 8 * day, job: "j", event: "added" });
    store.recordJobEvent({ at: now, job: "j", event: "paused" });
    await store.settled();
    expect(store.prune()).toEqual({ runs: 3, events: 1 });
    expect(store.runs().map((row) => row.runId)).toEqual(["new-4", "new-3", "new-2"]);
    expect(store.jobEvents().map((event) => event.event)).toEqual(["paused"]);
    await store.close();
  });

  it("at its limit, keeps exactly the newest runs of many small batches (a runner's flushes), the oldest batches deleted and the one that crosses it cut", async () => {
    // a runner flushes every 200 ms: a history of a month's checks is a batch per run or two
    const store = HistoryStore.open({ file: join(dir, "h.sqlite"), retention: { runs: 250 } });
    let index = 0;
    const add = (count: number) => {
      for (let end = index + count; index < end; ) {
        store.recordRun(run({ runId: `r${index}`, job: index % 3 === 0 ? "a" : "b", outcome: index % 7 === 0 ? "failed" : "done" }));
        if (++index % 3 === 0) store.flush();
      }
      store.flush();
    };
    add(1000);
    await store.settled();
    expect(store.prune().runs).toBe(750);
    const newest = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => `r${to - 1 - i}`);
    expect(store.runs({ limit: 10_000 }).map((row) => row.runId)).toEqual(newest(750, 1000));
    // the job totals count what is kept
    expect(store.jobSummaries().reduce((sum, job) => sum + job.runs, 0)).toBe(250);
    // a few more since: only they are cut, the batch that crosses the limit keeping its newest runs
    add(31);
    await store.settled();
    expect(store.prune().runs).toBe(31);
    expect(store.runs({ limit: 10_000 }).map((row) => row.runId)).toEqual(newest(781, 1031));
    const summaries = store.jobSummaries();
    expect(summaries.reduce((sum, job) => sum + job.runs, 0)).toBe(250);
    expect(summaries.reduce((sum, job) => sum + job.failures, 0)).toBe(store.runs({ limit: 10_000, failed: true }).length);
    // under the limit: nothing to cut
    expect(store.prune()).toEqual({ runs: 0, events: 0 });
    await store.close();
  });

  it("keeps the file from growing without bound", async () => {
    const file = join(dir, "h.sqlite");
    const store = HistoryStore.open({ file, retention: { runs: 1000 }, maxBatch: 500 });
    const checkpoint = new Database(file);
    // The database's size once the WAL is folded back into it.
    const size = () => {
      checkpoint.pragma("wal_checkpoint(TRUNCATE)");
      return statSync(file).size;
    };
    const fill = async (from: number) => {
      for (let index = from; index < from + 5000; index++) store.recordRun(run({ runId: `r${index}`, message: "x".repeat(200) }));
      await store.settled();
      store.prune();
    };
    await fill(0);
    await fill(5000);
    const before = size();
    for (let round = 2; round < 8; round++) await fill(round * 5000);
    expect(store.runs({ limit: 10_000 })).toHaveLength(1000);
    expect(size()).toBeLessThanOrEqual(before * 1.2);
    checkpoint.close();
    await store.close();
  });
});

describe("queries", () => {
  it("summarises jobs, hours, failures by code and duration percentiles", async () => {
    const hour = 3_600_000;
    const now = Date.UTC(2026, 0, 1, 12, 30);
    const store = HistoryStore.open({ file: join(dir, "h.sqlite"), now: () => now });
    for (let index = 1; index <= 100; index++) store.recordRun(run({ runId: `d${index}`, job: "a", startedAt: now - 2 * hour, endedAt: now - 2 * hour, durationMs: index }));
    store.recordRun(run({ runId: "f1", job: "a", outcome: "failed", code: "E_RATE", message: "first", endedAt: now - hour }));
    store.recordRun(run({ runId: "f3", job: "a", outcome: "retry", message: "no code", endedAt: now - 20 }));
    store.recordRun(run({ runId: "f2", job: "a", outcome: "timeout", code: "E_RATE", message: "second", endedAt: now - 10 }));
    await store.settled();
    const [summary] = store.jobSummaries();
    expect(summary).toMatchObject({ job: "a", runs: 103, done: 100, failures: 3, lastFailure: { code: "E_RATE", message: "second" } });
    expect(store.failuresByCode("a")).toEqual([
      { code: "E_RATE", count: 2, lastAt: now - 10, lastMessage: "second" },
      { code: "UNKNOWN", count: 1, lastAt: now - 20, lastMessage: "no code" },
    ]);
    expect(store.durations("a")).toEqual({ count: 100, p50: 50, p90: 90, p99: 99, max: 100 });
    const hours = store.hourly({ hours: 3 });
    expect(hours.map((bucket) => [bucket.runs, bucket.failures])).toEqual([[100, 0], [1, 1], [2, 2]]);
    await store.close();
  });
});

describe("runs by start time (order: started)", () => {
  it("orders by when each run began, and the limit keeps the runs that began last, even when a long run ended last", async () => {
    const t = Date.UTC(2026, 0, 1, 12);
    const store = HistoryStore.open({ file: join(dir, "h.sqlite"), now: () => t + 1000 });
    // Recorded (and batched) in the order they ended, one batch each, as a runner writes them.
    const ended: Array<[string, number, number]> = [
      ["a", 0, 10],
      ["c", 30, 40],
      ["b", 20, 50],
      ["long", 5, 90],
    ];
    for (const [runId, startedAt, endedAt] of ended) {
      store.recordRun(run({ runId, startedAt: t + startedAt, endedAt: t + endedAt }));
      await store.settled();
    }
    expect(store.runs().map((row) => row.runId)).toEqual(["long", "b", "c", "a"]);
    expect(store.runs({ order: "started" }).map((row) => row.runId)).toEqual(["c", "b", "long", "a"]);
    expect(store.runs({ order: "started", limit: 2 }).map((row) => row.runId)).toEqual(["c", "b"]);
    expect(store.runs({ order: "started", limit: 3, since: t + 1 }).map((row) => row.runId)).toEqual(["c", "b", "long"]);
    await store.close();
  });
});

describe("paused jobs", () => {
  it("are kept across restarts and paused again when the job is added", async () => {
    const file = join(dir, "data", "_history.sqlite");
    const first = HistoryStore.open({ file });
    first.setPaused("collect", true);
    await first.close();

    const runner = new Runner({ executor: new InProcessExecutor({ size: 1 }), jobs: [] });
    const paused: string[] = [];
    (runner as unknown as { pauseJob: (name: string) => boolean }).pauseJob = (name) => {
      paused.push(name);
      return true;
    };
    const history = await openRunnerHistory(runner, { settings: { retention: { days: 30, runs: 10 }, flushInterval: 200 }, dataDir: join(dir, "data"), configDir: dir });
    expect(history?.restoredPaused).toEqual(["collect"]);
    runner.addJob(new ListJob("other", []));
    runner.addJob(new ListJob("collect", []));
    expect(paused).toEqual(["collect"]);
    (runner as unknown as { emit: (name: string, event: unknown) => void }).emit("job:resumed", { job: "collect" });
    expect(history?.store.pausedJobs()).toEqual([]);
    await history?.close();
  });

  it("is off with history: false", async () => {
    const runner = new Runner({ executor: new InProcessExecutor({ size: 1 }), jobs: [] });
    expect(await openRunnerHistory(runner, { settings: false, dataDir: dir, configDir: dir })).toBeUndefined();
  });
});

describe("files of an older version", () => {
  it("a version 1 file is opened as it is: its batches are read beside the new, packed ones", async () => {
    const file = join(dir, "h.sqlite");
    const first = HistoryStore.open({ file });
    await first.close();
    // What version 1 wrote: each run a plain array in the batch's rows.
    const db = new Database(file);
    const old = [["r-1", 1, "m#t", "a", 1_000, 1_001, 1_005, "failed", "E_OLD", "it broke", 4, null]];
    db.prepare("INSERT INTO run_batches (job, host, pid, first_at, last_at, runs, done, failures, rows) VALUES ('j', 'h', 1, 1005, 1005, 1, 0, 1, ?)").run(JSON.stringify(old));
    db.pragma("user_version = 1");
    db.close();

    const store = HistoryStore.open({ file, retention: { days: 100_000 } });
    store.recordRun(run({ runId: "r-2", signature: "b" }));
    await store.settled();
    const runs = store.runs({ job: "j" });
    expect(runs.map((row) => [row.runId, row.signature, row.outcome])).toEqual([
      ["r-2", "b", "done"],
      ["r-1", "a", "failed"],
    ]);
    expect(runs[1]).toMatchObject({ task: "m#t", startedAt: 1_001, endedAt: 1_005, code: "E_OLD", message: "it broke", durationMs: 4, host: "h", pid: 1 });
    expect(store.failuresByCode("j")).toEqual([{ code: "E_OLD", count: 1, lastAt: 1_005, lastMessage: "it broke" }]);
    await store.close();
    const reopened = new Database(file);
    expect(reopened.pragma("user_version", { simple: true })).toBe(2);
    reopened.close();
  });
});

describe("errors", () => {
  it("reading a history that does not exist says what to do", async () => {
    expect(() => HistoryStore.openReadOnly(join(dir, "none.sqlite"), { config: "ujr.config.yaml" })).toThrow(
      expect.objectContaining({ code: "UJR_HISTORY_NOT_FOUND", message: expect.stringMatching(/No run history at .*none\.sqlite.*Run `ujr run ujr\.config\.yaml` first/) }),
    );
  });

  it("a file of a newer schema is refused, not rewritten", async () => {
    const file = join(dir, "h.sqlite");
    const db = new Database(file);
    db.pragma("user_version = 99");
    db.close();
    expect(() => HistoryStore.open({ file })).toThrow(expect.objectContaining({ code: "UJR_HISTORY_NEWER", message: expect.stringMatching(/schema v99.*Upgrade ujr/) }));
  });
});
