import { defineTask } from "@ujr/core";

/** Returns when it started, so the benchmark can measure emit-to-start latency. */
export const noop = defineTask({
  module: import.meta.url,
  name: "noop",
  run: (args) => performance.timeOrigin + performance.now() - args.emittedAt,
});

/** The raw tinypool worker: the same no-op, without ujr. */
export default function rawNoop(args) {
  return performance.timeOrigin + performance.now() - args.emittedAt;
}
