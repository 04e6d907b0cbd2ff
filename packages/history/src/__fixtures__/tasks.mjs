// Task module of the history tests. Plain JavaScript: the in-process executor imports it as a worker would.
import { defineTask } from "@ujr/core";

const module = import.meta.url;

export const echo = defineTask({ module, name: "echo", run: (args) => args });

export const boom = defineTask({
  module,
  name: "boom",
  run: (args) => {
    const error = new Error(args.message ?? "boom");
    error.code = args.code;
    throw error;
  },
});

/** Waits until the test opens the gate (the in-process executor shares this process's globals). */
export const gated = defineTask({
  module,
  name: "gated",
  run: () => globalThis.__historyGate.promise,
});

export const report = defineTask({
  module,
  name: "report",
  run: async (args, ctx) => {
    ctx.progress({ done: 3, total: 4, message: "pages" });
    return args;
  },
});
