import type { Tinypool, TinypoolChannel } from "tinypool";
import { decodeWire, encodeWire, type TaskFailure, type TaskOutcome, type TaskRun } from "@ujr/core/task";
import { AcceptedTasks } from "./accepted-tasks.js";
import { isReadyMessage, isResultMessage, TASK_TAG, type TaskMessage, type WorkerMessage } from "./session-protocol.js";

/** What the executor wants to hear from its pool, whichever the isolation. */
export interface PoolHooks {
  /** A task was handed to a worker: it runs from now on. */
  started(runId: string): void;
  /** Any other message a worker sent (progress). */
  message(message: unknown): void;
  /** The failure of a task whose worker went away (exit, fatal error, out of memory). */
  crashed(run: TaskRun, error: unknown): TaskFailure;
}

interface Pending {
  run: TaskRun;
  message: WorkerMessage;
  resolve(outcome: TaskOutcome): void;
  /** The session running it, once handed out. */
  session?: Session | undefined;
}

interface Session {
  controller: AbortController;
  /** Sends to this session's worker; tinypool hands it over when the run reaches a worker. */
  send: ((message: TaskMessage) => void) | undefined;
  ready: boolean;
  /** Opened and not ready yet (its process is starting): counted as idle when sessions open. */
  starting: boolean;
  /**
   * The worker said it is ready before tinypool handed us its sender: dropping that ready
   * left the session starting for ever, and the tasks counting on it waiting.
   */
  readyEarly?: boolean;
  current: Pending | undefined;
}

/**
 * Runs tasks in a tinypool pool of child processes through sessions: each worker holds
 * one long tinypool run, and tasks go to it over its IPC channel (tinypool's `channel`
 * run option), one at a time, from a queue kept here.
 *
 * Why not one tinypool run per task: a run costs the runner two
 * message-port hops and tinypool's bookkeeping on top of the IPC round trip, and with
 * child processes the runner's main thread is the bottleneck. A session pays for the IPC
 * round trip alone; tinypool still starts, replaces and terminates the workers.
 *
 * Semantics are those of one run per task: a task starts when it is handed to an idle
 * worker; cancelling a running task aborts its session, which terminates the worker
 * (tinypool replaces it and a new session opens); a worker that dies fails only the task
 * it was running; tasks not handed out yet can be dropped.
 */
export class ProcessSessions {
  readonly #pool: Tinypool;
  readonly #workers: number;
  readonly #hooks: PoolHooks;
  readonly #tasks = new AcceptedTasks<Pending>();
  readonly #idle: Session[] = [];
  #open = 0;
  /** Sessions whose process is still starting. */
  #starting = 0;
  #closed = false;

  constructor(pool: Tinypool, workers: number, hooks: PoolHooks) {
    this.#pool = pool;
    this.#workers = workers;
    this.#hooks = hooks;
  }

  run(run: TaskRun, message: WorkerMessage): Promise<TaskOutcome> {
    return new Promise((resolve) => {
      this.#tasks.add({ run, message, resolve });
      this.#dispatch();
    });
  }

  /** Tasks accepted and not settled yet. */
  get inFlight(): number {
    return this.#tasks.size;
  }

  /** True while the task is queued or running here. */
  has(runId: string): boolean {
    return this.#tasks.has(runId);
  }

  cancel(runId: string, reason: TaskFailure): void {
    const pending = this.#tasks.get(runId);
    if (!pending) return;
    const session = pending.session;
    if (session?.current === pending) {
      // Terminating its worker is the only way to stop code that never yields.
      session.current = undefined;
      session.controller.abort(reason);
    } else {
      this.#tasks.unqueue(pending);
    }
    this.#tasks.settle(pending, { ok: false, error: reason });
  }

  /** Drops the tasks not handed to a worker yet; returns their run ids. */
  cancelQueued(reason: TaskFailure): string[] {
    return this.#tasks.settleWaiting(() => ({ ok: false, error: reason })).map((pending) => pending.run.id);
  }

  /** Opens one session before any task (its worker starts now) unless one is open: the first task takes it. */
  prestart(): void {
    if (!this.#closed && this.#open === 0) this.#openSession();
  }

  /** Call before destroying the pool: sessions that end then are not reopened. */
  close(): void {
    this.#closed = true;
    const closed = new Error("the pool was closed before the task started");
    this.#tasks.settleWaiting((pending) => ({ ok: false, error: this.#hooks.crashed(pending.run, closed) }));
  }

  #dispatch(): void {
    // Sessions open on demand, one per task beyond the idle and still-starting ones: a
    // task that waits for a process to start does not start a second process. After a
    // worker was terminated, its replacement gets a session when there is work for it.
    const waiting = this.#tasks.waiting;
    while (!this.#closed && this.#open < this.#workers && waiting.length > this.#idle.length + this.#starting) this.#openSession();
    while (this.#idle.length > 0 && waiting.length > 0) this.#hand(this.#idle.pop()!, waiting.shift()!);
  }

  #hand(session: Session, pending: Pending): void {
    try {
      const message = pending.message.slice() as WorkerMessage;
      message[3] = encodeWire(message[3]);
      session.send!([TASK_TAG, message]);
    } catch (error) {
      // The arguments cannot be serialised; the worker never saw the task. V8's
      // serializer throws a plain Error here where postMessage throws a DataCloneError:
      // name it so, and the executor reports it as the caller's data, not a crash.
      this.#idle.push(session);
      const cloneError = Object.assign(new Error((error as Error).message), { name: "DataCloneError" });
      this.#tasks.settle(pending, { ok: false, error: this.#hooks.crashed(pending.run, cloneError) });
      return;
    }
    session.current = pending;
    pending.session = session;
    this.#hooks.started(pending.run.id);
  }

  #openSession(): void {
    this.#open++;
    this.#starting++;
    const session: Session = { controller: new AbortController(), send: undefined, ready: false, starting: true, current: undefined };
    const channel: TinypoolChannel = {
      onMessage: (send) => {
        session.send = send;
        // The worker's ready may have come first: the session is ready now.
        if (session.readyEarly) this.#onReady(session);
      },
      postMessage: (message: unknown) => this.#onMessage(session, message),
    };
    this.#pool.run(null, { name: "session", channel, signal: session.controller.signal }).then(
      () => this.#ended(session, new Error("the worker's session ended")),
      (error: unknown) => this.#ended(session, error),
    );
  }

  #onMessage(session: Session, message: unknown): void {
    if (isResultMessage(message)) {
      const pending = session.current;
      if (!pending || pending.run.id !== message[1]) return;
      session.current = undefined;
      // Settled before the worker's next task is handed (and reported started): the runner sees this outcome first.
      this.#tasks.settle(pending, decodeWire(message[2]) as TaskOutcome);
      this.#idle.push(session);
      this.#dispatch();
    } else if (isReadyMessage(message)) {
      if (!session.send) session.readyEarly = true;
      else this.#onReady(session);
    } else {
      this.#hooks.message(message);
    }
  }

  #onReady(session: Session): void {
    if (session.ready || session.controller.signal.aborted) return;
    session.ready = true;
    this.#startedUp(session);
    this.#idle.push(session);
    this.#dispatch();
  }

  #startedUp(session: Session): void {
    if (!session.starting) return;
    session.starting = false;
    this.#starting--;
  }

  #ended(session: Session, error: unknown): void {
    this.#open--;
    this.#startedUp(session);
    const idle = this.#idle.indexOf(session);
    if (idle >= 0) this.#idle.splice(idle, 1);
    const pending = session.current;
    session.current = undefined;
    if (pending) {
      this.#tasks.settle(pending, { ok: false, error: this.#hooks.crashed(pending.run, error) });
    } else if (!session.ready && !session.controller.signal.aborted && !this.#closed) {
      // The worker died before it could take a task (it cannot start): fail the next
      // task rather than retry a broken worker for ever.
      const next = this.#tasks.waiting.shift();
      if (next) this.#tasks.settle(next, { ok: false, error: this.#hooks.crashed(next.run, error) });
    }
    this.#dispatch();
  }
}
