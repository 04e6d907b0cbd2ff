import { afterEach, describe, expect, it } from "vitest";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { collectTasks, createTestContext, runJob, runTask, type TestContext } from "@ujr/core/testing";
import plugin, { {{jobTypeCamel}}Config, {{jobTypeClass}}Job } from "./index.js";
import { writeMessage } from "./tasks.js";

// The job's tasks are imported by their specifier ("{{name}}/tasks"), resolved from this package.
const packageDir = fileURLToPath(new URL("..", import.meta.url));

let ctx: TestContext;
afterEach(() => ctx?.cleanup());

describe("{{name}}", () => {
  it("declares the {{jobType}} job type with a validated config", () => {
    expect(Object.keys(plugin.jobs)).toEqual(["{{jobType}}"]);
    expect({{jobTypeCamel}}Config.parse({})).toEqual({ message: "Hello from {{name}}", file: "message.txt" });
    expect({{jobTypeCamel}}Config.safeParse({ message: "" }).success).toBe(false);
  });

  it("writeMessage writes the file", async () => {
    ctx = createTestContext();
    const file = `${ctx.stateDir}/out.txt`;
    const { result } = await runTask(writeMessage, { file, message: "hi" });
    expect(result.bytes).toBe(3);
    expect(await readFile(file, "utf8")).toBe("hi\n");
  });

  it("the job asks for one task, runs it, then is done", async () => {
    ctx = createTestContext();
    const job = new {{jobTypeClass}}Job({{jobTypeCamel}}Config.parse({ message: "tested" }), ctx);
    expect((await collectTasks(job)).tasks).toHaveLength(1);
    const result = await runJob(job, { resolveFrom: [packageDir] });
    expect(result.reason).toBe("done");
    expect(await readFile(`${ctx.stateDir}/message.txt`, "utf8")).toBe("tested\n");
  });
});
