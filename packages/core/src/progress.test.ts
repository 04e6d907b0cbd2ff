import { describe, expect, it } from "vitest";
import { InProcessExecutor } from "./in-process-executor.js";
import { Runner } from "./runner.js";
import { JobDone, type Job } from "./job.js";
import { makeTask, normaliseProgress, type TaskProgress } from "./task.js";
import type { TaskProgressEvent } from "./events.js";

const fixtures = new URL("./__fixtures__/progress-tasks.mjs", import.meta.url).href;

describe("task progress", () => {
  it("reaches the runner through the executor's progress listener: task:progress events and snapshot().running[].progress", async () => {
    let open!: () => void;
    (globalThis as Record<string, unknown>).__ujrProgressGate = new Promise<void>((resolve) => (open = resolve));
    let asked = false;
    const job: Job = {
      name: "p",
      getRunnableTasks() {
        if (asked) throw new JobDone();
        asked = true;
        return [makeTask({ module: fixtures, export: "reportThenWait" }, { reports: [{ done: 1, total: 4 }, "junk", { done: 2, total: 4, message: "half", extra: () => 1 }] }, { signature: "s" })];
      },
    };
    const executor = new InProcessExecutor({ size: 1 });
    const runner = new Runner({ executor, jobs: [job] });
    expect(executor.onProgress).toBeTypeOf("function");
    const events: TaskProgressEvent[] = [];
    let snapshotProgress: TaskProgress | undefined;
    runner.on("task:progress", (event) => {
      events.push(event);
      if (event.progress.done === 2) {
        snapshotProgress = runner.snapshot().running[0]?.progress;
        open();
      }
    });
    const result = await runner.run();
    expect(result.tasks.done).toBe(1);
    expect(events.map((event) => event.progress)).toEqual([{ done: 1, total: 4 }, { done: 2, total: 4, message: "half" }]);
    expect(events[0]).toMatchObject({ job: "p", signature: "s", attempt: 1 });
    expect(snapshotProgress).toEqual({ done: 2, total: 4, message: "half" });
  });

  it("normaliseProgress keeps plain, finite fields only", () => {
    expect(normaliseProgress({ done: 1, total: Infinity, message: "x".repeat(300), other: 1 })).toEqual({ done: 1, message: "x".repeat(200) });
    expect(normaliseProgress({ done: "1" })).toBeUndefined();
    expect(normaliseProgress(null)).toBeUndefined();
  });
});
