/**
 * A run history whose disk fills up. SQLITE_FULL is provoked on the store's own connection
 * with `PRAGMA max_page_count` (the file may not grow past the pages it has; raising it
 * frees the space); a file that cannot be written at all with `PRAGMA query_only`; the
 * writer thread's connection, out of reach, with a trigger in the file.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import Database from "better-sqlite3";
import { capturingLogger, type LogRecord } from "@ujr/core/testing";
import { connectionOf, HistoryStore, type HistoryStoreOptions } from "./history-store.js";
import type { RunRecord } from "./types.js";
import { needsProcFolders } from "../../runner-local/src/__fixtures__/processes.js";

let dir: string;
let file: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "ujr-history-full-"));
  file = join(dir, "h.sqlite");
});
afterEach(() => {
  vi.useRealTimers();
  rmSync(dir, { recursive: true, force: true });
});

const T = Date.UTC(2026, 0, 5, 10);
const run = (overrides: Partial<RunRecord> & { runId: string }): RunRecord => ({
  attempt: 1,
  job: "tidy",
  task: "m#t",
  outcome: "failed",
  code: "SQLITE_FULL",
  // big enough that each batch needs new pages of the file
  message: `database or disk is full ${"x".repeat(300)}`,
  startedAt: T,
  endedAt: T + 1,
  durationMs: 1,
  host: hostname(),
  pid: process.pid,
  ...overrides,
});
const failedRuns = (from: number, count: number) => Array.from({ length: count }, (_, index) => run({ runId: `f${from + index}` }));

function open(options: Partial<HistoryStoreOptions> = {}) {
  const { logger, logs } = capturingLogger();
  const store = HistoryStore.open({ file, writer: "inline", flushIntervalMs: 200, retryIntervalMs: 1000, now: () => T, logger, ...options });
  return { store, logs };
}

/** The file may not grow any more: its next new page is SQLITE_FULL. */
function fillDisk(store: HistoryStore): void {
  const db = connectionOf(store)!;
  db.pragma(`max_page_count = ${db.pragma("page_count", { simple: true }) as number}`);
}
function freeDisk(store: HistoryStore): void {
  connectionOf(store)!.pragma("max_page_count = 1073741823");
}

const coded = (logs: LogRecord[], code: string) => logs.filter((line) => line.code === code);
const messages = (logs: LogRecord[], level: number) => logs.filter((line) => line.level === level).map((line) => line.msg);

describe("a run history whose disk is full for a while", () => {
  it("keeps what it cannot write and writes it when there is room: nothing lost, the failures counted, one warning", async () => {
    vi.useFakeTimers();
    const { store, logs } = open();
    // a long run, recorded as running before the disk filled
    const long = run({ runId: "long", outcome: "running", endedAt: undefined, durationMs: undefined, code: undefined, message: undefined });
    store.recordRun(long);
    await store.settled();

    fillDisk(store);
    for (const record of failedRuns(0, 100)) store.recordRun(record);
    Object.assign(long, { outcome: "done", endedAt: T + 5, durationMs: 5 });
    store.recordRun(long);
    vi.advanceTimersByTime(200);
    expect(store.pending).toBe(0);
    expect(coded(logs, "UJR_HISTORY_WRITE_FAILED").map((line) => [line.level, line.msg])).toEqual([
      [
        40,
        `The run history ${file} could not be written (database or disk is full). 101 run(s) and 0 job event(s) wait in memory and are written as soon as it can be, tried again every 1 s (tasks go on). Free space on its disk.`,
      ],
    ]);
    // more runs while it is full: kept too, and said no more
    for (const record of failedRuns(100, 100)) store.recordRun(record);
    vi.advanceTimersByTime(1000);
    expect(coded(logs, "UJR_HISTORY_WRITE_FAILED")).toHaveLength(1);
    expect(store.jobSummaries()).toEqual([]);

    freeDisk(store);
    vi.advanceTimersByTime(1000);
    expect(store.jobSummaries()).toEqual([expect.objectContaining({ job: "tidy", runs: 201, done: 1, failures: 200 })]);
    expect(store.runs({ limit: 1000 })).toHaveLength(201);
    expect(store.runs({ limit: 1000 }).find((row) => row.runId === "long")).toMatchObject({ outcome: "done" });
    expect(messages(logs, 30)).toContain("run history: written again after 2 failed tries; nothing was lost");
    await store.close();
  });

  it("past its limit drops the oldest runs from the run list, still counts them, and says so once; their running rows never read as killed or crashed", async () => {
    vi.useFakeTimers();
    const { store, logs } = open({ unwrittenLimit: { runs: 150 } });
    const long = run({ runId: "long", outcome: "running", endedAt: undefined, durationMs: undefined, code: undefined, message: undefined });
    store.recordRun(long);
    await store.settled();

    fillDisk(store);
    for (const record of failedRuns(0, 99)) store.recordRun(record);
    Object.assign(long, { outcome: "failed", endedAt: T + 5, durationMs: 5, code: "E_LONG", message: "it failed" });
    store.recordRun(long);
    vi.advanceTimersByTime(200); // 100 runs wait
    for (const round of [1, 2, 3]) {
      for (const record of failedRuns(round * 100, 100)) store.recordRun(record);
      store.flush(); // each set of 100 pushes the one before past the limit of 150
    }
    expect(coded(logs, "UJR_HISTORY_RUNS_DROPPED").map((line) => line.msg)).toEqual([
      `The run history ${file} still cannot be written (database or disk is full), and more runs wait than the 150 runs or 32 MiB kept in memory: the oldest runs are dropped from the run list from now on (100 so far, 100 of them failed). The job totals still count them, and each job gets an 'error' event saying how many it lost once the history can be written. Free space on its disk.`,
    ]);

    freeDisk(store);
    vi.advanceTimersByTime(1000);
    // the totals count every run, the last failure one that was dropped; the run list has the newest 100
    expect(store.jobSummaries()).toEqual([expect.objectContaining({ job: "tidy", runs: 400, done: 0, failures: 400, lastFailure: { at: T + 5, code: "E_LONG", message: "it failed" } })]);
    expect(store.runs({ limit: 1000 }).map((row) => row.runId)).toEqual(failedRuns(300, 100).map((record) => record.runId).reverse());
    expect(store.jobEvents({ job: "tidy" })).toEqual([
      expect.objectContaining({
        event: "error",
        code: "UJR_HISTORY_RUNS_NOT_RECORDED",
        message: "300 run(s) (300 failed) ended while the run history could not be written (database or disk is full) and are not in the run list; the job totals count them.",
      }),
    ]);
    expect(messages(logs, 40)).toContain(
      "run history: written again after 1 failed try; 300 run(s) (300 failed) were dropped from the run list, counted in the job totals and in an 'error' event of each job",
    );
    await store.close();

    // the next runner finds no run left running: nothing to call killed or crashed
    const next = HistoryStore.open({ file, writer: "inline" });
    expect(next.runs({ limit: 1000, outcomes: ["running", "interrupted"] })).toEqual([]);
    await next.close();
  });

  it("a runner that stops while the disk is full keeps the totals and running rows right; what it cannot write at all it says, with its size", async () => {
    const first = open();
    const long = run({ runId: "long", outcome: "running", endedAt: undefined, durationMs: undefined, code: undefined, message: undefined });
    first.store.recordRun(long);
    await first.store.settled();
    fillDisk(first.store);
    for (const record of failedRuns(0, 100)) first.store.recordRun(record);
    Object.assign(long, { outcome: "done", endedAt: T + 5, durationMs: 5 });
    first.store.recordRun(long);
    await first.store.close();
    // the runs could not be written; what counts them could (it needs no new page)
    const reopened = HistoryStore.open({ file, writer: "inline" });
    expect(reopened.jobSummaries()).toEqual([expect.objectContaining({ runs: 101, done: 1, failures: 100 })]);
    expect(reopened.runs({ limit: 1000 })).toEqual([]);
    await reopened.close();

    // a history that cannot be written at all: the loss is said at the stop
    const second = open();
    connectionOf(second.store)!.pragma("query_only = ON");
    for (const record of failedRuns(200, 10)) second.store.recordRun(record);
    await second.store.close();
    expect(coded(second.logs, "UJR_HISTORY_WRITE_FAILED")).toEqual([]);
    expect(coded(second.logs, "UJR_HISTORY_NOT_WRITTEN").map((line) => [line.level, line.msg])).toEqual([
      [
        50,
        `The run history ${file} could not be written before the runner stopped (attempt to write a readonly database): 10 run(s) and 0 job event(s) are not in it. Check that the file and its folder are writable and that no other program holds it locked.`,
      ],
    ]);
  });

  it("with writer: thread, a batch the thread could not write is kept and written in order once it can", async () => {
    const { store, logs } = open({ writer: "thread" });
    const long = run({ runId: "long", outcome: "running", endedAt: undefined, durationMs: undefined, code: undefined, message: undefined });
    store.recordRun(long);
    await store.settled();
    const blocker = new Database(file);
    blocker.exec("CREATE TRIGGER full BEFORE INSERT ON run_batches BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END");
    for (const record of failedRuns(0, 50)) store.recordRun(record);
    Object.assign(long, { outcome: "done", endedAt: T + 5, durationMs: 5 });
    store.recordRun(long);
    await store.settled();
    for (const record of failedRuns(50, 50)) store.recordRun(record);
    await store.settled();
    expect(coded(logs, "UJR_HISTORY_WRITE_FAILED").map((line) => line.msg)).toEqual([expect.stringContaining("(database or disk is full). 51 run(s) and 0 job event(s) wait in memory")]);

    blocker.exec("DROP TRIGGER full");
    blocker.close();
    await store.settled();
    expect(store.jobSummaries()).toEqual([expect.objectContaining({ runs: 101, done: 1, failures: 100 })]);
    expect(store.runs({ limit: 1000, outcomes: ["running"] })).toEqual([]);
    await store.close();
  });
});

describe("opening a history where it cannot be set up", () => {
  it("removes the file the open created and could not initialise, and keeps what was there before", () => {
    // SQLite cannot make its -wal beside the new file: the open fails after creating it, as on a full disk
    mkdirSync(`${file}-wal`);
    expect(() => HistoryStore.open({ file })).toThrow(expect.objectContaining({ code: "UJR_HISTORY_OPEN_FAILED", message: expect.stringContaining(`The run history ${file} could not be opened: disk I/O error.`) }));
    expect(existsSync(file)).toBe(false);
    expect(statSync(`${file}-wal`).isDirectory()).toBe(true);

    // a file that was there before is never removed
    writeFileSync(file, "");
    expect(() => HistoryStore.open({ file })).toThrow(expect.objectContaining({ code: "UJR_HISTORY_OPEN_FAILED" }));
    expect(existsSync(file)).toBe(true);
  });

  it("a file where its folder should be: UJR_HISTORY_OPEN_FAILED, not an internal error from cleaning up", () => {
    const blocker = join(dirname(file), "a-file");
    writeFileSync(blocker, "");
    const under = join(blocker, "_history.sqlite");
    expect(() => HistoryStore.open({ file: under })).toThrow(expect.objectContaining({ code: "UJR_HISTORY_OPEN_FAILED", message: expect.stringContaining(`The run history ${under} could not be opened`) }));
  });

  // runner.history.file under /proc, whose mkdir answers ENOENT though /proc exists: Node
  // 20's recursive mkdir spun there for ever at 100% CPU, deaf to SIGTERM. In a child process
  // killed with SIGKILL at the bound, so that the old behaviour fails the test, not the suite.
  it("a file under a kernel filesystem (/proc): UJR_HISTORY_OPEN_FAILED naming it, not a hang", async (ctx) => {
    needsProcFolders(ctx.skip);
    const store = new URL("../dist/history-store.js", import.meta.url).href;
    const script = `
      const { HistoryStore } = await import(${JSON.stringify(store)});
      try { HistoryStore.open({ file: "/proc/ujr-history/_history.sqlite" }); console.log(JSON.stringify({ opened: true })); }
      catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }`;
    const { stdout } = await promisify(execFile)(process.execPath, ["--input-type=module", "-e", script], { timeout: 20_000, killSignal: "SIGKILL", encoding: "utf8" });
    const result = JSON.parse(stdout) as { code?: string; message?: string };
    expect(result.code).toBe("UJR_HISTORY_OPEN_FAILED");
    expect(result.message).toContain("The run history /proc/ujr-history/_history.sqlite could not be opened: its folder cannot be made: /proc is on a filesystem of the kernel");
    expect(result.message).toContain("mkdir '/proc/ujr-history'");
  }, 30_000);
});
