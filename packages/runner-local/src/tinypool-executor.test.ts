import { afterEach, describe, expect, it, vi } from "vitest";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { JobDone, makeTask, type Job, type Task } from "@ujr/core";
import { LocalJobsRunner } from "./local-runner.js";
import { TinypoolExecutor, type Isolation } from "./tinypool-executor.js";
import { childrenStartedBy } from "./__fixtures__/processes.js";

const fixtures = new URL("./__fixtures__/tasks.mjs", import.meta.url).href;
const task = (name: string, args: unknown = {}, options: { signature?: string; timeoutMs?: number } = {}) => makeTask({ module: fixtures, export: name }, args, options);

/** Emits its tasks once each and records what came back. */
function listJob(name: string, tasks: Task[]) {
  const pending = [...tasks];
  const outcomes: Array<{ signature?: string | undefined; ok: boolean; value?: unknown; code?: string | undefined; message?: string }> = [];
  const job: Job = {
    name,
    getRunnableTasks() {
      if (pending.length === 0) throw new JobDone();
      return pending;
    },
    onTaskDone(done, value) {
      pending.splice(pending.indexOf(done), 1);
      outcomes.push({ signature: done.signature, ok: true, value });
    },
    onTaskFailed(failed, failure) {
      pending.splice(pending.indexOf(failed), 1);
      outcomes.push({ signature: failed.signature, ok: false, code: failure.code, message: failure.message });
    },
  };
  return { job, outcomes };
}

const executors: TinypoolExecutor[] = [];
afterEach(async () => {
  await Promise.all(executors.splice(0).map((executor) => executor.close()));
});

for (const isolation of ["thread", "process"] as Isolation[]) {
  describe(`TinypoolExecutor (${isolation})`, () => {
    it("runs tasks in workers, not in the runner's own process", async () => {
      const executor = new TinypoolExecutor({ workers: 2, isolation, logLevel: "silent" });
      executors.push(executor);
      const outcome = await executor.submit({ id: "1", job: "j", ref: { module: fixtures, export: "echo" }, args: { hello: "world" }, attempt: 1, resolveFrom: [] });
      expect(outcome).toMatchObject({ ok: true, value: { args: { hello: "world" }, attempt: 1 } });
      const pid = (outcome as { value: { pid: number } }).value.pid;
      if (isolation === "process") expect(pid).not.toBe(process.pid);
      else expect(pid).toBe(process.pid);
    });

    it("prestart starts a worker before any task, and tasks that come one after another all run on it", async () => {
      const executor = new TinypoolExecutor({ workers: 2, isolation, logLevel: "silent" });
      executors.push(executor);
      executor.prestart();
      const pids: number[] = [];
      for (const id of ["1", "2", "3"]) {
        const outcome = await executor.submit({ id, job: "j", ref: { module: fixtures, export: "echo" }, args: {}, attempt: 1, resolveFrom: [] });
        expect(outcome.ok).toBe(true);
        pids.push((outcome as { value: { pid: number } }).value.pid);
      }
      expect(new Set(pids).size).toBe(1);
    });

    // Out-of-memory is only tested with process isolation: V8's per-thread heap limits
    // are not reliable enough to run inside the test process itself.
    const crashes = isolation === "process" ? ["exitWorker", "uncaught", "exhaustMemory"] : ["exitWorker", "uncaught"];
    it(`a worker that crashes (${crashes.join(", ")}) fails only its task; the pool goes on`, async () => {
      const { job, outcomes } = listJob("crashy", [...crashes.map((name) => task(name, {}, { signature: name })), task("echo", { after: true }, { signature: "ok" })]);
      const runner = new LocalJobsRunner({ jobs: [job], workers: 2, isolation, maxWorkerMemoryMb: 48, handleSignals: false, logLevel: "silent", maxTasksPerJob: 1 });
      const result = await runner.run();
      expect(result.tasks).toMatchObject({ done: 1, failed: crashes.length });
      const bySignature = Object.fromEntries(outcomes.map((outcome) => [outcome.signature, outcome]));
      for (const signature of crashes) {
        expect(bySignature[signature]).toMatchObject({ ok: false, code: "UJR_WORKER_CRASHED" });
        expect(bySignature[signature]?.message).toMatch(/crashed .*The task failed; the pool replaced the worker/s);
      }
      expect(bySignature.ok).toMatchObject({ ok: true });
    }, 60_000);

    it("a timeout really stops the work: the spinning worker is terminated and replaced", async () => {
      const dir = mkdtempSync(join(tmpdir(), "ujr-timeout-"));
      try {
        const { job, outcomes } = listJob("spinner", [task("spin", { marker: join(dir, "pid") }, { signature: "spin", timeoutMs: 1500 })]);
        const runner = new LocalJobsRunner({ jobs: [job], workers: 1, isolation, handleSignals: false, logLevel: "silent" });
        const result = await runner.run();
        expect(result.tasks).toMatchObject({ failed: 1, timedOut: 1 });
        expect(outcomes[0]).toMatchObject({ ok: false, code: "UJR_TASK_TIMEOUT" });
        if (isolation === "process") {
          const pid = Number(readFileSync(join(dir, "pid"), "utf8"));
          await vi.waitFor(() => expect(() => process.kill(pid, 0)).toThrow(), { timeout: 5000 });
        }
        // The pool still works after its only worker was terminated.
        const executor = new TinypoolExecutor({ workers: 1, isolation, logLevel: "silent" });
        executors.push(executor);
        expect(await executor.submit({ id: "2", job: "j", ref: { module: fixtures, export: "noop" }, args: {}, attempt: 1, resolveFrom: [] })).toEqual({ ok: true, value: null });
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }, 60_000);

    it("arguments and results are structured-cloned (Dates, Maps, typed arrays, BigInts arrive intact)", async () => {
      const executor = new TinypoolExecutor({ workers: 1, isolation, logLevel: "silent" });
      executors.push(executor);
      const args = { since: new Date(1000), ids: new Set(["x"]) };
      const outcome = await executor.submit({ id: "rich", job: "j", ref: { module: fixtures, export: "richValues" }, args, attempt: 1, resolveFrom: [] });
      expect(outcome.ok).toBe(true);
      const value = (outcome as { value: { when: Date; tags: Map<string, number>; bytes: Uint8Array; big: bigint; echoed: typeof args } }).value;
      expect(value.when).toBeInstanceOf(Date);
      expect(value.when.getTime()).toBe(0);
      expect(value.tags).toEqual(new Map([["a", 1]]));
      expect([...value.bytes]).toEqual([1, 2, 3]);
      expect(value.big).toBe(2n ** 70n);
      expect(value.echoed.since.getTime()).toBe(1000);
      expect(value.echoed.ids).toEqual(new Set(["x"]));
    });

    it("arguments that cannot reach a worker fail that task with a clear error; the pool goes on", async () => {
      const executor = new TinypoolExecutor({ workers: 1, isolation, logLevel: "silent" });
      executors.push(executor);
      const ref = { module: fixtures, export: "richValues" };
      const outcome = await executor.submit({ id: "fn", job: "j", ref, args: { callback: () => 1 }, attempt: 1, resolveFrom: [] });
      expect(outcome).toMatchObject({ ok: false, error: { code: "UJR_TASK_ARGS_NOT_CLONABLE", retryable: false } });
      const message = (outcome as { error: { message: string } }).error.message;
      expect(message).toContain("richValues of job j was given arguments that cannot be sent to a worker");
      expect(message).toContain("Pass plain data");
      const next = await executor.submit({ id: "ok", job: "j", ref, args: { since: new Date(0), ids: new Set() }, attempt: 1, resolveFrom: [] });
      expect(next.ok).toBe(true);
    });

    it("a result that cannot cross to the runner fails with a clear error", async () => {
      const executor = new TinypoolExecutor({ workers: 1, isolation, logLevel: "silent" });
      executors.push(executor);
      const outcome = await executor.submit({ id: "3", job: "j", ref: { module: fixtures, export: "unclonable" }, args: {}, attempt: 1, resolveFrom: [] });
      expect(outcome).toMatchObject({ ok: false, error: { code: "UJR_TASK_RESULT_NOT_CLONABLE" } });
    });
  });
}

for (const isolation of ["thread", "process"] as Isolation[]) {
  describe(`TinypoolExecutor: the queue (${isolation})`, () => {
    it("a task's timeout counts its running time, not its wait in the pool's queue", async () => {
      const dir = mkdtempSync(join(tmpdir(), "ujr-queue-"));
      try {
        const { job, outcomes } = listJob("queued", [
          task("slow", { marker: join(dir, "slow"), ms: 800 }, { signature: "first" }),
          task("echo", { quick: true }, { signature: "second", timeoutMs: 400 }),
        ]);
        // One worker and a queue: the second task waits ~800 ms behind the first, then runs at once.
        const runner = new LocalJobsRunner({ jobs: [job], workers: 1, isolation, handleSignals: false, logLevel: "silent" });
        const result = await runner.run();
        expect(result.tasks).toMatchObject({ done: 2, failed: 0, timedOut: 0 });
        expect(outcomes.map((outcome) => outcome.signature)).toEqual(["first", "second"]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it("on a stop, queued tasks that have not started are cancelled, not run", async () => {
      const dir = mkdtempSync(join(tmpdir(), "ujr-queue-"));
      try {
        const { job, outcomes } = listJob("stopping", [
          task("slow", { marker: join(dir, "a"), ms: 300 }, { signature: "running" }),
          task("slow", { marker: join(dir, "b"), ms: 300 }, { signature: "queued" }),
        ]);
        // A started worker, so that the first task starts as soon as it is submitted.
        const executor = new TinypoolExecutor({ workers: 1, isolation, logLevel: "silent" });
        executors.push(executor);
        await executor.submit({ id: "warm", job: "j", ref: { module: fixtures, export: "noop" }, args: {}, attempt: 1, resolveFrom: [] });
        const runner = new LocalJobsRunner({ jobs: [job], executor, handleSignals: false, logLevel: "silent" });
        const cancelled: string[] = [];
        runner.on("task:cancelled", (event) => cancelled.push(event.signature ?? ""));
        // Both are handed over in one round; the first starts at once, the second waits in the queue.
        runner.once("task:started", () => queueMicrotask(() => runner.stop({ graceMs: 10_000 })));
        const result = await runner.run();
        expect(result.reason).toBe("stopped");
        expect(outcomes).toEqual([expect.objectContaining({ signature: "running", ok: true })]);
        expect(cancelled).toEqual(["queued"]);
        expect(existsSync(join(dir, "b"))).toBe(false);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it("tasks queued behind one whose worker is terminated or dies run on the replacement worker", async () => {
      const { job, outcomes } = listJob("replaced", [
        task("spin", {}, { signature: "spin", timeoutMs: 500 }),
        task("echo", {}, { signature: "after-spin" }),
        task("exitWorker", {}, { signature: "exit" }),
        task("echo", {}, { signature: "after-exit" }),
      ]);
      const runner = new LocalJobsRunner({ jobs: [job], workers: 1, isolation, handleSignals: false, logLevel: "silent" });
      const result = await runner.run();
      expect(result.tasks).toMatchObject({ done: 2, failed: 2, timedOut: 1 });
      const bySignature = Object.fromEntries(outcomes.map((outcome) => [outcome.signature, outcome]));
      expect(bySignature.spin).toMatchObject({ ok: false, code: "UJR_TASK_TIMEOUT" });
      expect(bySignature.exit).toMatchObject({ ok: false, code: "UJR_WORKER_CRASHED" });
      expect(bySignature["after-spin"]).toMatchObject({ ok: true });
      expect(bySignature["after-exit"]).toMatchObject({ ok: true });
    }, 60_000);
  });
}

describe("TinypoolExecutor: module resolution", () => {
  it("reports an unknown task module with where it looked", async () => {
    const executor = new TinypoolExecutor({ workers: 1, isolation: "thread", logLevel: "silent" });
    executors.push(executor);
    const outcome = await executor.submit({ id: "4", job: "j", ref: { module: "@nope/missing/tasks", export: "x" }, args: {}, attempt: 1, resolveFrom: ["file:///tmp/"] });
    expect(outcome).toMatchObject({ ok: false, error: { code: "UJR_TASK_MODULE_NOT_FOUND" } });
    expect((outcome as { error: { message: string } }).error.message).toContain('Task module "@nope/missing/tasks" could not be resolved from /tmp/');
  });

  it("reports a missing export with the module's task exports", async () => {
    const executor = new TinypoolExecutor({ workers: 1, isolation: "thread", logLevel: "silent" });
    executors.push(executor);
    const outcome = await executor.submit({ id: "5", job: "j", ref: { module: fixtures, export: "nothingHere" }, args: {}, attempt: 1, resolveFrom: [] });
    expect(outcome).toMatchObject({ ok: false, error: { code: "UJR_TASK_EXPORT_NOT_FOUND" } });
    expect((outcome as { error: { message: string } }).error.message).toMatch(/no task export "nothingHere".*echo/);
  });
});

describe("TinypoolExecutor.fromSettings", () => {
  it("takes the pool's settings from a caller's options and nothing else (a BullMQ `queue` name is not a pool queue)", () => {
    const workerOptions = { workers: 3, isolation: "thread" as const, queue: "collections", concurrency: 8 };
    const executor = TinypoolExecutor.fromSettings(workerOptions);
    expect(executor.workers).toBe(3);
    expect(executor.isolation).toBe("thread");
    expect(executor.size).toBe(3 + 3); // the default queue: one per thread worker
  });
});

describe("LocalJobsRunner", () => {
  it("does nothing when constructed inside a task worker (scripts are re-imported there)", async () => {
    const marker = Symbol.for("ujr.task-worker");
    (globalThis as Record<symbol, unknown>)[marker] = true;
    try {
      const { job } = listJob("never", [task("echo")]);
      const result = await new LocalJobsRunner({ jobs: [job], handleSignals: false }).run();
      expect(result.tasks.done).toBe(0);
    } finally {
      delete (globalThis as Record<symbol, unknown>)[marker];
    }
  });

  it("defaults to process isolation with one worker per CPU", () => {
    const executor = new TinypoolExecutor();
    expect(executor.isolation).toBe("process");
    expect(executor.workers).toBe(availableParallelism());
    expect(executor.size).toBe(executor.workers * 3);
  });
});

describe("TinypoolExecutor warm (process)", () => {
  // `ujr worker`'s pool: a job it takes counts as started, so no task of it may wait for a
  // worker process to start up. Worker processes are counted as this process's children.
  it("warm starts every worker with the pool; without it, prestart starts one", async (ctx) => {
    const cold = new TinypoolExecutor({ workers: 2, isolation: "process", logLevel: "silent" });
    executors.push(cold);
    expect(childrenStartedBy(() => cold.prestart(), ctx.skip)).toHaveLength(1);
    const warm = new TinypoolExecutor({ workers: 2, isolation: "process", logLevel: "silent", warm: true });
    executors.push(warm);
    expect(childrenStartedBy(() => warm.prestart(), ctx.skip)).toHaveLength(2);
  });
});
