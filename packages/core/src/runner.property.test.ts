/**
 * The runner's promises (DESIGN.md) as invariants over random histories: random jobs as
 * data (sync and async asks, overlapping signatures, tasks that succeed, fail retryably
 * or for good, hang past their timeout; JobDone/JobFailed at random points; jobs added,
 * removed and replaced mid-run; a stop mid-run; the wall clock set back or forward
 * mid-run, as NTP or a user does), run on a real Runner, and every
 * recorded history checked against the promises and a reference model of how each job
 * ends. A failure prints fast-check's seed and the shrunk scenario: add it below as a
 * plain regression test. UJR_PROPERTY_RUNS sets the number of cases.
 */
import { afterAll, describe, expect, it } from "vitest";
import { fc, test } from "@fast-check/vitest";
import { InProcessExecutor } from "./in-process-executor.js";
import { runScenario } from "./__fixtures__/runner-property/harness.js";
import { brokenPromises } from "./__fixtures__/runner-property/invariants.js";
import { caseBudget, scenarioArb, type Scenario } from "./__fixtures__/runner-property/scenario.js";

const runs = Number(process.env.UJR_PROPERTY_RUNS ?? 150);
/** Replays a failure: UJR_PROPERTY_SEED and UJR_PROPERTY_PATH as fast-check printed them. */
const replay = process.env.UJR_PROPERTY_SEED ? { seed: Number(process.env.UJR_PROPERTY_SEED), path: process.env.UJR_PROPERTY_PATH, endOnFailure: true } : {};

/** Tasks done over all random cases: the suite checked real runs, not only failures. */
let tasksDone = 0;
afterAll(() => expect(tasksDone).toBeGreaterThan(runs));

async function check(scenario: Scenario, size: number): Promise<string[]> {
  const history = await runScenario(scenario, { executor: new InProcessExecutor({ size }), workers: size });
  tasksDone += history.result.tasks.done;
  return brokenPromises(history);
}

describe("Runner promises, in-process executor", () => {
  test.prop([scenarioArb({ maxJobs: 4, maxTasks: 8, outcomes: ["retryable", "final", "hang", "crash"], maxMs: 6, maxOps: 4, clockJumps: true }), fc.integer({ min: 1, max: 4 })], {
    numRuns: runs,
    timeout: 120_000,
    ...replay,
  })("hold over random histories", async (scenario, size) => {
    expect(await check(scenario, size)).toEqual([]);
  }, caseBudget(runs, 200, 300_000));
});

// Found by the random histories with wall-clock jumps (the timing they add made it likely):
// a job whose last task was cancelled by a stop right after it threw JobDone finished (its
// close() under way) while the stop went through the jobs, and was recorded "stopped".
const finishingWhileStopping: Scenario = {"jobs": [{"name": "job0", "async": false, "askMs": 0, "tasks": [{"sig": "a", "ms": 0, "plan": [], "attempts": 1}]}, {"name": "job1", "async": false, "askMs": 0, "tasks": [{"sig": "a", "ms": 0, "plan": [], "attempts": 1}]}, {"name": "job2", "async": false, "askMs": 0, "maxTasksPerJob": 1, "tasks": [{"sig": "a", "ms": 0, "plan": [], "attempts": 1}], "failAfter": 1, "nextCheckMs": 0}, {"name": "job3", "async": false, "askMs": 0, "tasks": [{"sig": "a", "ms": 0, "plan": [], "attempts": 1}, {"sig": "f", "ms": 0, "plan": ["hang"], "attempts": 1}], "failAfter": 2, "doneAfter": 1}], "ops": [{"at": 0, "kind": "add", "spec": {"name": "added4", "async": false, "askMs": 0, "maxTasksPerJob": 1, "tasks": [{"sig": "a", "ms": 0, "plan": ["hang"], "attempts": 1}, {"sig": "a", "ms": 0, "plan": [], "attempts": 1}], "doneAfter": 1, "errorAt": 1, "nextCheckMs": 0}}, {"at": 0, "kind": "clock", "jumpMs": -3600000}, {"at": 7, "kind": "stop", "graceMs": 0}]};

describe("Runner promises, regressions", () => {
  it("a job that ends (JobDone) as the runner stops is recorded done, not stopped", async () => {
    for (let i = 0; i < 20; i++) expect(await check(finishingWhileStopping, 3)).toEqual([]);
  }, 60_000);
});
