import { afterEach, describe, expect, it, vi } from "vitest";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { JobDone, JobFailed, registerSecret, type Job, type Task } from "../index.js";
import { collectTasks, createTestContext, runJob, runTask, type TestContext } from "./index.js";
import { flaky, notClonable, slowIo, tick, waitForAbort } from "./__fixtures__/clock-tasks.js";

let ctx: TestContext | undefined;
afterEach(async () => {
  vi.useRealTimers();
  await ctx?.cleanup();
  ctx = undefined;
});

/** Ticks `count` times, one tick per hour (nextCheck), then is done. */
class HourlyJob implements Job {
  nextCheck: number | undefined;
  ticks: Array<{ n: number; at: number }> = [];
  constructor(readonly name: string, readonly stateDir: string, readonly count: number) {}
  getRunnableTasks(): Task[] {
    if (this.ticks.length >= this.count) throw new JobDone();
    return [tick.with({ stateDir: this.stateDir, n: this.ticks.length + 1 }, { signature: String(this.ticks.length + 1) })];
  }
  onTaskDone(_task: Task, result: unknown): void {
    const value = result as { n: number; at: number };
    this.ticks.push(value);
    this.nextCheck = value.at + 3_600_000;
  }
}

describe("createTestContext", () => {
  it("gives a job a temporary state folder, a name and a capturing, redacting logger", async () => {
    ctx = createTestContext({ name: "greeter" });
    expect(ctx.name).toBe("greeter");
    expect(ctx.configDir).toBe(ctx.stateDir);
    await runTask(tick, { stateDir: ctx.stateDir, n: 1 });
    expect(await readFile(join(ctx.stateDir, "ticks.txt"), "utf8")).toBe("1\n");
    registerSecret("s3cr3t-value");
    ctx.logger.info({ header: "Bearer s3cr3t-value" }, "calling");
    expect(ctx.logs).toEqual([expect.objectContaining({ msg: "calling", header: "Bearer [redacted]" })]);
  });

  it("removes only the folder it made", async () => {
    const own = createTestContext();
    await own.cleanup();
    await expect(readFile(join(own.stateDir, "x"))).rejects.toMatchObject({ code: "ENOENT" });
  });
});

describe("runTask", () => {
  it("runs a definition with a fake context and records progress and logs", async () => {
    ctx = createTestContext();
    const { result, progress, logs } = await runTask(tick, { stateDir: ctx.stateDir, n: 3 }, { attempt: 2, job: "j" });
    expect(result).toMatchObject({ n: 3, attempt: 2 });
    expect(progress).toEqual([{ done: 3, message: "tick 3" }]);
    expect(logs).toEqual([expect.objectContaining({ msg: "ticked", n: 3, job: "j" })]);
  });

  it("runs a task a job emitted, importing its module by reference", async () => {
    ctx = createTestContext();
    const { tasks } = await collectTasks(new HourlyJob("h", ctx.stateDir, 1));
    const { result } = await runTask<{ n: number }>(tasks[0]!);
    expect(result.n).toBe(1);
  });

  it("rethrows the task's error for checks by code, and passes the abort signal", async () => {
    await expect(runTask(flaky, { failUntil: 2 })).rejects.toMatchObject({ code: "FIXTURE_FLAKY" });
    await expect(runTask(flaky, { failUntil: 2 }, { attempt: 2 })).resolves.toMatchObject({ result: { attempt: 2 } });
    const controller = new AbortController();
    const running = runTask(waitForAbort, {}, { signal: controller.signal });
    controller.abort();
    await expect(running).rejects.toMatchObject({ code: "UJR_TASK_CANCELLED" });
  });

  it("refuses results that could not cross a process boundary", async () => {
    await expect(runTask(notClonable, undefined)).rejects.toMatchObject({ code: "UJR_TASK_RESULT_NOT_CLONABLE" });
  });
});

describe("collectTasks", () => {
  it("shows what a job would run now, and JobDone as done", async () => {
    ctx = createTestContext();
    const job = new HourlyJob("h", ctx.stateDir, 0);
    expect(await collectTasks(job)).toEqual({ tasks: [], done: true });
    const two = new HourlyJob("h", ctx.stateDir, 2);
    const { tasks, done } = await collectTasks(two);
    expect(done).toBe(false);
    expect(tasks.map((task) => [task.ref.export, task.signature])).toEqual([["tick", "1"]]);
  });
});

describe("runJob with fake time", () => {
  it("jumps over nextCheck waits under vi.useFakeTimers()", async () => {
    ctx = createTestContext();
    const start = Date.parse("2030-01-01T00:00:00Z");
    vi.useFakeTimers({ now: start });
    const job = new HourlyJob("hourly", ctx.stateDir, 3);
    const result = await runJob(job);
    expect(result.reason).toBe("done");
    expect(result.done).toHaveLength(3);
    expect(job.ticks.map((t) => t.at - start)).toEqual([0, 3_600_000, 7_200_000]);
    expect(result.timeJumps).toBeGreaterThanOrEqual(2);
    expect(result.progress.map((event) => event.progress.message)).toEqual(["tick 1", "tick 2", "tick 3"]);
    expect(await readFile(join(ctx.stateDir, "ticks.txt"), "utf8")).toBe("1\n2\n3\n");
  });

  it("does not move fake time while a task is busy with real work (a task timeout of 10 s is not reached by 300 real ms)", async () => {
    const start = Date.parse("2030-01-01T00:00:00Z");
    vi.useFakeTimers({ now: start });
    const ats: number[] = [];
    const job: Job = {
      name: "slow-io",
      nextCheck: undefined,
      getRunnableTasks() {
        if (ats.length >= 3) throw new JobDone();
        return [slowIo.with({ ms: 300 }, { signature: String(ats.length), timeoutMs: 10_000 })];
      },
      onTaskDone(_task, result) {
        ats.push((result as { at: number }).at);
        this.nextCheck = (result as { at: number }).at + 3_600_000;
      },
    };
    const result = await runJob(job);
    expect(result.failed).toEqual([]);
    expect(result.reason).toBe("done");
    expect(ats.map((at) => at - start)).toEqual([0, 3_600_000, 7_200_000]);
  }, 20_000);

  it("retries with backoff in fake time, and does not retry errors with retryable: false", async () => {
    vi.useFakeTimers();
    const once = (task: Task): Job => {
      let finished = false;
      return {
        name: "once",
        getRunnableTasks: () => {
          if (finished) throw new JobDone();
          return [task];
        },
        onTaskDone: () => void (finished = true),
        onTaskFailed: () => void (finished = true),
      };
    };
    const retried = await runJob(once(flaky.with({ failUntil: 3 }, { retry: { attempts: 5, baseMs: 60_000 } })));
    expect(retried.retried).toHaveLength(2);
    expect(retried.done[0]?.result).toEqual({ attempt: 3 });
    const final = await runJob(once(flaky.with({ failUntil: 3, retryable: false }, { retry: { attempts: 5, baseMs: 60_000 } })));
    expect(final.retried).toHaveLength(0);
    expect(final.failed[0]?.error.code).toBe("FIXTURE_FLAKY");
  });

  it("times a task out in fake time, and stops a job that never finishes", async () => {
    vi.useFakeTimers();
    let asked = false;
    const timeout = await runJob({
      name: "slow",
      getRunnableTasks() {
        if (asked) throw new JobDone();
        asked = true;
        return [waitForAbort.with({}, { timeoutMs: 10_000 })];
      },
    });
    expect(timeout.failed[0]?.error.code).toBe("UJR_TASK_TIMEOUT");
    ctx = createTestContext();
    const forever: Job = { name: "forever", nextCheck: undefined, getRunnableTasks() {
      this.nextCheck = Date.now() + 60_000;
      return [];
    } };
    const stopped = await runJob(forever, { stopAfterMs: 3_600_000 });
    expect(stopped.reason).not.toBe("done");
    expect(stopped.checks).toBeGreaterThanOrEqual(60);
  });
});

describe("runJob and jobs with private state", () => {
  it("works with getters and methods that use #private fields", async () => {
    vi.useFakeTimers();
    class Private implements Job {
      readonly name = "private";
      #next: number | undefined;
      #runs = 0;
      get nextCheck() {
        return this.#next;
      }
      getRunnableTasks(): Task[] {
        if (this.#runs >= 2) throw new JobDone();
        return [flaky.with({ failUntil: 0 }, { signature: String(this.#runs) })];
      }
      onTaskDone() {
        this.#runs++;
        this.#next = Date.now() + 1_000;
      }
    }
    expect((await runJob(new Private())).done).toHaveLength(2);
  });
});

describe("runJob: the reason says how the job ended", () => {
  it('a job that throws JobFailed ends with reason "failed" and its error, not "done"', async () => {
    ctx = createTestContext();
    const stateDir = ctx.stateDir;
    let asked = 0;
    const job: Job = {
      name: "giving-up",
      getRunnableTasks() {
        if (asked++ === 0) return [tick.with({ stateDir, n: 1 })];
        throw new JobFailed("the source is gone");
      },
    };
    const result = await runJob(job);
    expect(result.reason).toBe("failed");
    expect(result.failedJobs).toEqual(["giving-up"]);
    expect(result.jobFailure).toMatchObject({ message: expect.stringContaining("the source is gone") });
    expect(result.done).toHaveLength(1);
  });
});
