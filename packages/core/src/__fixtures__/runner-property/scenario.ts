// Plugins as data: random jobs, tasks and mid-run events for the runner's property tests.
import fc from "fast-check";

export type Outcome = "ok" | "retryable" | "final" | "hang" | "crash";

export interface TaskSpec {
  /** The task's signature; drawn from a small set so that tasks of one job share identities. */
  sig: string;
  /** How long an `ok`, `retryable` or `final` try takes. */
  ms: number;
  /** What each attempt does (attempts past the plan succeed). */
  plan: Outcome[];
  attempts: number;
}

export interface JobSpec {
  name: string;
  /** An async ask waits `askMs` before it answers. */
  async: boolean;
  askMs: number;
  maxTasksPerJob?: number | undefined;
  tasks: TaskSpec[];
  /** After this many settled tasks, the next ask throws JobFailed. */
  failAfter?: number | undefined;
  /** After this many settled tasks, the next ask throws JobDone. */
  doneAfter?: number | undefined;
  /** This ask (1 for the first) throws a plain error: the job is backed off and asked again. */
  errorAt?: number | undefined;
  /** Each answer sets nextCheck this many ms ahead (the next ask waits for it). */
  nextCheckMs?: number | undefined;
}

export type Op =
  | { at: number; kind: "remove"; job: number }
  | { at: number; kind: "replace"; job: number; spec: JobSpec }
  | { at: number; kind: "add"; spec: JobSpec }
  | { at: number; kind: "stop"; graceMs: number }
  /** The wall clock jumps (NTP, a user, a machine that slept): Date.now() moves, the monotonic clock does not. */
  | { at: number; kind: "clock"; jumpMs: number };

export interface Scenario {
  jobs: JobSpec[];
  ops: Op[];
}

export interface ScenarioLimits {
  maxJobs: number;
  maxTasks: number;
  /** Outcomes a try may have (executors that cannot lose a worker leave out `crash`). */
  outcomes: Outcome[];
  maxMs: number;
  maxOps: number;
  /** Wall-clock jumps among the ops (not for executors whose queue keeps wall times, such as BullMQ's delayed jobs). */
  clockJumps?: boolean | undefined;
}

const outcomeArb = (outcomes: Outcome[]) =>
  fc.oneof(
    { weight: 6, arbitrary: fc.constant<Outcome>("ok") },
    { weight: 2, arbitrary: fc.constantFrom<Outcome>(...outcomes) },
  );

const taskArb = (limits: ScenarioLimits) =>
  fc.record({
    sig: fc.constantFrom("a", "b", "c", "d", "e", "f"),
    ms: fc.integer({ min: 0, max: limits.maxMs }),
    plan: fc.array(outcomeArb(limits.outcomes), { maxLength: 3 }),
    attempts: fc.integer({ min: 1, max: 3 }),
  });

const jobArb = (name: string, limits: ScenarioLimits) =>
  fc.record({
    name: fc.constant(name),
    async: fc.boolean(),
    askMs: fc.integer({ min: 0, max: limits.maxMs }),
    maxTasksPerJob: fc.option(fc.integer({ min: 1, max: 4 }), { nil: undefined }),
    tasks: fc.array(taskArb(limits), { minLength: 1, maxLength: limits.maxTasks }),
    failAfter: fc.option(fc.integer({ min: 0, max: limits.maxTasks }), { nil: undefined, freq: 4 }),
    doneAfter: fc.option(fc.integer({ min: 0, max: limits.maxTasks }), { nil: undefined, freq: 4 }),
    errorAt: fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined, freq: 3 }),
    nextCheckMs: fc.option(fc.integer({ min: 0, max: 5 }), { nil: undefined, freq: 3 }),
  });

export function scenarioArb(limits: ScenarioLimits): fc.Arbitrary<Scenario> {
  return fc.integer({ min: 1, max: limits.maxJobs }).chain((count) =>
    fc.record({
      jobs: fc.tuple(...Array.from({ length: count }, (_, index) => jobArb(`job${index}`, limits))),
      ops: fc.array(
        fc.oneof(
          fc.record({ at: fc.integer({ min: 0, max: 40 }), kind: fc.constant("remove" as const), job: fc.integer({ min: 0, max: count - 1 }) }),
          fc.integer({ min: 0, max: count - 1 }).chain((job) =>
            fc.record({ at: fc.integer({ min: 0, max: 40 }), kind: fc.constant("replace" as const), job: fc.constant(job), spec: jobArb(`job${job}`, limits) }),
          ),
          fc.record({ at: fc.integer({ min: 0, max: 40 }), kind: fc.constant("add" as const), spec: jobArb(`added${count}`, limits) }),
          fc.record({ at: fc.integer({ min: 0, max: 60 }), kind: fc.constant("stop" as const), graceMs: fc.integer({ min: 0, max: 30 }) }),
          ...(limits.clockJumps
            ? [fc.record({ at: fc.integer({ min: 0, max: 40 }), kind: fc.constant("clock" as const), jumpMs: fc.constantFrom(-3_600_000, -60_000, 60_000, 3_600_000) })]
            : []),
        ),
        { maxLength: limits.maxOps },
      ),
    }),
  );
}

/**
 * A property test's time limit for `runs` random cases of about `msPerCase` each, never
 * under `floor`. A case still running when the limit passes goes on behind the next test
 * (vitest cannot stop it) and its wall-clock jumps reach that test's history, so a deep run
 * (`UJR_PROPERTY_RUNS=5000`) must get the time it needs rather than fail the next test.
 */
export function caseBudget(runs: number, msPerCase: number, floor: number): number {
  return Math.max(floor, runs * msPerCase);
}
