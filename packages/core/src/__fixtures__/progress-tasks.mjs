// A task that reports progress, for the core progress tests (in process).
import { defineTask } from "@ujr/core";

const module = import.meta.url;

/** Reports `reports` (anything, junk included), then waits until `globalThis.__ujrProgressGate` resolves. */
export const reportThenWait = defineTask({
  module,
  name: "reportThenWait",
  run: async (args, ctx) => {
    for (const report of args.reports) ctx.progress(report);
    await globalThis.__ujrProgressGate;
    return "done";
  },
});
