// The one task of the runner's property tests. Plain JavaScript: in-process executors
// import it natively and pool workers import it by reference, as they would a plugin's.
// Each try records when its code begins and ends: in the test's own process through
// the recorder the harness installs on globalThis, in a worker by appending to a file
// (appends are ordered across processes, so the file is one global order).
import { appendFileSync } from "node:fs";
import { defineTask } from "@ujr/core";

const module = import.meta.url;

function record(log, kind, runId, key) {
  const recorder = globalThis.__ujrPropertyRecorder;
  if (recorder) recorder.task(kind, runId, key);
  else if (log) appendFileSync(log, `${kind} ${runId} ${key}\n`);
}

function failure(outcome) {
  const error = new Error(`${outcome} failure (scripted)`);
  error.code = outcome === "crash" ? "UJR_WORKER_CRASHED" : "SCRIPTED_FAILURE";
  if (outcome === "final") error.retryable = false;
  return error;
}

/** Does what its plan says for this attempt: ok, retryable, final, hang (until aborted) or crash (its worker). */
export const act = defineTask({
  module,
  name: "act",
  run: (args, ctx) =>
    new Promise((resolve, reject) => {
      const outcome = args.plan[ctx.attempt - 1] ?? "ok";
      const runId = ctx.taskId;
      record(args.log, "begin", runId, args.key);
      let ended = false;
      const end = () => {
        if (ended) return false;
        ended = true;
        record(args.log, "end", runId, args.key);
        return true;
      };
      // An abort ends the try at once (an in-process executor settles a cancel without waiting).
      const onAbort = () => {
        if (end()) reject(ctx.signal.reason ?? new Error("aborted"));
      };
      if (ctx.signal.aborted) return onAbort();
      ctx.signal.addEventListener("abort", onAbort, { once: true });
      if (outcome === "hang") return;
      if (outcome === "crash" && !globalThis.__ujrPropertyRecorder) {
        end();
        process.exit(3);
      }
      setTimeout(() => {
        ctx.signal.removeEventListener("abort", onAbort);
        if (!end()) return;
        if (outcome === "ok") resolve({ key: args.key });
        else reject(failure(outcome));
      }, args.ms);
    }),
});
