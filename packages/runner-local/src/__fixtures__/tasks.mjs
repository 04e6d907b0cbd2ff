// Tasks for the runner-local tests: plain JavaScript, loaded natively by pool workers.
import { defineTask } from "@ujr/core";
import { appendFileSync, readFileSync, writeFileSync } from "node:fs";

const module = import.meta.url;

export const echo = defineTask({ module, name: "echo", run: (args, ctx) => ({ args, attempt: ctx.attempt, pid: process.pid }) });

/** What the worker was started with (see pool.test.ts). */
export const workerSettings = defineTask({ module, name: "workerSettings", run: () => ({ pid: process.pid, logLevel: process.env.UJR_LOG_LEVEL, pretty: process.env.UJR_LOG_PRETTY }) });

/**
 * The malloc settings the worker got, and whether malloc's heap is advised for huge pages
 * (`hg` among a mapping's VmFlags in /proc/self/smaps) once it has grown by 64 MiB.
 */
export const mallocSettings = defineTask({
  module,
  name: "mallocSettings",
  run: () => {
    const held = [];
    for (let i = 0; i < 64; i++) held.push(Buffer.alloc(1 << 20, 1));
    let smaps = "";
    try {
      smaps = readFileSync("/proc/self/smaps", "utf8");
    } catch {
      // not Linux
    }
    const hugeAdvised = smaps.split("\n").some((line) => line.startsWith("VmFlags:") && / hg( |$)/.test(line));
    return { pid: process.pid, tunables: process.env.GLIBC_TUNABLES ?? null, hugeAdvised, held: held.length };
  },
});

export const noop = defineTask({ module, name: "noop", run: () => null });

export const exitWorker = defineTask({ module, name: "exitWorker", run: () => process.exit(3) });

export const uncaught = defineTask({
  module,
  name: "uncaught",
  run: () =>
    new Promise(() => {
      setTimeout(() => {
        throw new Error("thrown outside the task's promise");
      }, 1);
    }),
});

export const exhaustMemory = defineTask({
  module,
  name: "exhaustMemory",
  run: () => {
    const hoard = [];
    for (;;) hoard.push(new Array(1_000_000).fill(hoard.length));
  },
});

/** Spins the CPU forever: only terminating the worker stops it. */
export const spin = defineTask({
  module,
  name: "spin",
  run: (args) => {
    if (args.marker) writeFileSync(args.marker, String(process.pid));
    for (;;) {}
  },
});

/** Writes `started` to a marker file, waits `ms`, then writes `finished`. */
export const slow = defineTask({
  module,
  name: "slow",
  run: async (args) => {
    writeFileSync(args.marker, "started");
    await new Promise((resolve) => setTimeout(resolve, args.ms));
    writeFileSync(args.marker, "finished");
    return "finished";
  },
});

export const unclonable = defineTask({ module, name: "unclonable", run: () => ({ fn: () => 1 }) });

/** Returns values JSON cannot carry: they must arrive intact from threads and processes. */
export const richValues = defineTask({
  module,
  name: "richValues",
  run: (args) => ({ when: new Date(0), tags: new Map([["a", 1]]), bytes: new Uint8Array([1, 2, 3]), big: 2n ** 70n, echoed: args }),
});

/** Appends its index to a file (one line per run), then takes `ms`: counts how often each task really ran. */
export const appendIndex = defineTask({
  module,
  name: "appendIndex",
  run: async (args) => {
    appendFileSync(args.file, `${args.index}\n`);
    await new Promise((resolve) => setTimeout(resolve, args.ms));
    return args.index;
  },
});
