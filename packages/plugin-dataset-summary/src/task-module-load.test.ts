import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { runLoading } from "../../runner-local/src/__fixtures__/processes.js";

describe("the summary's task module in a task process", () => {
  // Every pool process imports it before its first task: the whole of @ujr/core (zod, the
  // runner) costs each process start tens of milliseconds (see @ujr/core/task).
  it("loads neither zod nor @ujr/core's full entry, only @ujr/core/task", () => {
    const tasks = fileURLToPath(new URL("../dist/tasks.js", import.meta.url));
    const { code, stderr, loaded } = runLoading(["--input-type=module", "-e", `await import(${JSON.stringify(tasks)});`]);
    expect(code, stderr).toBe(0);
    expect(loaded.some((url) => url.endsWith("/core/dist/task-api.js"))).toBe(true);
    expect(loaded.filter((url) => /\/zod\/|\/core\/dist\/index\.js$|\/core\/dist\/runner\.js$/.test(url))).toEqual([]);
  });
});
