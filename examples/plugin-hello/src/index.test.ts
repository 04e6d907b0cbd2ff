import { afterEach, describe, expect, it, vi } from "vitest";
import { readFile, readdir } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { collectTasks, createTestContext, runJob, runTask, type TestContext } from "@ujr/core/testing";
import plugin, { greetConfig, type GreetJob } from "./index.js";
import { greet, summarise } from "./tasks.js";

// Task modules are imported by their package specifier, resolved from this package's folder.
const packageDir = fileURLToPath(new URL("..", import.meta.url));
const greetType = plugin.jobs.greet!;

let ctx: TestContext;
afterEach(async () => {
  vi.useRealTimers();
  await ctx?.cleanup();
});

async function createJob(config: unknown) {
  ctx = createTestContext({ name: "hello" });
  return (await greetType.create(greetConfig.parse(config), ctx)) as GreetJob;
}

describe("the greet job type's config", () => {
  it("fills defaults and rejects bad input", () => {
    expect(greetConfig.parse({ names: ["Ada"] })).toEqual({ names: ["Ada"], greeting: "Hello", mode: "once", every: 60_000 });
    expect(greetConfig.parse({ names: ["Ada"], every: "5m" }).every).toBe(300_000);
    expect(greetConfig.safeParse({ names: [] }).success).toBe(false);
    expect(greetConfig.safeParse({ names: ["Ada"], every: "soon" }).success).toBe(false);
    expect(greetConfig.safeParse({ names: ["Ada"], colour: "red" }).success).toBe(false);
  });
});

describe("tasks", () => {
  it("greet writes one file and returns plain data", async () => {
    ctx = createTestContext();
    const { result } = await runTask(greet, { name: "Ada", greeting: "Hi", dir: ctx.stateDir, round: 1 });
    expect(result.text).toBe("Hi, Ada! (round 1)\n");
    expect(await readFile(join(ctx.stateDir, "Ada.txt"), "utf8")).toBe(result.text);
  });

  it("greet refuses a name that would escape its folder, and says retrying cannot help", async () => {
    ctx = createTestContext();
    await expect(runTask(greet, { name: "../etc", greeting: "Hi", dir: ctx.stateDir, round: 1 })).rejects.toMatchObject({
      code: "UJR_HELLO_NAME_INVALID",
      retryable: false,
    });
  });

  it("summarise reports progress and signs the summary when given a key", async () => {
    ctx = createTestContext();
    const file = join(ctx.stateDir, "summary.json");
    const { result, progress } = await runTask(summarise, { file, round: 1, greeted: [], failed: [], signingKey: "a-signing-key" });
    expect(result.signature).toMatch(/^[0-9a-f]{64}$/);
    expect(progress.at(-1)).toEqual({ done: 1, total: 1, message: "summary written" });
    expect(JSON.parse(await readFile(file, "utf8"))).toEqual(result);
  });
});

describe("the greet job", () => {
  it("asks for one greet task per name, told apart by signature", async () => {
    const job = await createJob({ names: ["Ada", "Grace"] });
    const { tasks, done } = await collectTasks(job);
    expect(done).toBe(false);
    expect(tasks.map((task) => [task.ref, task.signature])).toEqual([
      [{ module: "@ujr-examples/plugin-hello/tasks", export: "greet" }, "Ada"],
      [{ module: "@ujr-examples/plugin-hello/tasks", export: "greet" }, "Grace"],
    ]);
  });

  it("once: greets everyone, writes the summary, then is done", async () => {
    const job = await createJob({ names: ["Ada", "Grace", "Edsger"] });
    const result = await runJob(job, { resolveFrom: [packageDir] });
    expect(result.reason).toBe("done");
    expect(result.done.map((event) => event.task.ref.export).sort()).toEqual(["greet", "greet", "greet", "summarise"]);
    expect((await readdir(join(ctx.stateDir, "greetings"))).sort()).toEqual(["Ada.txt", "Edsger.txt", "Grace.txt"]);
    expect(JSON.parse(await readFile(join(ctx.stateDir, "summary.json"), "utf8"))).toMatchObject({ round: 1, greeted: ["Ada", "Edsger", "Grace"], failed: [] });
  });

  it("a bad name fails once (not retried), the others are still greeted and summarised", async () => {
    const job = await createJob({ names: ["Ada", "./hidden"] });
    const result = await runJob(job, { resolveFrom: [packageDir] });
    expect(result.retried).toHaveLength(0);
    expect(result.failed.map((event) => event.error.code)).toEqual(["UJR_HELLO_NAME_INVALID"]);
    expect(job.summary).toMatchObject({ greeted: ["Ada"], failed: [{ name: "./hidden", code: "UJR_HELLO_NAME_INVALID" }] });
  });

  it("continuous: greets again every `every`, waiting on nextCheck (fake time)", async () => {
    vi.useFakeTimers({ now: Date.parse("2030-01-01T00:00:00Z") });
    const job = await createJob({ names: ["Ada"], mode: "continuous", every: "1h", signingKey: "hunter2-hunter2" });
    // A continuous job never finishes: stop it after 3 fake hours (and a bit).
    const result = await runJob(job, { resolveFrom: [packageDir], stopAfterMs: 3 * 3_600_000 + 1_000 });
    expect(result.reason).not.toBe("done");
    expect(job.round).toBe(4);
    expect(result.done.filter((event) => event.task.ref.export === "summarise")).toHaveLength(4);
    expect(await readFile(join(ctx.stateDir, "greetings", "Ada.txt"), "utf8")).toBe("Hello, Ada! (round 4)\n");
    // The signing key is a secret: it never reaches a log line.
    expect(JSON.stringify(ctx.logs)).not.toContain("hunter2-hunter2");
  });
});
