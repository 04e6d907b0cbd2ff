/**
 * The tinypool worker entry: runs one task try per call. Built to JavaScript because
 * Node 20 cannot load TypeScript in worker threads or child processes.
 */
import { BroadcastChannel, isMainThread } from "node:worker_threads";
import { createLogger, executeTaskRun, markTaskWorker, ujrError, type LogLevel, type TaskOutcome, type TaskProgress, type TaskRun } from "@ujr/core";
import { PROGRESS_TAG, throttleProgress, type ProgressMessage } from "./worker-progress.js";

markTaskWorker();

const logger = createLogger({
  level: (process.env.UJR_LOG_LEVEL as LogLevel | undefined) ?? "info",
  pretty: process.env.UJR_LOG_PRETTY === "1",
  // A thread writes through the runner's own stdout (so a live status view can keep log
  // lines above itself); a child process's stdout is already piped through the runner.
  ...(isMainThread ? {} : { destination: process.stdout }),
});

// Aborted when the runner goes away, so long tasks can stop cooperatively. (SIGTERM keeps
// its default action: a timed-out task's process must die even if it never yields.)
const shutdown = new AbortController();
process.once("disconnect", () => shutdown.abort(new Error("worker shutting down")));

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

/** [module URL, module specifier, export, args, job, run id, attempt, signature, report progress (1) or not (0)] */
export type WorkerMessage = [string, string, string, unknown, string, string, number, string | undefined, (0 | 1)?];

export default async function runTask(message: WorkerMessage): Promise<TaskOutcome> {
  const [moduleUrl, module, exportName, args, job, id, attempt, signature, wantsProgress] = message;
  const run: TaskRun = { id, job, ref: { module, export: exportName }, args, signature, attempt, resolveFrom: [] };
  current = run;
  const progress = wantsProgress ? throttleProgress((reported) => sendProgress(id, reported)) : undefined;
  let outcome: TaskOutcome;
  try {
    outcome = await executeTaskRun(run, { moduleUrl, signal: shutdown.signal, logger, ...(progress ? { onProgress: progress.report } : {}) });
  } finally {
    progress?.end();
  }
  if (outcome.ok) {
    try {
      structuredClone(outcome.value);
    } catch (error) {
      return {
        ok: false,
        error: {
          name: "UjrError",
          code: "UJR_TASK_RESULT_NOT_CLONABLE",
          retryable: false,
          message: `Task ${exportName} of job ${job} returned a value that cannot be sent between processes (${(error as Error).message}). Return plain data.`,
        },
      };
    }
  }
  return outcome;
}
