import { afterEach, describe, expect, it, vi } from "vitest";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { awakeMark, awakeMsSince, awakeTimeout, watchStalls } from "./awake-time.js";

afterEach(() => {
  vi.restoreAllMocks();
  vi.useRealTimers();
});

describe("awake time", () => {
  it("leaves out a gap the process spent stopped (no CPU used), and counts one it spent busy", () => {
    vi.useFakeTimers();
    let cpuMicros = 0;
    vi.spyOn(process, "cpuUsage").mockImplementation(() => ({ user: cpuMicros, system: 0 }));
    const stop = watchStalls();
    const mark = awakeMark();
    vi.advanceTimersByTime(3_000);
    expect(awakeMsSince(mark)).toBe(3_000);
    // stopped for a minute: the clock moved, no timer ran, no CPU was used
    const now = performance.now();
    vi.spyOn(performance, "now").mockReturnValue(now + 60_000);
    expect(awakeMsSince(mark)).toBeLessThan(3_000 + 1_000 + 1);
    // the same gap with the CPU busy all along: awake
    cpuMicros += 60_000 * 1000;
    expect(awakeMsSince(mark)).toBeGreaterThanOrEqual(63_000);
    stop();
  });

  it("awakeTimeout: aborts after its time with the reason given, and leaves out a stop of the process", () => {
    vi.useFakeTimers();
    vi.spyOn(process, "cpuUsage").mockImplementation(() => ({ user: 0, system: 0 }));
    const plain = awakeTimeout(30_000, () => new Error("no answer within 30000 ms"));
    vi.advanceTimersByTime(29_999);
    expect(plain.signal.aborted).toBe(false);
    // its time is up; the check runs just after what arrived meanwhile is read (setImmediate)
    vi.advanceTimersByTime(2);
    expect((plain.signal.reason as Error).message).toBe("no answer within 30000 ms");

    const stopped = awakeTimeout(30_000, () => new Error("timeout"));
    vi.advanceTimersByTime(10_000);
    // stopped for 3 minutes 10 s into it (the monotonic clock ran on, no timer and no CPU did)
    const frozenAt = performance.now();
    const realNow = performance.now.bind(performance);
    vi.spyOn(performance, "now").mockImplementation(() => realNow() + 180_000);
    expect(performance.now()).toBe(frozenAt + 180_000);
    vi.advanceTimersByTime(19_999);
    expect(stopped.signal.aborted).toBe(false);
    vi.advanceTimersByTime(2);
    expect(stopped.signal.aborted).toBe(true);
  });

  it("awakeTimeout: stops when cleared, and leaves no timer behind", () => {
    vi.useFakeTimers();
    const t = awakeTimeout(1_000, () => new Error("timeout"));
    vi.advanceTimersByTime(500);
    t.clear();
    vi.advanceTimersByTime(5_000);
    expect(t.signal.aborted).toBe(false);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("lets a task stopped with its runner (kill -STOP, then CONT) finish instead of timing it out", async () => {
    const child = spawn(process.execPath, [fileURLToPath(new URL("./__fixtures__/stopped-runner.mjs", import.meta.url))], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let stderr = "";
    child.stderr.on("data", (chunk) => (stderr += chunk));
    const ended = new Promise<number | null>((resolve) => child.on("close", resolve));
    await new Promise<void>((resolve) => {
      child.stdout.on("data", (chunk) => {
        out += chunk;
        if (out.includes("started\n")) resolve();
      });
    });
    // stopped past the task's 3 s timeout, with up to 1.2 s of its steps still to run (up to
    // a second of the stop, before the ticker's next tick was due, counts as awake: the margin)
    child.kill("SIGSTOP");
    await new Promise((resolve) => setTimeout(resolve, 4_000));
    child.kill("SIGCONT");
    expect(await ended, stderr).toBe(0);
    const tasks = JSON.parse(out.trim().split("\n").at(-1)!);
    expect(tasks).toMatchObject({ done: 1, failed: 0, timedOut: 0, retried: 0 });
  }, 30_000);
});
