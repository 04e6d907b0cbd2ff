import { MessageChannel, type MessagePort } from "node:worker_threads";
import type { Tinypool } from "tinypool";
import type { TaskFailure, TaskOutcome, TaskRun } from "@ujr/core";
import { AcceptedTasks } from "./accepted-tasks.js";
import type { PoolHooks } from "./process-sessions.js";
import {
  isReadyMessage,
  RESULT_TAG,
  SLOT_CANCELLED,
  SLOT_DONE,
  SLOT_FREE,
  SLOT_QUEUED,
  SLOT_STARTED,
  type ThreadTaskMessage,
  type WorkerMessage,
} from "./session-protocol.js";

/**
 * Tasks a session holds at most by default: the running one and those handed ahead. A
 * BullMQ worker taking more tasks than it has threads hands them all over at once.
 */
const DEFAULT_MAX_HANDED = 8;

export interface ThreadSessionsOptions {
  /** Tasks a thread holds at most: the running one and those waiting ahead of it (default 8). */
  maxHanded?: number | undefined;
}

interface Pending {
  run: TaskRun;
  message: WorkerMessage;
  resolve(outcome: TaskOutcome): void;
  session?: Session | undefined;
  slot: number;
}

interface Session {
  controller: AbortController;
  port: MessagePort;
  states: Int32Array;
  ready: boolean;
  /** Opened and not ready yet (its thread is starting): counted as idle when sessions open. */
  starting: boolean;
  ended: boolean;
  /** Why the thread ended. */
  error?: unknown;
  /** Tasks handed to the thread, in its order: the first runs (or is about to), the others wait ahead. */
  handed: Pending[];
  /** Handed and not posted yet: a tick's tasks go to the thread in one message. */
  outbox: ThreadTaskMessage[];
}

type ResultMessage = [typeof RESULT_TAG, string, TaskOutcome];

function isResult(message: unknown): message is ResultMessage {
  return Array.isArray(message) && message.length === 3 && message[0] === RESULT_TAG;
}

/**
 * Runs tasks in a tinypool pool of threads through sessions: each thread holds one long
 * tinypool run and takes tasks over a MessagePort (structured clone), runs them one at a
 * time, in order. Each session is handed its next tasks before its current one ends, so
 * the thread finds them waiting instead of sleeping until the runner answers; the tasks
 * handed in one tick travel in one message (one wake of the thread for all of them).
 * Idle threads are served first, then one more task ahead for each thread in turn.
 *
 * Semantics are those of one run per task: the first task handed to a session starts
 * at once; one handed ahead starts when the thread reports the result of the one
 * before (the thread runs its queue in order). Who wins between the thread starting
 * a task and the runner cancelling it is decided by one compare-exchange on the task's
 * slot in a shared Int32Array. Cancelling a running task aborts its session, which makes
 * tinypool terminate the thread; the task handed ahead to it goes back to the front of the
 * queue. A thread that dies fails only the task it was running.
 */
export class ThreadSessions {
  readonly #pool: Tinypool;
  readonly #workers: number;
  readonly #hooks: PoolHooks;
  readonly #maxHanded: number;
  /** Per session: the tasks it holds, and cancelled ones its thread has not skipped yet. */
  readonly #slots: number;
  readonly #tasks = new AcceptedTasks<Pending>();
  /** Waiting for a thread, oldest first (the accepted tasks' waiting line). */
  readonly #queue = this.#tasks.waiting;
  readonly #ready = new Set<Session>();
  #flushing = false;
  #open = 0;
  /** Sessions whose thread is still starting. */
  #starting = 0;
  #closed = false;

  constructor(pool: Tinypool, workers: number, hooks: PoolHooks, options: ThreadSessionsOptions = {}) {
    this.#pool = pool;
    this.#workers = workers;
    this.#hooks = hooks;
    this.#maxHanded = Math.max(1, options.maxHanded ?? DEFAULT_MAX_HANDED);
    this.#slots = 2 * this.#maxHanded;
  }

  run(run: TaskRun, message: WorkerMessage): Promise<TaskOutcome> {
    return new Promise((resolve) => {
      this.#tasks.add({ run, message, resolve, slot: -1 });
      this.#dispatch();
    });
  }

  /** Tasks accepted and not settled yet. */
  get inFlight(): number {
    return this.#tasks.size;
  }

  has(runId: string): boolean {
    return this.#tasks.has(runId);
  }

  cancel(runId: string, reason: TaskFailure): void {
    const pending = this.#tasks.get(runId);
    if (!pending) return;
    const session = pending.session;
    if (!session) {
      this.#tasks.unqueue(pending);
    } else if (Atomics.compareExchange(session.states, pending.slot, SLOT_QUEUED, SLOT_CANCELLED) === SLOT_QUEUED) {
      // Not started: the thread skips it (and frees its slot); nothing to terminate.
      this.#unhand(session, pending);
    } else if (Atomics.compareExchange(session.states, pending.slot, SLOT_STARTED, SLOT_CANCELLED) === SLOT_STARTED) {
      // Running: terminating its thread is the only way to stop code that never yields.
      // The thread starts nothing after it (its own compare-exchange at the end fails).
      this.#ready.delete(session);
      session.controller.abort(reason);
    }
    // Otherwise it has finished and its result is on its way: dropped when it comes.
    this.#tasks.settle(pending, { ok: false, error: reason });
  }

  /** Drops the tasks not started yet (queued here or handed ahead); returns their run ids. */
  cancelQueued(reason: TaskFailure): string[] {
    const dropped = this.#queue.splice(0);
    for (const session of this.#ready) {
      for (const pending of session.handed.slice(1)) {
        if (!this.#tasks.isOpen(pending)) continue;
        if (Atomics.compareExchange(session.states, pending.slot, SLOT_QUEUED, SLOT_CANCELLED) !== SLOT_QUEUED) continue;
        this.#unhand(session, pending);
        dropped.push(pending);
      }
    }
    for (const pending of dropped) this.#tasks.settle(pending, { ok: false, error: reason });
    return dropped.map((pending) => pending.run.id);
  }

  /** Call before destroying the pool: sessions that end then are not reopened. */
  /** Opens one session before any task (its worker starts now) unless one is open: the first task takes it. */
  prestart(): void {
    if (!this.#closed && this.#open === 0) this.#openSession();
  }

  close(): void {
    this.#closed = true;
    this.#failQueue(new Error("the pool was closed before the task started"));
  }

  #failQueue(error: unknown): void {
    this.#tasks.settleWaiting((pending) => ({ ok: false, error: this.#hooks.crashed(pending.run, error) }));
  }

  /** Takes a task the thread will skip off its session's list. */
  #unhand(session: Session, pending: Pending): void {
    const index = session.handed.indexOf(pending);
    if (index < 0) return;
    session.handed.splice(index, 1);
    // The next one is first in line now: it starts as soon as the thread gets to it.
    if (index === 0 && session.handed.length > 0) this.#hooks.started(session.handed[0]!.run.id);
    if (!session.ended) this.#dispatch();
  }

  #dispatch(): void {
    if (this.#queue.length === 0) {
      this.#steal();
      return;
    }
    let idle = 0;
    for (const session of this.#ready) if (session.handed.length === 0) idle++;
    // Sessions open on demand, one per task beyond the idle and still-starting ones: a
    // task that waits for a thread to start does not start a second thread. After a thread
    // was terminated, its replacement gets a session when there is work for it.
    idle += this.#starting;
    while (!this.#closed && this.#open < this.#workers && this.#queue.length > idle) {
      this.#openSession();
      idle++;
    }
    // Idle sessions first, then one more task ahead for each, round by round.
    for (let depth = 0; depth < this.#maxHanded; depth++) {
      for (const session of this.#ready) {
        if (this.#queue.length === 0) return;
        while (session.handed.length === depth && this.#queue.length > 0) if (!this.#hand(session, this.#queue[0]!)) break;
      }
    }
  }

  /**
   * A thread with nothing to do takes the oldest task handed ahead to a busy one (if that
   * thread has not started it): a task never waits behind a long one while a thread is
   * free, and tasks start in the order they came. (Taking the newest let a later task
   * start first: with three handed to one thread while the other started, the second
   * waited behind the first for as long as it ran.)
   */
  #steal(): void {
    for (const idle of this.#ready) {
      if (idle.handed.length > 0) continue;
      for (const busy of this.#ready) {
        const ahead = busy.handed.length >= 2 ? busy.handed[1] : undefined;
        if (!ahead || Atomics.compareExchange(busy.states, ahead.slot, SLOT_QUEUED, SLOT_CANCELLED) !== SLOT_QUEUED) continue;
        busy.handed.splice(1, 1);
        ahead.session = undefined;
        ahead.slot = -1;
        this.#queue.unshift(ahead);
        this.#hand(idle, ahead);
        break;
      }
    }
  }

  /** Hands the queue's first task to the session; false if the session has no free slot. */
  #hand(session: Session, pending: Pending): boolean {
    let slot = -1;
    for (let index = 0; index < this.#slots; index++) {
      if (Atomics.load(session.states, index) === SLOT_FREE) {
        slot = index;
        break;
      }
    }
    if (slot < 0) return false;
    this.#queue.shift();
    Atomics.store(session.states, slot, SLOT_QUEUED);
    pending.session = session;
    pending.slot = slot;
    session.handed.push(pending);
    session.outbox.push([slot, pending.message]);
    if (!this.#flushing) {
      this.#flushing = true;
      setImmediate(() => this.#flush());
    }
    if (session.handed.length === 1) this.#hooks.started(pending.run.id);
    return true;
  }

  /**
   * Posts the tasks handed since the last flush, one message per session: a BullMQ worker
   * receives its tasks in bunches (the replies of one read), and each message wakes a
   * sleeping thread, the dearest part of a short task.
   */
  #flush(): void {
    this.#flushing = false;
    for (const session of this.#ready) {
      if (session.outbox.length === 0) continue;
      const batch = session.outbox;
      session.outbox = [];
      try {
        session.port.postMessage(batch);
      } catch {
        // Some task's arguments cannot be cloned (a DataCloneError): one by one, to fail only those.
        for (const task of batch) this.#postOne(session, task);
      }
    }
  }

  #postOne(session: Session, task: ThreadTaskMessage): void {
    if (Atomics.load(session.states, task[0]) !== SLOT_QUEUED) {
      // Cancelled or stolen meanwhile: the thread need not see it; its slot is free again.
      Atomics.store(session.states, task[0], SLOT_FREE);
      return;
    }
    try {
      session.port.postMessage([task]);
    } catch (error) {
      // The thread never saw this task: its slot is free again.
      const pending = session.handed.find((handed) => handed.slot === task[0]);
      Atomics.store(session.states, task[0], SLOT_FREE);
      if (!pending) return;
      this.#unhand(session, pending);
      pending.session = undefined;
      pending.slot = -1;
      this.#tasks.settle(pending, { ok: false, error: this.#hooks.crashed(pending.run, error) });
    }
  }

  #openSession(): void {
    this.#open++;
    this.#starting++;
    const { port1, port2 } = new MessageChannel();
    const session: Session = {
      controller: new AbortController(),
      port: port1,
      states: new Int32Array(new SharedArrayBuffer(this.#slots * Int32Array.BYTES_PER_ELEMENT)),
      ready: false,
      starting: true,
      ended: false,
      handed: [],
      outbox: [],
    };
    port1.on("message", (message: unknown) => this.#onMessage(session, message));
    this.#pool
      .run({ port: port2, slots: session.states.buffer }, { name: "threadSession", transferList: [port2], signal: session.controller.signal })
      .then(
        () => this.#ended(session, new Error("the worker's session ended")),
        (error: unknown) => this.#ended(session, error),
      );
  }

  #onMessage(session: Session, message: unknown): void {
    if (isResult(message)) {
      const pending = session.handed.shift();
      if (!pending) return;
      Atomics.store(session.states, pending.slot, SLOT_FREE);
      // Settled before the next one is reported started: the runner sees this outcome first.
      this.#tasks.settle(pending, message[2]); // a no-op when it was cancelled after it finished
      // The thread has moved on to the next one in its queue: it runs from now on.
      if (session.handed.length > 0) this.#hooks.started(session.handed[0]!.run.id);
      if (session.ended) return this.#settleEnded(session);
      this.#dispatch();
    } else if (isReadyMessage(message)) {
      if (session.ready || session.ended || session.controller.signal.aborted) return;
      session.ready = true;
      this.#startedUp(session);
      this.#ready.add(session);
      this.#dispatch();
    }
  }

  #startedUp(session: Session): void {
    if (!session.starting) return;
    session.starting = false;
    this.#starting--;
  }

  #ended(session: Session, error: unknown): void {
    this.#open--;
    this.#startedUp(session);
    session.ended = true;
    this.#ready.delete(session);
    session.error = error;
    if (session.handed.some((pending) => Atomics.load(session.states, pending.slot) === SLOT_DONE)) {
      // A task finished before the thread went: its result is still on its way.
      setTimeout(() => this.#settleEnded(session, true), 1000).unref();
      return;
    }
    this.#settleEnded(session, true);
  }

  /** Settles what a thread that ended was given, once the results it sent have come. */
  #settleEnded(session: Session, force = false): void {
    if (session.port.listenerCount("message") === 0) return; // settled already
    if (!force && session.handed.some((pending) => Atomics.load(session.states, pending.slot) === SLOT_DONE)) return;
    session.port.removeAllListeners("message");
    session.port.close();
    session.outbox = [];
    const error = session.error;
    const requeue: Pending[] = [];
    let crashed = false;
    for (const pending of session.handed.splice(0)) {
      const state = Atomics.load(session.states, pending.slot);
      pending.session = undefined;
      pending.slot = -1;
      if (!this.#tasks.isOpen(pending)) continue; // settled (cancelled)
      if (state === SLOT_QUEUED) {
        // Never started: back to the front of the queue.
        requeue.push(pending);
      } else {
        // It was running when the thread went (or its result never came).
        crashed = true;
        this.#tasks.settle(pending, { ok: false, error: this.#hooks.crashed(pending.run, error) });
      }
    }
    this.#queue.unshift(...requeue);
    if (!crashed && !session.ready && !session.controller.signal.aborted && !this.#closed) {
      // The thread died before it could take a task (it cannot start): fail the next
      // task rather than retry a broken thread for ever.
      const next = this.#queue.shift();
      if (next) this.#tasks.settle(next, { ok: false, error: this.#hooks.crashed(next.run, error) });
    }
    if (this.#closed) this.#failQueue(new Error("the pool was closed before the task started"));
    else this.#dispatch();
  }
}
