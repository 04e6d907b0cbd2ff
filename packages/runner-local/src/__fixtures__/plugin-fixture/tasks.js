import { defineTask } from "@ujr/core";
import { appendFileSync, writeFileSync } from "node:fs";

// Addressed by package specifier: the worker must resolve it from the config's folder.
export const record = defineTask({
  module: "@acme/ujr-plugin-fixture/tasks",
  name: "record",
  run: async (args, ctx) => {
    if (args.delayMs) {
      // Lets tests see a task in flight (graceful shutdown): announce, then take a while.
      writeFileSync(`${args.file}.started`, args.line);
      await new Promise((resolve) => setTimeout(resolve, args.delayMs));
    }
    appendFileSync(args.file, `${args.line}\n`);
    ctx.logger.debug({ line: args.line }, "record wrote");
    return args.line;
  },
});
