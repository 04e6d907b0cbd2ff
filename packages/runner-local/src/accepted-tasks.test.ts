import { describe, expect, it } from "vitest";
import type { TaskOutcome, TaskRun } from "@ujr/core";
import { AcceptedTasks } from "./accepted-tasks.js";

function accepted(id: string) {
  const outcomes: TaskOutcome[] = [];
  const run = { id, job: "j", ref: { module: "m", export: "e" }, args: null, attempt: 1, resolveFrom: [] } satisfies TaskRun;
  return { task: { run, resolve: (outcome: TaskOutcome) => void outcomes.push(outcome) }, outcomes };
}

describe("AcceptedTasks", () => {
  it("settles a task once: a late outcome after a cancellation is dropped", () => {
    const tasks = new AcceptedTasks();
    const a = accepted("a");
    tasks.add(a.task);
    expect(tasks.has("a")).toBe(true);
    expect(tasks.settle(a.task, { ok: false, error: { name: "UjrError", message: "cancelled" } })).toBe(true);
    expect(tasks.settle(a.task, { ok: true, value: 1 })).toBe(false);
    expect(a.outcomes).toEqual([{ ok: false, error: { name: "UjrError", message: "cancelled" } }]);
    expect(tasks.size).toBe(0);
  });

  it("settles the waiting ones in order and leaves those handed out", () => {
    const tasks = new AcceptedTasks();
    const [a, b, c] = [accepted("a"), accepted("b"), accepted("c")];
    for (const x of [a, b, c]) tasks.add(x.task);
    tasks.waiting.shift(); // a: handed to a worker
    tasks.unqueue(c.task); // c: taken out of the line (cancelled by the caller)
    expect(tasks.settleWaiting(() => ({ ok: true, value: "dropped" })).map((task) => task.run.id)).toEqual(["b"]);
    expect(b.outcomes).toEqual([{ ok: true, value: "dropped" }]);
    expect([tasks.has("a"), tasks.has("b"), tasks.has("c")]).toEqual([true, false, true]);
  });
});
