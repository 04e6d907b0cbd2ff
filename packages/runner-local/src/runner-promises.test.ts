/**
 * The runner's promises on the local pool (threads and processes): the outside report's
 * cases as examples, then the property suite of @ujr/core's runner tests on real
 * workers (fewer cases: each starts real threads or processes). A failure prints the
 * seed and the shrunk scenario; add it here as a plain regression test.
 */
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { test } from "@fast-check/vitest";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { JobDone, makeTask, type Job, type Task } from "@ujr/core";
import { LocalJobsRunner } from "./local-runner.js";
import { TinypoolExecutor, type Isolation } from "./tinypool-executor.js";
import { runScenario } from "../../core/src/__fixtures__/runner-property/harness.js";
import { brokenPromises } from "../../core/src/__fixtures__/runner-property/invariants.js";
import { caseBudget, scenarioArb } from "../../core/src/__fixtures__/runner-property/scenario.js";

const fixtures = new URL("./__fixtures__/tasks.mjs", import.meta.url).href;
const runs = Number(process.env.UJR_PROPERTY_POOL_RUNS ?? 12);
const replay = process.env.UJR_PROPERTY_SEED ? { seed: Number(process.env.UJR_PROPERTY_SEED), path: process.env.UJR_PROPERTY_PATH, endOnFailure: true } : {};

/** Tasks done over all random cases: the suite checked real runs, not only failures. */
let tasksDone = 0;
afterAll(() => expect(tasksDone).toBeGreaterThan(0));

const folders: string[] = [];
const executors: TinypoolExecutor[] = [];
afterEach(async () => {
  await Promise.all(executors.splice(0).map((executor) => executor.close()));
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true });
});

function tempFolder(): string {
  const folder = mkdtempSync(join(tmpdir(), "ujr-promises-"));
  folders.push(folder);
  return folder;
}

/** The outside report's job: 200 tasks, an ask that reads "a folder" for 5 ms, every pending task returned on each ask. */
class SlowAskJob implements Job {
  readonly done = new Set<number>();
  constructor(
    readonly name: string,
    readonly file: string,
    readonly count: number,
  ) {}
  async getRunnableTasks(): Promise<Task[]> {
    await delay(5);
    if (this.done.size === this.count) throw new JobDone();
    const tasks: Task[] = [];
    for (let index = 0; index < this.count; index++) {
      if (!this.done.has(index)) tasks.push(makeTask({ module: fixtures, export: "appendIndex" }, { file: this.file, index, ms: 2 }, { signature: String(index) }));
    }
    return tasks;
  }
  onTaskDone(_task: Task, index: unknown): void {
    this.done.add(index as number);
  }
}

for (const isolation of ["thread", "process"] as Isolation[]) {
  describe(`the runner's promises on a ${isolation} pool`, () => {
    it("a job whose ask is async runs each of its 200 tasks exactly once", async () => {
      const file = join(tempFolder(), "runs.txt");
      writeFileSync(file, "");
      const job = new SlowAskJob("slow-ask", file, 200);
      const result = await new LocalJobsRunner({ jobs: [job], workers: 2, isolation, handleSignals: false, logLevel: "silent" }).run();
      expect(result).toMatchObject({ reason: "done", failedJobs: [], tasks: { done: 200, failed: 0 } });
      const ran = readFileSync(file, "utf8").trim().split("\n").map(Number);
      expect(ran).toHaveLength(200);
      expect(new Set(ran).size).toBe(200);
    });

    it("reports a task started when a worker starts it, never more at once than the pool has workers", async () => {
      const file = join(tempFolder(), "runs.txt");
      const tasks = Array.from({ length: 12 }, (_, index) => makeTask({ module: fixtures, export: "appendIndex" }, { file, index, ms: 30 }, { signature: String(index) }));
      let pending = [...tasks];
      const job: Job = {
        name: "queued",
        getRunnableTasks() {
          if (pending.length === 0) throw new JobDone();
          return pending;
        },
        onTaskDone(done) {
          pending = pending.filter((task) => task !== done);
        },
      };
      const runner = new LocalJobsRunner({ jobs: [job], workers: 2, isolation, handleSignals: false, logLevel: "silent" });
      let peak = 0;
      let running = 0;
      const problems: string[] = [];
      runner.on("task:started", (event) => {
        if (!(event.startedAt! >= event.submittedAt)) problems.push(`${event.signature} started at ${event.startedAt}, before it was submitted at ${event.submittedAt}`);
        peak = Math.max(peak, ++running, runner.snapshot().running.length);
      });
      runner.on("task:done", (event) => {
        running--;
        // Running time: never more than since it started (the queue wait is not in it); a
        // duration is whole ms of the monotonic clock, the wall clock's reads whole ms too
        if (event.startedAt === undefined || event.durationMs > Date.now() - event.startedAt + 1) problems.push(`${event.signature} ran ${event.durationMs} ms from ${event.startedAt}`);
      });
      const result = await runner.run();
      expect(result.tasks.done).toBe(12);
      expect(problems).toEqual([]);
      // The executor holds more than its workers (its queue): those wait, they do not run.
      expect(peak).toBeLessThanOrEqual(2);
    });

    test.prop([scenarioArb({ maxJobs: 3, maxTasks: 6, outcomes: ["retryable", "final", "hang", "crash"], maxMs: 6, maxOps: 3, clockJumps: true })], {
      numRuns: runs,
      timeout: 120_000,
      ...replay,
    })("its promises hold over random histories", async (scenario) => {
      const executor = new TinypoolExecutor({ workers: 2, isolation, logLevel: "silent" });
      executors.push(executor);
      const taskLogFile = join(tempFolder(), "tries.log");
      writeFileSync(taskLogFile, "");
      // A cold pool's first task loads its module: 150 ms before a try times out.
      const history = await runScenario(scenario, { executor, workers: 2, taskLogFile, limitMs: 60_000, taskTimeoutMs: 150 });
      expect(brokenPromises(history)).toEqual([]);
      tasksDone += history.result.tasks.done;
    }, caseBudget(runs, 2_000, 600_000));
  });
}
