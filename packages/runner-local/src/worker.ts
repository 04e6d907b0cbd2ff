/**
 * The tinypool worker entry: runs one task try per call. Built to JavaScript because
 * Node 20 cannot load TypeScript in worker threads or child processes.
 */
import { isMainThread } from "node:worker_threads";
import { createLogger, executeTaskRun, markTaskWorker, ujrError, type LogLevel, type TaskOutcome, type TaskRun } from "@ujr/core";

markTaskWorker();

const logger = createLogger({
  level: (process.env.UJR_LOG_LEVEL as LogLevel | undefined) ?? "info",
  pretty: process.env.UJR_LOG_PRETTY === "1",
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

/** [module URL, module specifier, export, args, job, run id, attempt, signature] */
export type WorkerMessage = [string, string, string, unknown, string, string, number, string | undefined];

export default async function runTask(message: WorkerMessage): Promise<TaskOutcome> {
  const [moduleUrl, module, exportName, args, job, id, attempt, signature] = message;
  const run: TaskRun = { id, job, ref: { module, export: exportName }, args, signature, attempt, resolveFrom: [] };
  current = run;
  const outcome = await executeTaskRun(run, { moduleUrl, signal: shutdown.signal, logger });
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
