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
  process.exit = ((code?: number) => {
    const task = current ? `${current.ref.module}#${current.ref.export}` : "(unknown)";
    throw ujrError("UJR_WORKER_CRASHED", { job: current?.job ?? "(unknown)", task, reason: `the task called process.exit(${code ?? ""})` });
  }) as typeof process.exit;
}

export interface WorkerMessage {
  run: TaskRun;
  moduleUrl: string;
}

export default async function runTask(message: WorkerMessage): Promise<TaskOutcome> {
  current = message.run;
  const outcome = await executeTaskRun(message.run, { moduleUrl: message.moduleUrl, signal: shutdown.signal, logger });
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
          message: `Task ${message.run.ref.export} of job ${message.run.job} returned a value that cannot be sent between processes (${(error as Error).message}). Return plain data.`,
        },
      };
    }
  }
  return outcome;
}
