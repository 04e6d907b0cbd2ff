import { afterEach, describe, expect, it, vi } from "vitest";
import { Writable } from "node:stream";
import { InProcessExecutor } from "./in-process-executor.js";
import { Runner, type JobChanges } from "./runner.js";
import { JobDone, JobFailed, type Job } from "./job.js";
import type { Task } from "./task.js";
import { createLogger } from "./logger.js";
import { fixtureModule, fixtureTask, ListJob } from "./__fixtures__/jobs.js";
import type { TaskFailure, TaskOutcome, TaskRun } from "./executor.js";
// @ts-expect-error plain JS fixture
import { gate } from "./__fixtures__/tasks.mjs";

const openGate = (key: string) => (gate(key) as { open: () => void }).open();

function capturedLogger() {
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk, _encoding, callback) {
      for (const line of chunk.toString().split("\n")) if (line) lines.push(JSON.parse(line));
      callback();
    },
  });
  return { logger: createLogger({ level: "debug", destination }), lines };
}

function runnerWith(jobs: Job[], options: Partial<ConstructorParameters<typeof Runner>[0]> = {}, size = 2) {
  const executor = new InProcessExecutor({ size });
  return new Runner({ executor, jobs, ...options });
}

afterEach(() => {
  vi.useRealTimers();
});

describe("Runner: the original runner's tests", () => {
  it("runs a job's tasks and stops when every job is done", async () => {
    const job = new ListJob("basic", [fixtureTask("echo", { n: 1 }, { signature: "1" }), fixtureTask("echo", { n: 2 }, { signature: "2" })]);
    const runner = runnerWith([job]);
    const result = await runner.run();
    expect(result.reason).toBe("done");
    expect(result.tasks.done).toBe(2);
    expect(job.results).toEqual(expect.arrayContaining([expect.objectContaining({ args: { n: 1 } }), expect.objectContaining({ args: { n: 2 } })]));
    expect(job.closed).toBe(true);
    expect(runner.state).toBe("stopped");
  });

  it("catches a task that throws, logs it with its job and task, and goes on", async () => {
    const { logger, lines } = capturedLogger();
    const job = new ListJob("mixed", [
      fixtureTask("boom", { message: "kaput", code: "E_KAPUT" }, { signature: "bad" }),
      fixtureTask("echo", { ok: true }, { signature: "good" }),
    ]);
    const runner = runnerWith([job], { logger });
    const result = await runner.run();
    expect(result.tasks).toMatchObject({ done: 1, failed: 1 });
    expect(job.failures).toEqual([expect.objectContaining({ message: "kaput", code: "E_KAPUT" })]);
    const logged = lines.find((line) => line.msg === "task failed");
    expect(logged).toMatchObject({ job: "mixed", signature: "bad", level: 50 });
    expect(String(logged?.task)).toMatch(/tasks\.mjs#boom$/);
  });

  it("runs every one of many tasks a job emits", async () => {
    const tasks = Array.from({ length: 200 }, (_, index) => fixtureTask("echo", { index }, { signature: String(index) }));
    const job = new ListJob("many", tasks);
    const result = await runnerWith([job], {}, 4).run();
    expect(result.tasks.done).toBe(200);
    const seen = job.results.map((result) => (result as { args: { index: number } }).args.index).sort((a, b) => a - b);
    expect(seen).toEqual(Array.from({ length: 200 }, (_, index) => index));
  });
});

describe("Runner: behaviours kept from the original", () => {
  it("does not start a task while an equal one (same job, code, signature) is running", async () => {
    let asked = 0;
    let finished = false;
    const same = () => fixtureTask("waitForGate", { key: "dedup-1" }, { signature: "same" });
    const job: Job = {
      name: "dedup",
      getRunnableTasks() {
        asked++;
        if (finished) throw new JobDone();
        // Asked again while the first copy runs: the copy must not start; then let it finish.
        if (asked === 2) queueMicrotask(() => openGate("dedup-1"));
        return [same(), same()];
      },
      onTaskDone() {
        finished = true;
      },
    };
    const runner = runnerWith([job], {}, 4);
    let started = 0;
    runner.on("task:started", () => {
      started++;
      runner.wake();
    });
    const result = await runner.run();
    expect(asked).toBeGreaterThanOrEqual(3);
    expect(started).toBe(1);
    expect(result.tasks.done).toBe(1);
  });

  it("counts all tasks of a job with the same code as one task when they have no signature", async () => {
    const job = new ListJob("nosig", [fixtureTask("waitForGate", { key: "nosig" }), fixtureTask("waitForGate", { key: "nosig-other" })]);
    const runner = runnerWith([job], {}, 4);
    const startedWhileFirstRuns: number[] = [];
    runner.on("task:started", () => {
      startedWhileFirstRuns.push(runner.snapshot().running.length);
      queueMicrotask(() => openGate("nosig"));
    });
    runner.on("task:done", () => openGate("nosig-other"));
    await runner.run();
    expect(Math.max(...startedWhileFirstRuns)).toBe(1);
  });

  it("never runs more than maxTasksPerJob tasks of a job at once; the rest start as earlier ones finish", async () => {
    const tasks = Array.from({ length: 6 }, (_, index) => fixtureTask("echo", { index }, { signature: String(index) }));
    const job = new ListJob("limited", tasks);
    const runner = runnerWith([job], { maxTasksPerJob: 2 }, 8);
    let peak = 0;
    runner.on("task:started", () => (peak = Math.max(peak, runner.snapshot().running.length)));
    const result = await runner.run();
    expect(result.tasks.done).toBe(6);
    expect(peak).toBe(2);
  });

  it("defaults maxTasksPerJob to the executor's size", async () => {
    const tasks = Array.from({ length: 10 }, (_, index) => fixtureTask("echo", { index }, { signature: String(index) }));
    const runner = runnerWith([new ListJob("pool", tasks)], {}, 3);
    let peak = 0;
    runner.on("task:started", () => (peak = Math.max(peak, runner.snapshot().running.length)));
    await runner.run();
    expect(peak).toBe(3);
  });

  it("does not ask a job for tasks while its nextCheck is in the future", async () => {
    vi.useFakeTimers({ now: 1_000_000 });
    let asked = 0;
    const job: Job = {
      name: "later",
      nextCheck: 1_000_000 + 5_000,
      getRunnableTasks() {
        asked++;
        throw new JobDone();
      },
    };
    const runner = runnerWith([job], { checkInterval: 60_000 });
    const done = runner.run();
    await vi.advanceTimersByTimeAsync(4_999);
    expect(asked).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(asked).toBe(1);
    await expect(done).resolves.toMatchObject({ reason: "done" });
  });

  it("removes a job that throws JobDone and reports it done", async () => {
    const reported: string[] = [];
    class ReportingRunner extends Runner {
      override async reportJobDone(job: Job) {
        reported.push(job.name);
      }
    }
    const job = new ListJob("finisher", [fixtureTask("echo", {}, { signature: "x" })]);
    const runner = new ReportingRunner({ executor: new InProcessExecutor(), jobs: [job] });
    const events: string[] = [];
    runner.on("job:done", (event) => events.push(event.job));
    await runner.run();
    expect(reported).toEqual(["finisher"]);
    expect(events).toEqual(["finisher"]);
    expect(runner.snapshot().jobs).toEqual([]);
  });

  it("reports every finished task with its result through reportTaskDone", async () => {
    const seen: unknown[] = [];
    class ReportingRunner extends Runner {
      override async reportTaskDone(job: Job, task: Task, result: unknown) {
        seen.push({ job: job.name, signature: task.signature, result });
        await super.reportTaskDone(job, task, result);
      }
    }
    const job = new ListJob("r", [fixtureTask("plainFunction", { value: 21 }, { signature: "p" })]);
    await new ReportingRunner({ executor: new InProcessExecutor(), jobs: [job] }).run();
    expect(seen).toEqual([{ job: "r", signature: "p", result: 42 }]);
    expect(job.results).toEqual([42]);
  });

  it("applies changed jobs: deleted jobs' tasks are cancelled, changed jobs are deleted and created again", async () => {
    const changes: JobChanges[] = [];
    class ChangingRunner extends Runner {
      protected override async getChangedJobs() {
        return changes.shift();
      }
    }
    const keeper = new ListJob("keeper", [fixtureTask("waitForGate", { key: "keeper" }, { signature: "k" })]);
    const doomed = new ListJob("doomed", [fixtureTask("waitForGate", { key: "never" }, { signature: "d" })]);
    const runner = new ChangingRunner({ executor: new InProcessExecutor(), jobs: [keeper, doomed] });
    const cancelled: string[] = [];
    const removed: string[] = [];
    runner.on("task:cancelled", (event) => cancelled.push(event.job));
    runner.on("job:removed", (event) => removed.push(event.job));
    const replacement = new ListJob("keeper", [fixtureTask("echo", { v: 2 }, { signature: "k2" })]);
    let step = 0;
    runner.on("task:started", () => {
      step++;
      if (step === 2) {
        changes.push({ remove: ["doomed"], add: [replacement] });
        runner.notifyJobsChanged();
      }
    });
    const result = await runner.run();
    expect(removed).toEqual(["doomed", "keeper"]);
    expect(cancelled.sort()).toEqual(["doomed", "keeper"]);
    expect(doomed.closed).toBe(true);
    expect(replacement.results).toEqual([expect.objectContaining({ args: { v: 2 } })]);
    expect(result.reason).toBe("done");
  });

  it("a job replaced while a try of its task is still stopping asks again once that try has ended, and starts the task", async () => {
    // An executor whose cancel takes effect later (a remote worker stopping the code).
    const late: Array<() => void> = [];
    class LateCancelExecutor extends InProcessExecutor {
      override cancel(runId: string, reason: Parameters<InProcessExecutor["cancel"]>[1]): void {
        late.push(() => super.cancel(runId, reason));
      }
    }
    const changes: JobChanges[] = [];
    class ChangingRunner extends Runner {
      protected override async getChangedJobs() {
        return changes.shift();
      }
    }
    // Same job name, same task identity (module#export and signature), another instance.
    const old = new ListJob("keeper", [fixtureTask("waitForGate", { key: "replaced-never" }, { signature: "k" })]);
    openGate("replaced-new");
    class Replacement extends ListJob {
      override getRunnableTasks() {
        // Its first answer comes while the old try still runs: the task is held back. Then the old try ends.
        if (this.asked === 0) setImmediate(() => late.splice(0).forEach((cancel) => cancel()));
        return super.getRunnableTasks();
      }
    }
    const replacement = new Replacement("keeper", [fixtureTask("waitForGate", { key: "replaced-new" }, { signature: "k" })]);
    // checkInterval is long: a replacement never asked again would wait for it.
    const runner = new ChangingRunner({ executor: new LateCancelExecutor(), jobs: [old], checkInterval: 600_000 });
    runner.once("task:started", () => {
      changes.push({ add: [replacement] });
      runner.notifyJobsChanged();
    });
    const result = await runner.run();
    expect(replacement.asked).toBeGreaterThanOrEqual(2);
    expect(replacement.results).toEqual(["replaced-new"]);
    expect(result).toMatchObject({ reason: "done", tasks: { done: 1, cancelled: 1 } });
  }, 10_000);

  it("logs a failing getChangedJobs and goes on", async () => {
    const { logger, lines } = capturedLogger();
    class BrokenSource extends Runner {
      protected override async getChangedJobs(): Promise<JobChanges> {
        throw new Error("config service down");
      }
    }
    const job = new ListJob("steady", [fixtureTask("echo", {}, { signature: "s" })]);
    const runner = new BrokenSource({ executor: new InProcessExecutor(), jobs: [job], logger });
    runner.notifyJobsChanged();
    const result = await runner.run();
    expect(result.tasks.done).toBe(1);
    expect(lines.some((line) => String(line.msg).includes("could not get changed jobs"))).toBe(true);
  });
});

describe("Runner: what the original lacked", () => {
  it("is event-driven: one-task-at-a-time jobs do not wait for checkInterval", async () => {
    vi.useFakeTimers();
    let emitted = 0;
    let running = false;
    const job: Job = {
      name: "serial",
      getRunnableTasks() {
        if (running) return [];
        if (emitted === 50) throw new JobDone();
        emitted++;
        running = true;
        return [fixtureTask("echo", { emitted }, { signature: String(emitted) })];
      },
      onTaskDone() {
        running = false;
      },
    };
    const runner = runnerWith([job], { checkInterval: 60_000 });
    const result = await runner.run(); // no timer is advanced: only task events move it
    expect(result.tasks.done).toBe(50);
  });

  it("backs off a job whose getRunnableTasks throws, and keeps running the others", async () => {
    const { logger, lines } = capturedLogger();
    const order: string[] = [];
    let calls = 0;
    const flakyJob: Job = {
      name: "flaky-job",
      getRunnableTasks() {
        calls++;
        order.push(`flaky ask ${calls}`);
        if (calls <= 2) throw new Error(`state unreadable ${calls}`);
        throw new JobDone();
      },
    };
    const healthy = new ListJob("healthy", [fixtureTask("echo", {}, { signature: "h" })]);
    const runner = runnerWith([flakyJob, healthy], { logger, jobErrorBackoff: { baseMs: 40, maxMs: 10_000 }, checkInterval: 60_000 });
    const backoffs: number[] = [];
    runner.on("job:error", (event) => backoffs.push(event.backoffMs));
    runner.on("task:done", () => order.push("healthy task done"));
    const started = Date.now();
    await expect(runner.run()).resolves.toMatchObject({ reason: "done" });
    expect(backoffs).toEqual([40, 80]);
    expect(order).toEqual(["flaky ask 1", "healthy task done", "flaky ask 2", "flaky ask 3"]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(120);
    expect(lines.filter((line) => line.job === "flaky-job" && line.level === 50)).toHaveLength(2);
  });

  it("times out a task and reports it as timed out", async () => {
    const job = new ListJob("slow", [fixtureTask("waitForGate", { key: "never-opened" }, { signature: "t", timeoutMs: 20 })]);
    const runner = runnerWith([job]);
    const timeouts: string[] = [];
    runner.on("task:timeout", (event) => timeouts.push(event.error.code ?? ""));
    const result = await runner.run();
    expect(timeouts).toEqual(["UJR_TASK_TIMEOUT"]);
    expect(result.tasks).toMatchObject({ failed: 1, timedOut: 1 });
    expect(job.failures[0]?.message).toMatch(/timed out after 20 ms/);
  });

  it("retries a failing task with exponential backoff and jitter, then succeeds", async () => {
    const job = new ListJob("retry", [fixtureTask("flaky", { key: "retry-1", failures: 2 }, { signature: "f", retry: { attempts: 3, baseMs: 20, jitter: 0.5 } })]);
    const runner = runnerWith([job], { random: () => 1 });
    const delays: Array<[number, number]> = [];
    runner.on("task:retry", (event) => delays.push([event.attempt, event.delayMs]));
    const result = await runner.run();
    // jitter 0.5 with random() = 1 takes half of 20, then half of 40.
    expect(delays).toEqual([[1, 10], [2, 20]]);
    expect(job.results).toEqual([{ attempt: 3, calls: 3 }]);
    expect(result.tasks).toMatchObject({ done: 1, retried: 2, failed: 0 });
  });

  it("gives up after the last attempt and reports the failure once", async () => {
    const job = new ListJob("giveup", [fixtureTask("flaky", { key: "giveup-1", failures: 5 }, { signature: "g", retry: { attempts: 2, baseMs: 1 } })]);
    const result = await runnerWith([job]).run();
    expect(result.tasks).toMatchObject({ failed: 1, retried: 1 });
    expect(job.failures).toHaveLength(1);
    expect(job.failures[0]?.message).toBe("flaky failure 2");
  });

  it("does not retry errors marked not retryable", async () => {
    const job = new ListJob("noretry", [fixtureTask("boom", { message: "bad query", retryable: false }, { signature: "n", retry: 3 })]);
    const runner = runnerWith([job]);
    let retries = 0;
    runner.on("task:retry", () => retries++);
    const result = await runner.run();
    expect(retries).toBe(0);
    expect(result.tasks.failed).toBe(1);
    expect(job.failures[0]).toMatchObject({ message: "bad query", retryable: false });
  });

  it("ends a job that throws JobFailed, lists it as failed, and keeps others running", async () => {
    const bad: Job = {
      name: "bad-token",
      getRunnableTasks() {
        throw new JobFailed("401 Unauthorized: check the bearer token");
      },
    };
    const good = new ListJob("good", [fixtureTask("echo", {}, { signature: "g" })]);
    const result = await runnerWith([bad, good]).run();
    expect(result.failedJobs).toEqual(["bad-token"]);
    expect(good.results).toHaveLength(1);
    // the job's verdict is its message: no stack of the job's own code in the run's last words
    expect(result.jobs["bad-token"]?.error).toEqual({ name: "JobFailed", code: "UJR_JOB_FAILED", message: "401 Unauthorized: check the bearer token" });
  });

  it("a JobFailed's causes (the codes of why) reach the run's result, the job:failed event and the log line", async () => {
    const bad: Job = {
      name: "typo",
      getRunnableTasks() {
        throw new JobFailed('input "raw-fiels" does not exist', { causes: ["UJR_TIDY_INPUT_MISSING", "UJR_TIDY_INPUT_MISSING"] });
      },
    };
    const { logger, lines } = capturedLogger();
    const runner = runnerWith([bad], { logger });
    const events: TaskFailure[] = [];
    runner.on("job:failed", (event) => events.push(event.error));
    const result = await runner.run();
    const want = { name: "JobFailed", code: "UJR_JOB_FAILED", message: 'input "raw-fiels" does not exist', details: { causes: ["UJR_TIDY_INPUT_MISSING"] } };
    expect(result.jobs.typo?.error).toEqual(want);
    expect(events).toEqual([want]);
    const line = lines.find((l) => l.msg === "job failed");
    expect((line?.err as { details?: unknown } | undefined)?.details).toEqual({ causes: ["UJR_TIDY_INPUT_MISSING"] });
  });

  it("stop(): no new tasks, running ones finish within the grace period", async () => {
    const job: Job = {
      name: "endless",
      getRunnableTasks: () => [fixtureTask("waitForGate", { key: "stop-grace" }, { signature: "e" })],
    };
    const runner = runnerWith([job]);
    const done: string[] = [];
    runner.on("task:done", (event) => done.push(event.job));
    runner.on("task:started", () => {
      runner.stop({ graceMs: 10_000 });
      queueMicrotask(() => openGate("stop-grace"));
    });
    const result = await runner.run();
    expect(result.reason).toBe("stopped");
    expect(done).toEqual(["endless"]);
  });

  it("stop() cancels running tasks once the grace period is over; a second stop() cancels at once", async () => {
    const job: Job = { name: "stuck", getRunnableTasks: () => [fixtureTask("waitForGate", { key: "never-2" }, { signature: "s" })] };
    const runner = runnerWith([job]);
    runner.on("task:started", () => {
      runner.stop({ graceMs: 60_000 });
      runner.stop();
    });
    const result = await runner.run();
    expect(result.reason).toBe("aborted");
    expect(result.tasks.cancelled).toBe(1);
  });

  it("snapshot() shows jobs, running tasks and counters", async () => {
    const job: Job = { name: "snap", nextCheck: undefined, getRunnableTasks: () => [fixtureTask("waitForGate", { key: "snap" }, { signature: "one" })] };
    const runner = runnerWith([job]);
    let snapshot: ReturnType<Runner["snapshot"]> | undefined;
    runner.on("task:started", () => {
      snapshot = runner.snapshot();
      runner.stop({ graceMs: 0 });
    });
    await runner.run();
    expect(snapshot).toMatchObject({
      state: "running",
      jobs: [{ name: "snap", status: "active", running: 1, counters: { started: 1 } }],
      running: [{ job: "snap", signature: "one", attempt: 1 }],
      executor: { size: 2, free: 1 },
    });
  });

  it("logs every task start and end with job, task, signature, duration and outcome", async () => {
    const { logger, lines } = capturedLogger();
    const job = new ListJob("logged", [fixtureTask("echo", {}, { signature: "sig-1" })]);
    await runnerWith([job], { logger }).run();
    expect(lines.find((line) => line.msg === "task started")).toMatchObject({ job: "logged", signature: "sig-1", attempt: 1 });
    const end = lines.find((line) => line.msg === "task done");
    expect(end).toMatchObject({ job: "logged", signature: "sig-1", outcome: "done" });
    expect(typeof end?.durationMs).toBe("number");
  });

  it("skips and logs things a job returns that are not tasks", async () => {
    const { logger, lines } = capturedLogger();
    let asked = false;
    const job: Job = {
      name: "sloppy",
      getRunnableTasks() {
        if (asked) throw new JobDone();
        asked = true;
        return [{ nope: true } as unknown as Task];
      },
    };
    await runnerWith([job], { logger, checkInterval: 5 }).run();
    expect(lines.find((line) => line.msg === "job returned an invalid task")?.err).toMatchObject({ code: "UJR_TASK_INVALID" });
  });
});

describe("Runner: regressions found by the outside report and the property suite", () => {
  it("a job whose async ask is in flight while a task settles does not get that task started again from the old answer", async () => {
    // The ask begins, the task settles (the job records it), then the ask answers with the
    // list it read before: the finished task must not run a second time.
    const ran: string[] = [];
    let asks = 0;
    const done = new Set<string>();
    const job: Job = {
      name: "async-ask",
      async getRunnableTasks() {
        asks++;
        const before = ["a", "b"].filter((sig) => !done.has(sig));
        await new Promise((resolve) => setTimeout(resolve, 5));
        if (before.length === 0 && done.size === 2) throw new JobDone();
        return before.map((sig) => fixtureTask("echo", { sig }, { signature: sig }));
      },
      onTaskDone(task) {
        ran.push(task.signature!);
        done.add(task.signature!);
      },
    };
    const result = await runnerWith([job], {}, 1).run();
    expect(result.reason).toBe("done");
    expect(ran.sort()).toEqual(["a", "b"]);
    expect(asks).toBeGreaterThanOrEqual(2);
  });

  it("retries of a job that threw JobFailed are dropped and counted as cancelled; no new chain starts", async () => {
    let failedOnce = false;
    const job: Job = {
      name: "gives-up",
      getRunnableTasks() {
        if (failedOnce) throw new JobFailed("two files could not be read");
        return [fixtureTask("boom", { message: "bad file" }, { signature: "bad", retry: { attempts: 5, baseMs: 50, jitter: 0 } }), fixtureTask("echo", {}, { signature: "good" })];
      },
      onTaskDone() {
        failedOnce = true;
      },
    };
    const runner = runnerWith([job], {}, 2);
    const starts: Array<{ signature: string | undefined; attempt: number }> = [];
    runner.on("task:started", (event) => starts.push({ signature: event.signature, attempt: event.attempt }));
    const result = await runner.run();
    expect(result.failedJobs).toEqual(["gives-up"]);
    expect(result.jobs["gives-up"]).toMatchObject({ outcome: "failed", error: expect.objectContaining({ message: "two files could not be read" }) });
    // The bad task's first try failed and its retry waited when the job failed: dropped.
    expect(starts.filter((start) => start.signature === "bad")).toEqual([{ signature: "bad", attempt: 1 }]);
    expect(result.tasks).toMatchObject({ retried: 1, cancelled: 1, failed: 0 });
  });

  it("a retry dropped by a stop is reported once, as a cancelled try of its own (not a second outcome of the failed one)", async () => {
    const job = new ListJob("hangs", [fixtureTask("boom", { message: "transient" }, { signature: "t", retry: { attempts: 3, baseMs: 60_000, jitter: 0 } })]);
    const runner = runnerWith([job], {}, 1);
    const outcomes: Array<[string, string, number]> = [];
    for (const kind of ["task:retry", "task:cancelled", "task:failed", "task:done"] as const) {
      runner.on(kind, (event: { runId: string; attempt: number }) => outcomes.push([kind, event.runId, event.attempt]));
    }
    runner.on("task:retry", () => runner.stop({ graceMs: 0 }));
    const result = await runner.run();
    expect(result.reason).toBe("stopped");
    expect(outcomes).toHaveLength(2);
    const [[firstKind, firstRun, firstAttempt], [secondKind, secondRun, secondAttempt]] = outcomes as [[string, string, number], [string, string, number]];
    expect([firstKind, firstAttempt, secondKind, secondAttempt]).toEqual(["task:retry", 1, "task:cancelled", 2]);
    expect(secondRun).not.toBe(firstRun);
  });

  it("tasks an async ask returned start now even when the same ask set nextCheck for the next ask (the summary job's way)", async () => {
    let asks = 0;
    let ran = 0;
    const job: Job = {
      name: "now-and-later",
      nextCheck: undefined as number | undefined,
      async getRunnableTasks() {
        asks++;
        await Promise.resolve();
        if (ran > 0) throw new JobDone();
        this.nextCheck = Date.now() + 3_600_000;
        return [fixtureTask("echo", {}, { signature: "now" })];
      },
      onTaskDone() {
        ran++;
        this.nextCheck = undefined;
      },
    } as Job & { nextCheck: number | undefined };
    const started = Date.now();
    const result = await runnerWith([job], {}, 1).run();
    expect(result.reason).toBe("done");
    expect(ran).toBe(1);
    expect(asks).toBe(2);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it("a backoff that runs out while the round goes on is not slept past for a whole checkInterval", async () => {
    vi.useFakeTimers({ now: Date.parse("2030-01-01T00:00:00Z") });
    const asks: number[] = [];
    const failing: Job = {
      name: "a-failing",
      getRunnableTasks() {
        asks.push(Date.now());
        if (asks.length === 1) throw new Error("state unreadable");
        throw new JobDone();
      },
    };
    // Asked after it in the same round, a slow ask lets the 40 ms backoff run out.
    const slow: Job = {
      name: "b-slow",
      getRunnableTasks() {
        vi.advanceTimersByTime(100);
        throw new JobDone();
      },
    };
    const running = runnerWith([failing, slow], { jobErrorBackoff: { baseMs: 40 }, checkInterval: 60_000 }).run();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(asks.map((at) => at - asks[0]!)).toEqual([0, 100]);
    await vi.runAllTimersAsync();
    await expect(running).resolves.toMatchObject({ reason: "done" });
  });

  it("a lazy iterable is drawn only as far as capacity allows", async () => {
    let drawn = 0;
    let finished = 0;
    const job: Job = {
      name: "lazy",
      *getRunnableTasks() {
        if (finished >= 5) throw new JobDone();
        // A generator is read as tasks can start: it sees the job's state as it is then.
        for (let index = finished; index < 1_000_000 && finished < 5; index++) {
          drawn++;
          yield fixtureTask("echo", { index }, { signature: String(index) });
        }
      },
      onTaskDone() {
        finished++;
      },
    };
    const result = await runnerWith([job], { maxTasksPerJob: 1 }, 1).run();
    expect(result.tasks.done).toBe(5);
    expect(drawn).toBe(5);
  });
});

describe("Runner: a stop with tasks queued in the executor", () => {
  it("records each task it drops with its own job and task in the message", async () => {
    /** Accepts more than it runs: two tasks wait in its queue behind one that runs till the gate opens. */
    class QueueingExecutor extends InProcessExecutor {
      readonly waiting = new Map<string, (outcome: TaskOutcome) => void>();
      override capacity(): number {
        return 3 - this.waiting.size - 1;
      }
      override submit(run: TaskRun): Promise<TaskOutcome> {
        if (run.args && (run.args as { key?: string }).key) return super.submit(run);
        return new Promise((resolve) => this.waiting.set(run.id, resolve));
      }
      cancelQueued(reason: TaskFailure): string[] {
        const ids = [...this.waiting.keys()];
        for (const [, resolve] of this.waiting) resolve({ ok: false, error: reason });
        this.waiting.clear();
        return ids;
      }
    }
    const executor = new QueueingExecutor({ size: 3 });
    const job = new ListJob("crawl", [fixtureTask("waitForGate", { key: "stop-queued" }, { signature: "runs" }), fixtureTask("echo", { n: 1 }, { signature: "a" }), fixtureTask("echo", { n: 2 }, { signature: "b" })]);
    const runner = new Runner({ executor, jobs: [job] });
    const cancelled: string[] = [];
    runner.on("task:cancelled", (event) => cancelled.push(event.error.message));
    runner.on("task:started", () => {
      if (executor.waiting.size === 2) {
        runner.stop({ graceMs: 60_000 });
        openGate("stop-queued");
      }
    });
    await runner.run();
    expect(cancelled).toEqual(Array(2).fill(`Task ${fixtureModule}#echo of job crawl was cancelled: the runner is stopping before it started.`));
  });
});
