// Tasks that report progress, for the progress tests: plain JavaScript, loaded natively by pool workers.
import { defineTask } from "@ujr/core";
import { existsSync } from "node:fs";

const module = import.meta.url;

/** Reports `steps` progress updates in a tight loop, then waits until the test writes `marker`. */
export const reportThenWait = defineTask({
  module,
  name: "reportThenWait",
  run: async (args, ctx) => {
    for (let step = 1; step <= args.steps; step++) ctx.progress({ done: step, total: args.steps, message: `step ${step}` });
    while (!existsSync(args.marker)) {
      if (ctx.signal.aborted) throw new Error("aborted");
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    return args.steps;
  },
});

