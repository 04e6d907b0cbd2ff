import { describe, expect, it } from "vitest";
import type { RunnerSnapshot } from "@ujr/core";
import { formatElapsed, formatProgress, renderStatus } from "./status-view.js";
import { startLiveView, wantsLiveView } from "./live-view.js";
import { captureStream } from "./__fixtures__/capture-stream.js";

const now = Date.parse("2025-01-01T12:00:00.000Z");
const at = (offsetMs: number) => new Date(now + offsetMs).toISOString();
const counters = (done: number, failed: number) => ({ started: done + failed, done, failed, timedOut: 0, retried: 0, cancelled: 0 });

const snapshot: RunnerSnapshot = {
  state: "running",
  startedAt: at(-125_000),
  jobs: [
    { name: "tidy", status: "active", nextCheck: at(25_000), running: 0, queued: 0, waitingRetry: 0, counters: counters(12, 0) },
    { name: "collector", status: "active", running: 2, queued: 0, waitingRetry: 1, counters: counters(120, 3) },
    { name: "summary", status: "active", backoffUntil: at(4_000), running: 0, queued: 0, waitingRetry: 0, counters: counters(0, 0), lastError: { name: "Error", message: "database is locked\nat ..." } },
  ],
  running: [
    { runId: "r1", job: "collector", task: "@ujr/plugin-twitter-collector/tasks#fetchPage", signature: "page-7", attempt: 1, startedAt: at(-72_000), progress: { done: 45, total: 100, message: "page 12" } },
    { runId: "r2", job: "collector", task: "file:///home/me/tasks.mjs#resolveUrls", attempt: 2, startedAt: at(-500) },
    { runId: "r3", job: "collector", task: "file:///home/me/tasks.mjs#archive", attempt: 1, startedAt: at(-3_000), progress: { message: "compressing" } },
  ],
  totals: { started: 140, done: 132, failed: 3, timedOut: 0, retried: 1, cancelled: 0 },
  executor: { size: 6, free: 4 },
  queueDepth: 1,
};

describe("renderStatus (a pure function of the snapshot)", () => {
  it("shows each job's state, next check and task counts, and the progress of long tasks", () => {
    expect(renderStatus(snapshot, 120, { now })).toBe(
      [
        "ujr running · up 2m 05s · 3 jobs · 2/6 slots busy · done 132 · failed 3 · retried 1 · waiting retry 1",
        "JOB        STATE    NEXT CHECK  RUNNING  DONE  FAILED",
        "collector  active   now            2+1r   120       3",
        "summary    backoff  in 4.0s           0     0       0",
        "tidy       active   in 25s            0    12       0",
        "  summary: database is locked",
        "",
        "  collector  tasks#fetchPage page-7    1m 12s  [####------] 45/100 45% page 12",
        "  collector  tasks.mjs#archive           3.0s  compressing",
      ].join("\n"),
    );
  });

  it("takes uptime and a task's running time from the runner's monotonic counts: right after the wall clock was set back", () => {
    // the clock went back an hour: the wall times are in the future, the runner's counts are not
    const setBack: RunnerSnapshot = {
      ...snapshot,
      startedAt: at(3_600_000 - 125_000),
      uptimeMs: 125_000,
      running: [{ ...snapshot.running[0]!, startedAt: at(3_600_000 - 72_000), elapsedMs: 72_000 }],
    };
    const text = renderStatus(setBack, 120, { now });
    expect(text).toContain("up 2m 05s");
    expect(text).toContain("tasks#fetchPage page-7    1m 12s");
  });

  it("never writes a line wider than the terminal", () => {
    for (const width of [20, 40, 63]) {
      for (const line of renderStatus(snapshot, width, { now }).split("\n")) expect(line.length).toBeLessThanOrEqual(width);
    }
  });

  it("an idle runner without jobs, and more running tasks than fit", () => {
    expect(renderStatus({ ...snapshot, state: "idle", startedAt: undefined, jobs: [], running: [], totals: counters(0, 0), executor: { size: 4, free: 4 }, queueDepth: 0 }, 80, { now })).toBe(
      "ujr idle · 0 jobs · 0/4 slots busy · done 0 · failed 0\nno jobs",
    );
    const many = { ...snapshot, running: Array.from({ length: 5 }, (_, index) => ({ ...snapshot.running[0]!, runId: `r${index}`, signature: `s${index}` })) };
    const text = renderStatus(many, 120, { now, maxTasks: 2 });
    expect(text.split("\n").filter((line) => line.includes("fetchPage"))).toHaveLength(2);
    expect(text).toContain("… and 3 more running");
  });

  it("formats durations and progress", () => {
    expect([formatElapsed(1234), formatElapsed(45_000), formatElapsed(185_000), formatElapsed(7_260_000)]).toEqual(["1.2s", "45s", "3m 05s", "2h 01m"]);
    expect(formatProgress({ done: 3, total: 4 })).toBe("[#######---] 3/4 75%");
    expect(formatProgress({ done: 7 })).toBe("7 done");
    expect(formatProgress({ message: "working" })).toBe("working");
  });
});

const fakeTerminal = () => captureStream({ isTTY: true, columns: 80, rows: 30 });

describe("live view", () => {
  it("is on in a TTY only, and off with --no-tty, under CI or on a dumb terminal", () => {
    expect(wantsLiveView({ isTTY: true, write: () => true }, { env: {} })).toBe(true);
    expect(wantsLiveView({ isTTY: false, write: () => true }, { env: {} })).toBe(false);
    expect(wantsLiveView({ isTTY: true, write: () => true }, { noTty: true, env: {} })).toBe(false);
    expect(wantsLiveView({ isTTY: true, write: () => true }, { env: { CI: "true" } })).toBe(false);
    expect(wantsLiveView({ isTTY: true, write: () => true }, { env: { CI: "false" } })).toBe(true);
    expect(wantsLiveView({ isTTY: true, write: () => true }, { env: { TERM: "dumb" } })).toBe(false);
  });

  it("draws the view, prints whole log lines above it and redraws it under them", () => {
    const terminal = fakeTerminal();
    const originalWrite = terminal.stream.write;
    let current: RunnerSnapshot = { ...snapshot, running: [] };
    const view = startLiveView({ stream: terminal.stream, snapshot: () => current, now: () => now });
    const frame = renderStatus(current, 79, { now });
    const frameLines = frame.split("\n").length;
    expect(terminal.chunks).toEqual([`${frame}\n`]);

    terminal.stream.write("a log line\n");
    expect(terminal.chunks[1]).toBe(`\r\x1b[${frameLines}A\x1b[0Ja log line\n${frame}\n`);
    // A partial line waits for its end: the view is never drawn in the middle of it.
    terminal.stream.write("half ");
    expect(terminal.chunks).toHaveLength(2);
    terminal.stream.write("a line\nand a rest");
    expect(terminal.chunks[2]).toBe(`\r\x1b[${frameLines}A\x1b[0Jhalf a line\n${frame}\n`);

    view.refresh(); // nothing changed: nothing written
    expect(terminal.chunks).toHaveLength(3);
    current = { ...snapshot, state: "stopped", jobs: [], running: [] };
    view.stop();
    const last = renderStatus(current, 79, { now });
    expect(terminal.chunks[3]).toBe(`\r\x1b[${frameLines}A\x1b[0J${last}\n`);
    expect(terminal.chunks.slice(4).join("")).toBe(`\r\x1b[${last.split("\n").length}A\x1b[0Jand a rest\n${last}\n`);
    expect(terminal.stream.write).toBe(originalWrite);
  });
});
