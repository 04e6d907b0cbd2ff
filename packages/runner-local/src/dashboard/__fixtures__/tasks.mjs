// Tasks of the dashboard tests: plain JavaScript, imported as a pool worker would.
import { defineTask } from "@ujr/core";

const module = import.meta.url;

/** Throws an error with the given code and message. */
export const fail = defineTask({
  module,
  name: "fail",
  run: (args) => {
    const error = new Error(args.message ?? "failed");
    error.code = args.code;
    throw error;
  },
});
