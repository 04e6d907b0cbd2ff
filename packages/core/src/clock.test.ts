/**
 * The runner across wall-clock jumps: `vi.setSystemTime` moves the wall clock (Date) alone,
 * as NTP stepping the clock or a user setting it does; `performance.now()` goes on.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { InProcessExecutor } from "./in-process-executor.js";
import { Runner } from "./runner.js";
import { JobDone, type Job } from "./job.js";
import { fixtureTask, ListJob } from "./__fixtures__/jobs.js";
import { deadlineAtWall, deadlineIn, deadlineReached, msUntil } from "./clock.js";
// @ts-expect-error plain JS fixture
import { gate } from "./__fixtures__/tasks.mjs";

const T0 = Date.parse("2030-03-01T08:00:00Z");
const HOUR = 3_600_000;

afterEach(() => {
  vi.useRealTimers();
});

/** A job that asks to be asked again `everyMs` after each ask, done at its `asks`-th. */
function pollingJob(everyMs: number, asks: number) {
  const job = {
    name: "poller",
    asked: [] as number[],
    nextCheck: undefined as number | undefined,
    getRunnableTasks() {
      job.asked.push(Date.now());
      if (job.asked.length >= asks) throw new JobDone();
      job.nextCheck = Date.now() + everyMs;
      return [];
    },
  };
  return job satisfies Job;
}

describe("deadlines on two clocks", () => {
  it("come when either clock says so", () => {
    const d = deadlineIn(30_000, T0, 500);
    expect(deadlineReached(d, T0 + 29_999, 500 + 29_999)).toBe(false);
    expect(deadlineReached(d, T0 - HOUR, 500 + 30_000)).toBe(true); // wall set back: the monotonic side comes
    expect(deadlineReached(d, T0 + 2 * HOUR, 501)).toBe(true); // the machine slept: the wall side comes
    expect(msUntil(d, T0 - HOUR, 500 + 10_000)).toBe(20_000);
  });

  it("keep a wall time a job gave to the millisecond while the clocks agree", () => {
    const d = deadlineAtWall(T0 + 60_000, 1_000, T0, 0);
    expect(msUntil(d, T0, 0)).toBe(60_000);
    expect(deadlineReached(d, T0 + 59_999, 59_999)).toBe(false);
    expect(deadlineReached(d, T0 + 60_000, 60_000)).toBe(true);
  });
});

describe("the runner across wall-clock jumps", () => {
  it("asks a job again when the wait it asked for is over, though the clock was set back an hour meanwhile", async () => {
    vi.useFakeTimers({ now: T0 });
    const job = pollingJob(30_000, 3);
    const runner = new Runner({ executor: new InProcessExecutor(), jobs: [job], checkInterval: 10 * 60_000 });
    const done = runner.run();
    await vi.advanceTimersByTimeAsync(0);
    expect(job.asked).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(10_000);
    vi.setSystemTime(Date.now() - HOUR);
    // 30 s after the ask (and the second of grace a wall time gets), not an hour and 30 s
    await vi.advanceTimersByTimeAsync(21_000);
    expect(job.asked).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(30_000);
    await expect(done).resolves.toMatchObject({ reason: "done" });
    expect(job.asked).toHaveLength(3);
  });

  it("asks a job at the wall time it gave when the machine slept past it (the wall clock ahead, the monotonic one not)", async () => {
    vi.useFakeTimers({ now: T0 });
    let asked = 0;
    const job: Job = {
      name: "daily",
      nextCheck: T0 + HOUR, // a report at 09:00
      getRunnableTasks() {
        asked++;
        throw new JobDone();
      },
    };
    const runner = new Runner({ executor: new InProcessExecutor(), jobs: [job], checkInterval: 60_000 });
    const done = runner.run();
    await vi.advanceTimersByTimeAsync(1_000);
    vi.setSystemTime(T0 + 2 * HOUR);
    // the runner looks again within its checkInterval, and the wall time has come
    await vi.advanceTimersByTimeAsync(60_000);
    expect(asked).toBe(1);
    await expect(done).resolves.toMatchObject({ reason: "done" });
  });

  it("ends a job's backoff after its length, though the clock was set back meanwhile", async () => {
    vi.useFakeTimers({ now: T0 });
    let asked = 0;
    const job: Job = {
      name: "flaky-ask",
      getRunnableTasks() {
        asked++;
        if (asked === 1) throw new Error("database is locked");
        throw new JobDone();
      },
    };
    const runner = new Runner({ executor: new InProcessExecutor(), jobs: [job], jobErrorBackoff: { baseMs: 5_000, maxMs: 5_000 }, checkInterval: 10 * 60_000 });
    const done = runner.run();
    await vi.advanceTimersByTimeAsync(0);
    expect(asked).toBe(1);
    vi.setSystemTime(Date.now() - HOUR);
    expect(runner.snapshot().jobs[0]!.backoffUntil).toBe(new Date(Date.now() + 5_000).toISOString());
    await vi.advanceTimersByTimeAsync(5_000);
    expect(asked).toBe(2);
    await expect(done).resolves.toMatchObject({ reason: "done" });
  });

  it("measures a task's duration and the runner's uptime on the monotonic clock: never negative when the clock goes back", async () => {
    vi.useFakeTimers({ now: T0 });
    const job = new ListJob("one", [fixtureTask("waitForGate", { key: "clock-duration" }, { signature: "w" })]);
    const runner = new Runner({ executor: new InProcessExecutor(), jobs: [job] });
    const durations: number[] = [];
    runner.on("task:done", (event) => durations.push(event.durationMs));
    const done = runner.run();
    await vi.advanceTimersByTimeAsync(2_000);
    vi.setSystemTime(Date.now() - HOUR);
    await vi.advanceTimersByTimeAsync(3_000);
    const snapshot = runner.snapshot();
    expect(snapshot.uptimeMs).toBe(5_000);
    expect(snapshot.running[0]!.elapsedMs).toBe(5_000);
    (gate("clock-duration") as { open: () => void }).open();
    await vi.advanceTimersByTimeAsync(0);
    await expect(done).resolves.toMatchObject({ reason: "done" });
    expect(durations).toEqual([5_000]);
  });
});
