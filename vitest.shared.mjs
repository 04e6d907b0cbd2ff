// Shared vitest settings for every package (each package's vitest.config.mjs re-exports this).
import { defineConfig } from "vitest/config";

// Node 20 lacks Map.groupBy / Object.groupBy, which vitest's reporter uses when it prints
// failures; without them a failing test crashes the reporter instead of being shown.
if (typeof Map.groupBy !== "function") {
  Map.groupBy = (items, keyOf) => {
    const groups = new Map();
    let index = 0;
    for (const item of items) {
      const key = keyOf(item, index++);
      if (!groups.has(key)) groups.set(key, []);
      groups.get(key).push(item);
    }
    return groups;
  };
}
if (typeof Object.groupBy !== "function") {
  Object.groupBy = (items, keyOf) => Object.fromEntries(Map.groupBy(items, keyOf));
}

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // The machine has two cores; workers beyond that only add contention to real-process tests.
    maxWorkers: 2,
  },
});
