import { describe, expect, it } from "vitest";
import type { Tinypool, TinypoolChannel } from "tinypool";
import { encodeWire, type TaskFailure, type TaskOutcome, type TaskRun } from "@ujr/core";
import { ProcessSessions } from "./process-sessions.js";
import { READY_TAG, RESULT_TAG, type TaskMessage, type WorkerMessage } from "./session-protocol.js";

/** One tinypool run of the fake pool: a worker holding a session. */
interface FakeWorker {
  received: string[];
  aborted: boolean;
  ready(): void;
  answer(runId: string, outcome: TaskOutcome): void;
  die(error: Error): void;
  /** With a late sender: hands this worker's sender to the sessions now. */
  connect(): void;
}

/** Stands in for tinypool: records each session run and lets the test play its worker. */
function fakePool(options_: { lateSender?: boolean } = {}) {
  const workers: FakeWorker[] = [];
  const pool = {
    run(_task: unknown, options: { channel: TinypoolChannel; signal: AbortSignal }) {
      return new Promise((_resolve, reject) => {
        const worker: FakeWorker = {
          received: [],
          aborted: false,
          ready: () => options.channel.postMessage?.([READY_TAG]),
          answer: (runId, outcome) => options.channel.postMessage?.([RESULT_TAG, runId, encodeWire(outcome)]),
          die: reject,
          connect: () => options.channel.onMessage?.((message: TaskMessage) => worker.received.push(message[1][5])),
        };
        if (!options_.lateSender) worker.connect();
        options.signal.addEventListener("abort", () => {
          worker.aborted = true;
          reject(new Error("The task has been aborted"));
        });
        workers.push(worker);
      });
    },
  };
  return { pool: pool as unknown as Tinypool, workers };
}

function setup(workerCount: number, poolOptions: { lateSender?: boolean } = {}) {
  const { pool, workers } = fakePool(poolOptions);
  const started: string[] = [];
  const sessions = new ProcessSessions(pool, workerCount, {
    started: (runId) => started.push(runId),
    message: () => {},
    crashed: (_run, error) => ({ name: "UjrError", code: "UJR_WORKER_CRASHED", message: (error as Error).message }),
  });
  const outcomes = new Map<string, TaskOutcome>();
  const submit = (id: string) => {
    const run: TaskRun = { id, job: "j", ref: { module: "file:///tasks.js", export: "t" }, args: {}, attempt: 1, resolveFrom: [] };
    const message: WorkerMessage = ["file:///tasks.js", "file:///tasks.js", "t", {}, "j", id, 1, undefined];
    void sessions.run(run, message).then((outcome) => outcomes.set(id, outcome));
  };
  return { sessions, workers, started, outcomes, submit };
}

const settled = () => new Promise((resolve) => setImmediate(resolve));
const cancelled: TaskFailure = { name: "UjrError", code: "UJR_TASK_CANCELLED", message: "cancelled" };

describe("ProcessSessions", () => {
  it("hands each ready worker one task at a time, oldest first, and says when each starts", async () => {
    const { workers, started, outcomes, submit } = setup(2);
    submit("a");
    submit("b");
    submit("c");
    expect(workers).toHaveLength(2);
    expect(started).toEqual([]); // no worker is ready yet
    workers[0]!.ready();
    workers[1]!.ready();
    expect(started).toEqual(["a", "b"]);
    workers[1]!.answer("b", { ok: true, value: 2 });
    expect(workers[1]!.received).toEqual(["b", "c"]);
    expect(started).toEqual(["a", "b", "c"]);
    await settled();
    expect(outcomes.get("b")).toEqual({ ok: true, value: 2 });
    expect(outcomes.has("a")).toBe(false);
  });

  it("starts a worker per task waiting beyond the idle and starting ones, not one per allowed worker", async () => {
    const { workers, started, submit } = setup(3);
    submit("a");
    expect(workers).toHaveLength(1); // one task: one process pays Node's start-up
    submit("b");
    expect(workers).toHaveLength(2); // b does not wait behind a's worker starting
    workers[0]!.ready();
    expect(started).toEqual(["a"]);
    expect(workers).toHaveLength(2); // b waits for the worker that is starting for it
    workers[1]!.ready();
    expect(started).toEqual(["a", "b"]);
  });

  it("a worker ready before tinypool hands over its sender gets its task once the sender comes", async () => {
    const { workers, started, submit } = setup(2, { lateSender: true });
    submit("a");
    workers[0]!.ready();
    expect(started).toEqual([]);
    workers[0]!.connect();
    expect(started).toEqual(["a"]);
    expect(workers[0]!.received).toEqual(["a"]);
    expect(workers).toHaveLength(1);
  });

  it("prestart starts one worker before any task; the first task takes it instead of starting another", async () => {
    const { sessions, workers, started, submit } = setup(2);
    sessions.prestart();
    sessions.prestart(); // one is open already
    expect(workers).toHaveLength(1);
    submit("a");
    expect(workers).toHaveLength(1);
    workers[0]!.ready();
    expect(started).toEqual(["a"]);
  });

  it("cancelling a running task terminates only its worker; the queued task goes to the replacement", async () => {
    const { sessions, workers, started, outcomes, submit } = setup(1);
    submit("a");
    submit("b");
    workers[0]!.ready();
    sessions.cancel("a", cancelled);
    expect(workers[0]!.aborted).toBe(true);
    await settled();
    expect(outcomes.get("a")).toEqual({ ok: false, error: cancelled });
    expect(workers).toHaveLength(2);
    workers[1]!.ready();
    expect(workers[1]!.received).toEqual(["b"]);
    expect(started).toEqual(["a", "b"]);
  });

  it("a worker that dies fails only the task it was running", async () => {
    const { workers, outcomes, submit } = setup(1);
    submit("a");
    submit("b");
    workers[0]!.ready();
    workers[0]!.die(new Error("Worker exited unexpectedly"));
    await settled();
    expect(outcomes.get("a")).toMatchObject({ ok: false, error: { code: "UJR_WORKER_CRASHED", message: "Worker exited unexpectedly" } });
    workers[1]!.ready();
    workers[1]!.answer("b", { ok: true, value: null });
    await settled();
    expect(outcomes.get("b")).toEqual({ ok: true, value: null });
  });

  it("a worker that dies before it is ready fails one queued task instead of restarting for ever", async () => {
    const { workers, outcomes, submit } = setup(1);
    submit("a");
    submit("b");
    workers[0]!.die(new Error("cannot start"));
    await settled();
    expect(outcomes.get("a")).toMatchObject({ ok: false, error: { message: "cannot start" } });
    workers[1]!.die(new Error("cannot start"));
    await settled();
    expect(outcomes.get("b")).toMatchObject({ ok: false, error: { message: "cannot start" } });
    expect(workers).toHaveLength(2); // nothing queued: no third attempt
  });

  it("cancelQueued drops the tasks not handed to a worker, and only those", async () => {
    const { sessions, workers, outcomes, submit } = setup(1);
    submit("a");
    submit("b");
    submit("c");
    workers[0]!.ready();
    expect(sessions.cancelQueued(cancelled)).toEqual(["b", "c"]);
    expect(workers[0]!.aborted).toBe(false);
    workers[0]!.answer("a", { ok: true, value: 1 });
    await settled();
    expect(Object.fromEntries(outcomes)).toEqual({ a: { ok: true, value: 1 }, b: { ok: false, error: cancelled }, c: { ok: false, error: cancelled } });
    expect(workers[0]!.received).toEqual(["a"]);
  });
});
