import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { taskModuleWeight } from "../../runner-local/src/__fixtures__/processes.js";

describe("the tidier's task module in a task process", () => {
  // Every pool process imports it before its first task: the whole of @ujr/core (zod, the
  // runner) cost each run ~70 ms when an import slipped to it (see @ujr/core/task).
  it("loads neither zod nor @ujr/core's full entry, only @ujr/core/task", () => {
    const { code, stderr, heavy, light } = taskModuleWeight(fileURLToPath(new URL("../dist/tasks.js", import.meta.url)));
    expect(code, stderr).toBe(0);
    expect({ heavy, light }).toEqual({ heavy: [], light: true });
  });
});
