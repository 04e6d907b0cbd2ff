/**
 * The runner's promises with tasks on BullMQ: the property suite of @ujr/core's runner
 * tests (random jobs as data, a reference model) on a real worker process and Redis, a
 * handful of cases (each goes through Redis and a worker). A failure prints the seed and
 * the shrunk scenario; add it here as a plain regression test.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { test } from "@fast-check/vitest";
import { cleanupsAfterEach, redisAvailable, runCleanups, testbed } from "./__fixtures__/helpers.js";
import { runScenario } from "../../core/src/__fixtures__/runner-property/harness.js";
import { brokenPromises } from "../../core/src/__fixtures__/runner-property/invariants.js";
import { caseBudget, scenarioArb, type Scenario } from "../../core/src/__fixtures__/runner-property/scenario.js";

const hasRedis = await redisAvailable();
/**
 * Tries whose code ran in a worker, over all random cases: the suite checked real runs, not
 * only tries that timed out or were cancelled before a worker took them. (Not tasks done: a
 * case may legitimately have none, when its plans fail every try or a stop comes early;
 * counting those failed about 1 run in 30.)
 */
let triesRun = 0;
/** Six one-try tasks of one job, nothing else: every try runs in a worker. */
const allTasksRun: Scenario = {
  jobs: [{ name: "job0", async: false, askMs: 0, tasks: ["a", "b", "c", "d", "e", "f"].map((sig) => ({ sig, ms: 3, plan: [], attempts: 1 })) }],
  ops: [],
};
const runs = Number(process.env.UJR_PROPERTY_BULLMQ_RUNS ?? 4);
const replay = process.env.UJR_PROPERTY_SEED ? { seed: Number(process.env.UJR_PROPERTY_SEED), path: process.env.UJR_PROPERTY_PATH, endOnFailure: true } : {};

describe.skipIf(!hasRedis)("the runner's promises on BullMQ", () => {
  afterAll(() => expect(triesRun, "no try of any random case ran in a worker").toBeGreaterThan(0));
  const cleanups = cleanupsAfterEach();

  // Found by the suite below: a worker's "completed" and its next "active" are read
  // together, and the start was counted before the outcome reached the runner.
  it("never reports more tasks running at once than the workers take", async () => {
    const bed = testbed("started", cleanups);
    await bed.start("w1", { UJR_WORKERS: "2", UJR_CONCURRENCY: "2" });
    const taskLogFile = join(bed.dir, "tries.log");
    writeFileSync(taskLogFile, "");
    const history = await runScenario(allTasksRun, { executor: bed.executor({ size: 8 }), workers: 2, taskLogFile, limitMs: 60_000, taskTimeoutMs: 1000 });
    expect(history.result).toMatchObject({ tasks: { done: 6 } });
    expect(brokenPromises(history)).toEqual([]);
  }, 60_000);

  test.prop([scenarioArb({ maxJobs: 3, maxTasks: 5, outcomes: ["retryable", "final", "hang", "crash"], maxMs: 6, maxOps: 3 })], {
    numRuns: runs,
    // Run first, before the random cases: a case whose tries all run. Random cases may
    // legitimately run none (a stop a few ms in, a job that fails at its first ask: seed
    // -25973989 drew four such), so without it the check below failed by the luck of the
    // draw; with it, it fails only when the worker runs nothing at all.
    examples: [[allTasksRun]],
    timeout: 120_000,
    ...replay,
  })("hold over random histories", async (scenario) => {
    const bed = testbed("promises", cleanups);
    // Two pool threads and two jobs taken at once: a task taken by the worker is running.
    await bed.start("w1", { UJR_WORKERS: "2", UJR_CONCURRENCY: "2" });
    const taskLogFile = join(bed.dir, "tries.log");
    writeFileSync(taskLogFile, "");
    const executor = bed.executor({ size: 8 });
    // Tasks time out after 1 s here: a round trip through Redis and a worker process, whose
    // pool worker may still be starting. With 300 ms, on a loaded machine (the full suite
    // on 2 cores) every try of a case timed out and the cases checked only cancels (no task
    // done in a whole run); hanging tasks still time out.
    const history = await runScenario(scenario, { executor, workers: 2, taskLogFile, limitMs: 60_000, taskTimeoutMs: 1000 });
    expect(brokenPromises(history)).toEqual([]);
    triesRun += history.taskLog.filter((e) => e.kind === "begin").length;
    // Each case has its own queue, worker and folder.
    await runCleanups(cleanups);
  }, caseBudget(runs, 10_000, 600_000));
});
