import { describe, expect, it } from "vitest";
import type { MessagePort } from "node:worker_threads";
import type { Tinypool } from "tinypool";
import type { TaskFailure, TaskOutcome, TaskRun } from "@ujr/core";
import { ThreadSessions, type ThreadSessionsOptions } from "./thread-sessions.js";
import { READY_TAG, RESULT_TAG, SLOT_CANCELLED, SLOT_DONE, SLOT_QUEUED, SLOT_STARTED, type ThreadTaskMessage, type WorkerMessage } from "./session-protocol.js";

/** One tinypool run of the fake pool: the test plays the thread holding the session (what worker.ts's threadSession does). */
interface FakeThread {
  aborted: boolean;
  /** The run ids of each message the runner posted, in order. */
  messages: string[][];
  states: Int32Array;
  ready(): void;
  /** The next task the runner handed over: `[slot, run id]`. */
  take(): Promise<[number, string]>;
  /** The thread's compare-exchange: true if it started the task, false if the runner cancelled it first. */
  start(slot: number): boolean;
  finish(slot: number, runId: string, outcome: TaskOutcome): void;
  die(error: Error): void;
}

function fakePool() {
  const threads: FakeThread[] = [];
  const opened: Array<() => void> = [];
  const pool = {
    run(payload: { port: MessagePort; slots: SharedArrayBuffer }, options: { name: string; transferList: unknown[]; signal: AbortSignal }) {
      expect(options.name).toBe("threadSession");
      expect(options.transferList).toEqual([payload.port]);
      return new Promise((_resolve, reject) => {
        const inbox: Array<[number, string]> = [];
        const waiters: Array<(message: [number, string]) => void> = [];
        payload.port.on("message", (batch: ThreadTaskMessage[]) => {
          thread.messages.push(batch.map(([, message]) => message[5]));
          for (const [slot, message] of batch) {
            const waiter = waiters.shift();
            if (waiter) waiter([slot, message[5]]);
            else inbox.push([slot, message[5]]);
          }
        });
        const states = new Int32Array(payload.slots);
        const thread: FakeThread = {
          aborted: false,
          messages: [],
          states,
          ready: () => payload.port.postMessage([READY_TAG]),
          take: () => (inbox.length > 0 ? Promise.resolve(inbox.shift()!) : new Promise((resolve) => waiters.push(resolve))),
          start: (slot) => Atomics.compareExchange(states, slot, SLOT_QUEUED, SLOT_STARTED) === SLOT_QUEUED,
          finish: (slot, runId, outcome) => {
            expect(Atomics.compareExchange(states, slot, SLOT_STARTED, SLOT_DONE)).toBe(SLOT_STARTED);
            payload.port.postMessage([RESULT_TAG, runId, outcome]);
          },
          die: (error) => {
            payload.port.close();
            reject(error);
          },
        };
        options.signal.addEventListener("abort", () => {
          thread.aborted = true;
          thread.die(new Error("The task has been aborted"));
        });
        threads.push(thread);
        opened.shift()?.();
      });
    },
  };
  /** The next session the executor opens (already open: the latest). */
  const thread = (index: number): Promise<FakeThread> =>
    threads[index] ? Promise.resolve(threads[index]) : new Promise((resolve) => opened.push(() => resolve(threads[index]!)));
  return { pool: pool as unknown as Tinypool, threads, thread };
}

/** Most scenarios hold a thread to one task ahead (maxHanded 2): the runner's queue then shows. */
function setup(workerCount: number, options: ThreadSessionsOptions = { maxHanded: 2 }) {
  const { pool, threads, thread } = fakePool();
  const started: string[] = [];
  const sessions = new ThreadSessions(
    pool,
    workerCount,
    {
      started: (runId) => started.push(runId),
      message: () => {},
      crashed: (_run, error) => ({ name: "UjrError", code: "UJR_WORKER_CRASHED", message: (error as Error).message }),
    },
    options,
  );
  const outcomes = new Map<string, Promise<TaskOutcome>>();
  const submit = (id: string, args: unknown = {}) => {
    const run: TaskRun = { id, job: "j", ref: { module: "file:///tasks.js", export: "t" }, args, attempt: 1, resolveFrom: [] };
    const message: WorkerMessage = ["file:///tasks.js", "file:///tasks.js", "t", args, "j", id, 1, undefined];
    outcomes.set(id, sessions.run(run, message));
  };
  return { sessions, threads, thread, started, outcomes, submit };
}

const cancelled: TaskFailure = { name: "UjrError", code: "UJR_TASK_CANCELLED", message: "cancelled" };
const done = (value: unknown): TaskOutcome => ({ ok: true, value });

describe("ThreadSessions", () => {
  it("hands each thread its next task ahead, and reports it started only when the thread starts it", async () => {
    const { thread, started, outcomes, submit, sessions } = setup(1);
    submit("a");
    submit("b");
    submit("c");
    const first = await thread(0);
    first.ready();
    const [slotA, a] = await first.take();
    const [slotB, b] = await first.take();
    expect([a, b]).toEqual(["a", "b"]);
    // At most one task waits ahead: c stays in the runner's queue.
    expect(started).toEqual(["a"]);
    expect(first.start(slotA)).toBe(true);
    first.finish(slotA, "a", done(1));
    expect(await outcomes.get("a")).toEqual(done(1));
    // The result of a means the thread has moved on to b; c is handed ahead in its place.
    expect(started).toEqual(["a", "b"]);
    const [slotC, c] = await first.take();
    expect(c).toBe("c");
    expect(first.start(slotB)).toBe(true);
    first.finish(slotB, "b", done(2));
    expect(first.start(slotC)).toBe(true);
    first.finish(slotC, "c", done(3));
    expect(await outcomes.get("c")).toEqual(done(3));
    expect(started).toEqual(["a", "b", "c"]);
    expect(sessions.inFlight).toBe(0);
  });

  it("starts a thread per task waiting beyond the idle and starting ones, not one per allowed thread", async () => {
    const { threads, thread, started, submit } = setup(3);
    submit("a");
    expect(threads).toHaveLength(1);
    submit("b");
    expect(threads).toHaveLength(2);
    const first = await thread(0);
    first.ready();
    const [slotA, a] = await first.take();
    expect(a).toBe("a");
    expect(first.start(slotA)).toBe(true);
    expect(started).toEqual(["a"]);
    // b is handed ahead or waits for the second thread, which is starting for it: no third.
    expect(threads).toHaveLength(2);
  });

  it("prestart starts one thread before any task; the first task takes it instead of starting another", async () => {
    const { sessions, threads, thread, started, submit } = setup(2);
    sessions.prestart();
    sessions.prestart(); // one is open already
    expect(threads).toHaveLength(1);
    submit("a");
    expect(threads).toHaveLength(1);
    const first = await thread(0);
    first.ready();
    const [slot, a] = await first.take();
    expect(a).toBe("a");
    expect(first.start(slot)).toBe(true);
    expect(started).toEqual(["a"]);
  });

  it("a task handed ahead goes back to the front of the queue when the running one times out", async () => {
    const { sessions, thread, started, outcomes, submit } = setup(1);
    submit("a");
    submit("b");
    submit("c");
    const first = await thread(0);
    first.ready();
    const [slotA] = await first.take();
    await first.take();
    expect(first.start(slotA)).toBe(true);
    const timeout: TaskFailure = { name: "UjrError", code: "UJR_TASK_TIMEOUT", message: "timed out" };
    sessions.cancel("a", timeout);
    // Running: its thread is terminated (tinypool replaces it); only a fails.
    expect(first.aborted).toBe(true);
    expect(await outcomes.get("a")).toEqual({ ok: false, error: timeout });
    const second = await thread(1);
    second.ready();
    const [slotB, b] = await second.take();
    const [, c] = await second.take();
    expect([b, c]).toEqual(["b", "c"]);
    expect(started).toEqual(["a", "b"]);
    expect(second.start(slotB)).toBe(true);
    second.finish(slotB, "b", done("b"));
    expect(await outcomes.get("b")).toEqual(done("b"));
  });

  it("a task handed ahead and not started is cancelled without terminating its thread", async () => {
    const { sessions, thread, started, outcomes, submit } = setup(1);
    submit("a");
    submit("b");
    const first = await thread(0);
    first.ready();
    const [slotA] = await first.take();
    const [slotB] = await first.take();
    expect(first.start(slotA)).toBe(true);
    sessions.cancel("b", cancelled);
    expect(await outcomes.get("b")).toEqual({ ok: false, error: cancelled });
    expect(first.aborted).toBe(false);
    // The runner won the compare-exchange: the thread skips b.
    expect(first.start(slotB)).toBe(false);
    expect(Atomics.load(first.states, slotB)).toBe(SLOT_CANCELLED);
    first.finish(slotA, "a", done("a"));
    expect(await outcomes.get("a")).toEqual(done("a"));
    expect(started).toEqual(["a"]);
    // The same thread takes the next task.
    submit("c");
    const [slotC, c] = await first.take();
    expect(c).toBe("c");
    expect(first.start(slotC)).toBe(true);
    first.finish(slotC, "c", done("c"));
    expect(await outcomes.get("c")).toEqual(done("c"));
    expect(started).toEqual(["a", "c"]);
  });

  it("a task the thread started before the runner cancelled it terminates the thread; the result before it still counts", async () => {
    const { sessions, thread, outcomes, submit } = setup(1);
    submit("a");
    submit("b");
    const first = await thread(0);
    first.ready();
    const [slotA] = await first.take();
    const [slotB] = await first.take();
    expect(first.start(slotA)).toBe(true);
    first.finish(slotA, "a", done("a"));
    // The thread starts b before the runner has read a's result.
    expect(first.start(slotB)).toBe(true);
    sessions.cancel("b", cancelled);
    expect(first.aborted).toBe(true);
    expect(await outcomes.get("b")).toEqual({ ok: false, error: cancelled });
    expect(await outcomes.get("a")).toEqual(done("a"));
  });

  it("cancelQueued drops the tasks queued or handed ahead, not the running ones", async () => {
    const { sessions, thread, outcomes, submit } = setup(1);
    for (const id of ["a", "b", "c"]) submit(id);
    const first = await thread(0);
    first.ready();
    const [slotA] = await first.take();
    const [slotB] = await first.take();
    expect(first.start(slotA)).toBe(true);
    expect(sessions.cancelQueued(cancelled).sort()).toEqual(["b", "c"]);
    expect(await outcomes.get("b")).toEqual({ ok: false, error: cancelled });
    expect(await outcomes.get("c")).toEqual({ ok: false, error: cancelled });
    expect(first.start(slotB)).toBe(false);
    expect(first.aborted).toBe(false);
    first.finish(slotA, "a", done("a"));
    expect(await outcomes.get("a")).toEqual(done("a"));
  });

  it("a thread that dies fails only its running task; the one handed ahead runs on the replacement", async () => {
    const { thread, started, outcomes, submit } = setup(1);
    submit("a");
    submit("b");
    const first = await thread(0);
    first.ready();
    const [slotA] = await first.take();
    await first.take();
    expect(first.start(slotA)).toBe(true);
    first.die(new Error("Worker terminated due to reaching memory limit: JS heap out of memory"));
    expect(await outcomes.get("a")).toMatchObject({ ok: false, error: { code: "UJR_WORKER_CRASHED", message: expect.stringMatching(/out of memory/) } });
    const second = await thread(1);
    second.ready();
    const [slotB, b] = await second.take();
    expect(b).toBe("b");
    expect(started).toEqual(["a", "b"]);
    expect(second.start(slotB)).toBe(true);
    second.finish(slotB, "b", done("b"));
    expect(await outcomes.get("b")).toEqual(done("b"));
  });

  it("a free thread takes a task handed ahead to a busy one", async () => {
    const { thread, started, outcomes, submit } = setup(2);
    submit("a");
    submit("b");
    const first = await thread(0);
    await thread(1);
    first.ready();
    const [slotA] = await first.take();
    const [slotB] = await first.take();
    expect(first.start(slotA)).toBe(true);
    const second = (await thread(1))!;
    second.ready();
    const [slotB2, b] = await second.take();
    expect(b).toBe("b");
    // Taken back from the busy thread: it skips b.
    expect(first.start(slotB)).toBe(false);
    expect(started).toEqual(["a", "b"]);
    expect(second.start(slotB2)).toBe(true);
    second.finish(slotB2, "b", done("b"));
    expect(await outcomes.get("b")).toEqual(done("b"));
    first.finish(slotA, "a", done("a"));
    expect(await outcomes.get("a")).toEqual(done("a"));
  });

  it("a free thread takes the oldest task handed ahead to a busy one: tasks start in the order they came", async () => {
    const { thread, started, outcomes, submit } = setup(2, {});
    for (const id of ["a", "b", "c"]) submit(id);
    const first = await thread(0);
    const second = await thread(1);
    first.ready();
    // Only the first thread was ready: it got all three, a to run and b, c ahead.
    const handed = [await first.take(), await first.take(), await first.take()];
    expect(handed.map(([, id]) => id)).toEqual(["a", "b", "c"]);
    const [slotA, slotB, slotC] = handed.map(([slot]) => slot) as [number, number, number];
    expect(first.start(slotA)).toBe(true);
    second.ready();
    // b, not c: while a runs (a task that waits for b, say), b must not wait behind it
    const [slotB2, taken] = await second.take();
    expect(taken).toBe("b");
    expect(first.start(slotB)).toBe(false);
    expect(second.start(slotB2)).toBe(true);
    expect(started).toEqual(["a", "b"]);
    second.finish(slotB2, "b", done("b"));
    expect(await outcomes.get("b")).toEqual(done("b"));
    // free again while a still runs, the second thread takes c too
    const [slotC2, next] = await second.take();
    expect(next).toBe("c");
    expect(started).toEqual(["a", "b", "c"]);
    expect(first.start(slotC)).toBe(false);
    expect(second.start(slotC2)).toBe(true);
    second.finish(slotC2, "c", done("c"));
    first.finish(slotA, "a", done("a"));
    expect(await Promise.all(["a", "b", "c"].map((id) => outcomes.get(id)))).toEqual([done("a"), done("b"), done("c")]);
  });

  it("sends the tasks handed in one tick in one message: idle threads first, then one more ahead for each in turn", async () => {
    const { thread, started, outcomes, submit } = setup(2, {});
    submit("a");
    submit("b");
    const first = await thread(0);
    const second = await thread(1);
    first.ready();
    const [slotA] = await first.take();
    const [slotB] = await first.take();
    // Only the first thread was ready: it got both, in one message.
    expect(first.messages).toEqual([["a", "b"]]);
    second.ready();
    // The second one, idle, takes the oldest task handed ahead to the busy one.
    const [slotB2, b] = await second.take();
    expect(b).toBe("b");
    expect(first.start(slotA)).toBe(true);
    expect(first.start(slotB)).toBe(false);
    expect(second.start(slotB2)).toBe(true);
    for (const id of ["c", "d", "e", "f"]) submit(id);
    const taken = [await first.take(), await second.take(), await first.take(), await second.take()].map(([, id]) => id);
    expect(taken).toEqual(["c", "d", "e", "f"]);
    expect(first.messages.slice(1)).toEqual([["c", "e"]]);
    expect(second.messages).toEqual([["b"], ["d", "f"]]);
    expect(started).toEqual(["a", "b"]);
    first.finish(slotA, "a", done("a"));
    second.finish(slotB2, "b", done("b"));
    expect(await outcomes.get("a")).toEqual(done("a"));
    expect(await outcomes.get("b")).toEqual(done("b"));
    expect(started).toEqual(["a", "b", "c", "d"]);
  });

  it("a task whose arguments cannot be cloned fails alone; the others of its message reach the thread", async () => {
    const { thread, outcomes, submit, sessions } = setup(1, {});
    const first = await (async () => {
      submit("a");
      const opened = await thread(0);
      opened.ready();
      return opened;
    })();
    const [slotA] = await first.take();
    submit("fn", { callback: () => 1 });
    submit("c");
    const [, c] = await first.take();
    expect(c).toBe("c");
    const failed = await outcomes.get("fn");
    expect(failed).toMatchObject({ ok: false, error: { code: "UJR_WORKER_CRASHED" } });
    expect(failed?.ok === false && failed.error.message).toMatch(/could not be cloned/);
    expect(first.messages).toEqual([["a"], ["c"]]);
    expect(first.start(slotA)).toBe(true);
    first.finish(slotA, "a", done("a"));
    expect(await outcomes.get("a")).toEqual(done("a"));
    expect(sessions.inFlight).toBe(1);
  });
});
