import { execFile } from "node:child_process";
import { appendFile } from "node:fs/promises";
import { join } from "node:path";
import { defineTask, ujrError } from "../../index.js";

const module = import.meta.url;

/** Appends a line to a file in the job's state folder and reports the time it ran at. */
export const tick = defineTask({
  module,
  name: "tick",
  async run({ stateDir, n }: { stateDir: string; n: number }, ctx) {
    ctx.progress({ done: n, message: `tick ${n}` });
    ctx.logger.info({ n }, "ticked");
    await appendFile(join(stateDir, "ticks.txt"), `${n}\n`);
    return { n, at: Date.now(), attempt: ctx.attempt };
  },
});

/** Fails on its first tries: retryable unless told otherwise. */
export const flaky = defineTask({
  module,
  name: "flaky",
  run({ failUntil, retryable }: { failUntil: number; retryable?: boolean }, ctx) {
    if (ctx.attempt < failUntil) {
      const error = new Error(`attempt ${ctx.attempt} failed`) as Error & { code: string; retryable?: boolean };
      error.code = "FIXTURE_FLAKY";
      if (retryable === false) error.retryable = false;
      throw error;
    }
    return { attempt: ctx.attempt };
  },
});

/** Waits (on a timer) until aborted. */
export const waitForAbort = defineTask({
  module,
  name: "waitForAbort",
  run(_args: Record<string, never>, ctx) {
    return new Promise((_resolve, reject) => {
      ctx.signal.addEventListener("abort", () => reject(ujrError("UJR_TASK_CANCELLED", { job: ctx.job, task: "waitForAbort", reason: "aborted" })));
    });
  },
});

/** Returns something that cannot cross a process boundary. */
export const notClonable = defineTask({ module, name: "notClonable", run: () => ({ fn: () => 1 }) });

/** Real work that takes `ms` of real time whatever the fake clock says (a child process sleeping), then reports the time. */
export const slowIo = defineTask({
  module,
  name: "slowIo",
  async run({ ms }: { ms: number }) {
    await new Promise<void>((resolve, reject) => execFile(process.execPath, ["-e", `setTimeout(() => {}, ${ms})`], (error) => (error ? reject(error) : resolve())));
    return { at: Date.now() };
  },
});
