import { afterEach, describe, expect, it, vi } from "vitest";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { JobDone, makeTask, type Job, type TaskProgressEvent } from "@ujr/core";
import { LocalJobsRunner } from "./local-runner.js";
import type { Isolation } from "./tinypool-executor.js";
import { throttleProgress } from "./worker-progress.js";

const fixtures = new URL("./__fixtures__/progress-tasks.mjs", import.meta.url).href;

function oneTaskJob(name: string, args: unknown): Job {
  let done = false;
  return {
    name,
    getRunnableTasks() {
      if (done) throw new JobDone();
      return [makeTask({ module: fixtures, export: "reportThenWait" }, args, { signature: "only" })];
    },
    onTaskDone() {
      done = true;
    },
    onTaskFailed() {
      done = true;
    },
  };
}

for (const isolation of ["thread", "process"] as Isolation[]) {
  describe(`progress from pool workers (${isolation})`, () => {
    it("reaches the runner as task:progress events and shows in snapshot().running[].progress, throttled, keeping the last", async () => {
      const dir = mkdtempSync(join(tmpdir(), "ujr-progress-"));
      const marker = join(dir, "go");
      try {
        const steps = 50;
        const runner = new LocalJobsRunner({ jobs: [oneTaskJob("progressive", { steps, marker })], workers: 1, isolation, handleSignals: false, logLevel: "silent" });
        const events: TaskProgressEvent[] = [];
        let seenInSnapshot: unknown;
        runner.on("task:progress", (event) => {
          events.push(event);
          if (event.progress.done === steps) {
            seenInSnapshot = runner.snapshot().running.find((task) => task.runId === event.runId)?.progress;
            writeFileSync(marker, "go");
          }
        });
        const result = await runner.run();
        expect(result.tasks.done).toBe(1);
        expect(seenInSnapshot).toEqual({ done: steps, total: steps, message: `step ${steps}` });
        // The first report goes out at once; the 49 that follow within 100 ms collapse into the last.
        expect(events[0]?.progress).toEqual({ done: 1, total: steps, message: "step 1" });
        expect(events.length).toBeLessThanOrEqual(3);
        expect(events.at(-1)).toMatchObject({ job: "progressive", signature: "only", progress: { done: steps } });
        // Once the task is done it is no longer running, and its progress goes with it.
        expect(runner.snapshot().running).toEqual([]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }, 60_000);
  });
}

describe("throttleProgress", () => {
  afterEach(() => vi.useRealTimers());

  it("sends the first report at once, then at most one per interval, keeping the last", () => {
    vi.useFakeTimers();
    const sent: unknown[] = [];
    const throttle = throttleProgress((progress) => sent.push(progress), 100);
    throttle.report({ done: 1 });
    throttle.report({ done: 2 });
    throttle.report({ done: 3 });
    expect(sent).toEqual([{ done: 1 }]);
    vi.advanceTimersByTime(99);
    expect(sent).toEqual([{ done: 1 }]);
    vi.advanceTimersByTime(1);
    expect(sent).toEqual([{ done: 1 }, { done: 3 }]);
    vi.advanceTimersByTime(500);
    throttle.report({ done: 4 });
    expect(sent).toEqual([{ done: 1 }, { done: 3 }, { done: 4 }]);
  });

  it("drops a kept report when the task ends", () => {
    vi.useFakeTimers();
    const sent: unknown[] = [];
    const throttle = throttleProgress((progress) => sent.push(progress), 100);
    throttle.report({ done: 1 });
    throttle.report({ done: 2 });
    throttle.end();
    vi.advanceTimersByTime(1000);
    throttle.report({ done: 3 });
    expect(sent).toEqual([{ done: 1 }]);
  });
});
