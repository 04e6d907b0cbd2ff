// Task module used by the core tests. Plain JavaScript: the in-process executor imports
// it natively, as a worker would.
import { defineTask } from "@ujr/core";

const module = import.meta.url;
const gates = (globalThis.__ujrTestGates ??= new Map());
const counters = (globalThis.__ujrTestCounters ??= new Map());

/** A promise a test resolves: lets a task stay running until the test says so. */
export function gate(key) {
  let entry = gates.get(key);
  if (!entry) {
    let open;
    const promise = new Promise((resolve) => (open = resolve));
    entry = { promise, open };
    gates.set(key, entry);
  }
  return entry;
}

export const echo = defineTask({ module, name: "echo", run: (args, ctx) => ({ args, attempt: ctx.attempt, job: ctx.job }) });

export const boom = defineTask({
  module,
  name: "boom",
  run: (args) => {
    const error = new Error(args.message ?? "boom");
    error.code = args.code;
    if (args.retryable === false) error.retryable = false;
    throw error;
  },
});

/** Fails until it has been called `failures` times for `key`, then returns the attempt. */
export const flaky = defineTask({
  module,
  name: "flaky",
  run: (args, ctx) => {
    const calls = (counters.get(args.key) ?? 0) + 1;
    counters.set(args.key, calls);
    if (calls <= args.failures) throw new Error(`flaky failure ${calls}`);
    return { attempt: ctx.attempt, calls };
  },
});

/** Runs until the test opens gate(args.key), or its signal aborts. */
export const waitForGate = defineTask({
  module,
  name: "waitForGate",
  run: (args, ctx) =>
    new Promise((resolve, reject) => {
      gate(args.key).promise.then(() => resolve(args.key));
      ctx.signal.addEventListener("abort", () => reject(new Error("aborted")));
    }),
});

export function plainFunction(args) {
  return args.value * 2;
}

/** Runs `args.steps` timer steps of `args.ms` each: a task whose time is spent in its own timers. */
export const steps = defineTask({
  module,
  name: "steps",
  run: async (args) => {
    for (let i = 0; i < args.steps; i++) await new Promise((resolve) => setTimeout(resolve, args.ms));
    return args.steps;
  },
});
