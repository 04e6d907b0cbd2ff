// Task modules for the distributed tests: plain ESM, as a plugin's would be.
import { existsSync, readdirSync, watch, writeFileSync } from "node:fs";
import { join } from "node:path";
import { randomUUID } from "node:crypto";
import { defineTask } from "@ujr/core";

const tag = () => process.env.UJR_TEST_WORKER ?? `pid${process.pid}`;

/** Resolves when `predicate()` holds, re-checking whenever `dir` changes (no polling sleeps). */
function whenDir(dir, predicate, signal) {
  return new Promise((resolve, reject) => {
    const watcher = watch(dir, () => check());
    const done = (fn) => {
      watcher.close();
      fn();
    };
    const check = () => {
      if (signal?.aborted) return done(() => reject(signal.reason));
      if (predicate()) done(resolve);
    };
    signal?.addEventListener("abort", check, { once: true });
    check();
  });
}

function mark(dir, name) {
  writeFileSync(join(dir, `${name}.${tag()}.${randomUUID()}`), "");
}

function marks(dir, name) {
  return readdirSync(dir).filter((file) => file.startsWith(`${name}.`));
}

export const noop = defineTask({ module: import.meta.url, name: "noop", run: (args) => args ?? null });

/** Records that it ran (one file per execution) and returns who ran it. */
export const record = defineTask({
  module: import.meta.url,
  name: "record",
  run: ({ dir, name }) => {
    mark(dir, name);
    return { name, worker: tag(), at: new Date(0) };
  },
});

/** Marks itself, then waits until tasks of `workers` distinct workers have marked: proves they ran side by side. */
export const rendezvous = defineTask({
  module: import.meta.url,
  name: "rendezvous",
  run: async ({ dir, workers }, { signal }) => {
    mark(dir, "rendezvous");
    await whenDir(dir, () => new Set(marks(dir, "rendezvous").map((file) => file.split(".")[1])).size >= workers, signal);
    return tag();
  },
});

/** Marks that it started, then waits for the file `release` in `dir`. */
export const blockUntil = defineTask({
  module: import.meta.url,
  name: "blockUntil",
  run: async ({ dir, name, value }, { signal }) => {
    mark(dir, name);
    await whenDir(dir, () => existsSync(join(dir, "release")), signal);
    return { value, worker: tag() };
  },
});

/** The first execution marks and blocks forever; any later one returns at once: for stall recovery. */
export const onceThenBlock = defineTask({
  module: import.meta.url,
  name: "onceThenBlock",
  run: async ({ dir, name }) => {
    const earlier = marks(dir, name).length;
    mark(dir, name);
    if (earlier === 0) await new Promise(() => {});
    return { worker: tag(), executions: earlier + 1 };
  },
});

/** Attempt 1 marks and blocks forever (a hang the timeout must stop); later attempts return. */
export const hangFirst = defineTask({
  module: import.meta.url,
  name: "hangFirst",
  run: async ({ dir, name }, { attempt }) => {
    mark(dir, `${name}-attempt${attempt}`);
    if (attempt === 1) await new Promise(() => {});
    return { attempt };
  },
});

/** Fails (with a coded error) until `attempt` reaches `succeedOn`. */
export const flaky = defineTask({
  module: import.meta.url,
  name: "flaky",
  run: (args, { attempt }) => {
    if (attempt < args.succeedOn) {
      const error = new Error(`flaky failure on attempt ${attempt}`);
      error.code = "FLAKY";
      error.retryable = args.retryable ?? true;
      throw error;
    }
    return { attempt };
  },
});
