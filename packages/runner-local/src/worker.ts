/**
 * The tinypool worker entry: runs task tries over a session (a thread's MessagePort or a
 * child process's IPC channel). Built to JavaScript because Node 20 cannot load
 * TypeScript in worker threads or child processes.
 */
import { isatty } from "node:tty";
import { BroadcastChannel, isMainThread, type MessagePort } from "node:worker_threads";
import { createLogger, decodeWire, encodeWire, executeTaskRun, markTaskWorker, ujrError, type LogLevel, type TaskOutcome, type TaskProgress, type TaskRun, type WireEncoded } from "@ujr/core/task";
import { PROGRESS_TAG, throttleProgress, type ProgressMessage } from "./worker-progress.js";
import { isTaskMessage, READY_TAG, RESULT_TAG, SLOT_DONE, SLOT_FREE, SLOT_QUEUED, SLOT_STARTED, type ResultMessage, type ThreadTaskMessage, type WorkerMessage } from "./session-protocol.js";

markTaskWorker();

const logger = createLogger({
  level: (process.env.UJR_LOG_LEVEL as LogLevel | undefined) ?? "info",
  pretty: process.env.UJR_LOG_PRETTY === "1",
  // A child process writes each line synchronously into the pipe the runner reads (the
  // default in a task worker), so its lines are out before the task's result is. A thread
  // on a terminal writes through the runner's own stdout, so a live status view can keep
  // log lines above itself; a thread whose output goes to a file or pipe writes straight
  // to file descriptor 1: a thread's stdout is relayed through the runner's event loop,
  // and what is in that relay when the pool ends is lost.
  ...(isMainThread ? {} : isatty(1) ? { destination: process.stdout } : { sync: true }),
});

// Aborted when the runner goes away, so long tasks can stop cooperatively.
const shutdown = new AbortController();
process.once("disconnect", () => shutdown.abort(new Error("worker shutting down")));

/** Tasks this child process is running now (it runs one at a time). */
let running = 0;

if (isMainThread && process.send !== undefined) {
  // Ctrl-C signals the terminal's whole process group: the runner's pool processes get its
  // SIGINT too. The runner then stops gracefully (running tasks get shutdownGrace), so a
  // pool process that died of it would cut short the task it was to finish: while a task
  // runs, this process leaves SIGINT to the runner; idle, it ends as by default. SIGTERM
  // keeps its default action: it is how the pool stops a try it cancels (a timeout, a stop
  // past the grace), whose code must end before another try of the task may begin, even
  // code that never yields. (A service manager should send SIGTERM to the runner alone:
  // systemd's KillMode=mixed.)
  const onInterrupt = () => {
    if (running > 0) return;
    process.removeAllListeners("SIGINT");
    process.kill(process.pid, "SIGINT");
  };
  process.on("SIGINT", onInterrupt);
  // The runner gone (killed, or dead of a signal it did not handle): once idle, nothing
  // will ever come, so end rather than linger with whatever the task modules hold open.
  process.once("disconnect", () => {
    if (running === 0) process.exit(0);
  });
}

let current: TaskRun | undefined;

if (!isMainThread) {
  // In a worker thread, process.exit() ends only the thread, and tinypool then never
  // settles the task. Turn it into a failure of the task that called it.
  // Node itself ends a thread through process.exit after an uncaught exception: let it.
  let dying = false;
  process.on("uncaughtExceptionMonitor", () => (dying = true));
  const exit = process.exit.bind(process);
  process.exit = ((code?: number) => {
    if (dying) return exit(code);
    const task = current ? `${current.ref.module}#${current.ref.export}` : "(unknown)";
    throw ujrError("UJR_WORKER_CRASHED", { job: current?.job ?? "(unknown)", task, reason: `the task called process.exit(${code ?? ""})` });
  }) as typeof process.exit;
}

// Progress goes to the runner outside tinypool's own task channel: a child process sends
// it over its IPC channel (tinypool hands non-pool messages to the run's `channel`); a
// thread posts it on a BroadcastChannel the executor named in UJR_PROGRESS_CHANNEL (one
// per pool: no per-task port to create and transfer).
let progressChannel: BroadcastChannel | undefined;
function sendProgress(runId: string, progress: TaskProgress): void {
  const message: ProgressMessage = [PROGRESS_TAG, runId, progress];
  try {
    if (isMainThread) {
      if (process.connected) process.send?.(message);
      return;
    }
    const name = process.env.UJR_PROGRESS_CHANNEL;
    if (!name) return;
    if (!progressChannel) {
      progressChannel = new BroadcastChannel(name);
      progressChannel.unref();
    }
    progressChannel.postMessage(message);
  } catch {
    // The runner went away: progress is best effort.
  }
}

async function execute(message: WorkerMessage): Promise<TaskOutcome> {
  const [moduleUrl, module, exportName, args, job, id, attempt, signature, wantsProgress] = message;
  const run: TaskRun = { id, job, ref: { module, export: exportName }, args, signature, attempt, resolveFrom: [] };
  current = run;
  const progress = wantsProgress ? throttleProgress((reported) => sendProgress(id, reported)) : undefined;
  try {
    return await executeTaskRun(run, { moduleUrl, signal: shutdown.signal, logger, ...(progress ? { onProgress: progress.report } : {}) });
  } finally {
    progress?.end();
  }
}

function notClonable(message: WorkerMessage, error: unknown): TaskOutcome {
  return {
    ok: false,
    error: {
      name: "UjrError",
      code: "UJR_TASK_RESULT_NOT_CLONABLE",
      retryable: false,
      message: `Task ${message[2]} of job ${message[4]} returned a value that cannot be sent between processes (${(error as Error).message}). Return plain data.`,
    },
  };
}

let sessionStarted = false;

/**
 * A child process's session: one tinypool run that lasts as long as the process and takes
 * tasks over the IPC channel, one at a time, answering each with its outcome (see
 * process-sessions.ts). Never settles: the session ends with the process.
 */
export function session(): Promise<never> {
  if (!sessionStarted) {
    sessionStarted = true;
    process.on("message", (message) => {
      if (!isTaskMessage(message)) return;
      const task = message[1];
      task[3] = decodeWire(task[3] as WireEncoded);
      if (task[7] === null) task[7] = undefined; // JSON turned a missing signature into null
      void runInSession(task);
    });
  }
  process.send?.([READY_TAG]);
  return new Promise<never>(() => {});
}

async function runInSession(message: WorkerMessage): Promise<void> {
  running++;
  let outcome: TaskOutcome;
  try {
    outcome = await execute(message);
  } finally {
    running--;
  }
  // Lines the task logged reach the runner before its result, as with tinypool's own runs.
  if (process.stdout.writableLength > 0) await new Promise((resolve) => process.stdout.write("", resolve));
  if (process.stderr.writableLength > 0) await new Promise((resolve) => process.stderr.write("", resolve));
  if (!process.connected) process.exit(0); // no one to tell: the runner is gone
  let encoded: WireEncoded;
  try {
    encoded = encodeWire(outcome);
  } catch (error) {
    encoded = encodeWire(notClonable(message, error));
  }
  process.send!([RESULT_TAG, message[5], encoded] satisfies ResultMessage);
}

/**
 * A thread's session: one tinypool run that lasts as long as the thread and takes tasks
 * over a MessagePort, in order, one at a time (see thread-sessions.ts). The runner hands
 * the next task ahead, so it waits here when the current one ends. Each task's slot in
 * `slots` decides, with one compare-exchange, whether the thread starts it or the runner
 * cancelled it first. Never settles: the session ends with the thread.
 */
export function threadSession({ port, slots }: { port: MessagePort; slots: SharedArrayBuffer }): Promise<never> {
  const states = new Int32Array(slots);
  const waiting: ThreadTaskMessage[] = [];
  let busy = false;
  let dead = false;
  const next = async (): Promise<void> => {
    busy = true;
    while (!dead && waiting.length > 0) {
      const [slot, message] = waiting.shift()!;
      if (Atomics.compareExchange(states, slot, SLOT_QUEUED, SLOT_STARTED) !== SLOT_QUEUED) {
        // Cancelled before it started: the runner has already settled it.
        Atomics.store(states, slot, SLOT_FREE);
        continue;
      }
      const outcome = await execute(message);
      if (Atomics.compareExchange(states, slot, SLOT_STARTED, SLOT_DONE) !== SLOT_STARTED) {
        // The runner cancelled it while it ran: it is terminating this thread.
        dead = true;
        break;
      }
      try {
        port.postMessage([RESULT_TAG, message[5], outcome]);
      } catch (error) {
        port.postMessage([RESULT_TAG, message[5], notClonable(message, error)]);
      }
    }
    busy = false;
  };
  port.on("message", (batch: ThreadTaskMessage[]) => {
    waiting.push(...batch);
    if (!busy) void next();
  });
  port.postMessage([READY_TAG]);
  return new Promise<never>(() => {});
}
