// Runs a scenario on a real Runner and records everything that happened, in one order.
import { appendFileSync, readFileSync } from "node:fs";
import { setTimeout as delay } from "node:timers/promises";
import { JobDone, JobFailed, Runner, type Executor, type Job, type JobChanges, type RunResult, type Task, type TaskEvent, type TaskOutcome, type TaskRun } from "../../index.js";
import type { JobSpec, Scenario } from "./scenario.js";
// @ts-expect-error plain JS fixture
import { act } from "./tasks.mjs";

export type Recorded =
  | { type: "ask"; instance: number; ask: number }
  | { type: "threw"; instance: number; kind: "done" | "failed" }
  | { type: "hook"; instance: number; key: string; kind: "done" | "failed" }
  | { type: "added"; instance: number; name: string }
  | { type: "removed"; instance: number; name: string }
  | { type: "submit"; runId: string; instance: number; name: string; key: string; attempt: number; ask: number }
  | { type: "outcome"; runId: string }
  /** `startedReal`: the runner's startedAt on the harness's clock (less the wall clock's jumps so far). */
  | { type: "started"; runId: string; attempt: number; instance: number; name: string; key: string; startedAt: number | undefined; startedReal: number | undefined }
  | {
      type: "terminal";
      runId: string;
      instance: number;
      name: string;
      key: string;
      kind: "done" | "failed" | "timeout" | "retry" | "cancelled";
      durationMs: number;
      startedAt?: number | undefined;
    }
  | { type: "ending"; name: string; outcome: "done" | "failed" }
  | { type: "stop"; graceMs: number }
  | { type: "clock"; jumpMs: number }
  | { type: "begin" | "end"; runId: string; key: string };

export type HistoryEvent = Recorded & { seq: number; at: number };

export interface History {
  events: HistoryEvent[];
  result: RunResult;
  /** Instances (job objects) by number, with their spec and name. */
  instances: Map<number, { name: string; spec: JobSpec }>;
  /** Tries that may run at once (the pool's workers). */
  workers: number;
  /** Tries the executor accepts at once. */
  executorSize: number;
  defaultMaxTasksPerJob: number;
  /** How long run() took after the first stop(), in ms. */
  stopToEndMs?: number | undefined;
  stopGraceMs?: number | undefined;
  /** The task-level log of begin/end lines, in one global order (a file for pools). */
  taskLog: Array<{ kind: "begin" | "end" | "settled"; runId: string; key: string }>;
}

/**
 * The harness's own clock: the wall clock as it was, whatever a scenario's clock op does to
 * Date.now() (which the runner and the jobs read). Times in the history are on it.
 */
const realNow = Date.now.bind(Date);

/** Moves Date.now() by `jumpMs` more, as a wall clock set forward or back; undone by restoreWallClock(). */
function jumpWallClock(offset: { ms: number }, jumpMs: number): void {
  offset.ms += jumpMs;
  Date.now = () => realNow() + offset.ms;
}

function restoreWallClock(): void {
  Date.now = realNow;
}

export class Recorder {
  readonly events: HistoryEvent[] = [];
  #seq = 0;
  push(event: Recorded): void {
    this.events.push({ ...event, seq: ++this.#seq, at: realNow() });
  }
  /** Called by the task module when it runs in this process. */
  task(kind: "begin" | "end", runId: string, key: string): void {
    this.push({ type: kind, runId, key });
  }
}

/** The job of a JobSpec: answers asks from its list of tasks until each signature settled. */
export class ScriptedJob implements Job {
  readonly name: string;
  #asks = 0;
  #settled = 0;
  #ended = false;
  readonly #resolved = new Set<string>();

  constructor(
    readonly spec: JobSpec,
    readonly instance: number,
    readonly recorder: Recorder,
    readonly log: string | undefined,
    readonly timeoutMs = 40,
  ) {
    this.name = spec.name;
  }

  getRunnableTasks(): Task[] | Promise<Task[]> {
    const ask = ++this.#asks;
    this.recorder.push({ type: "ask", instance: this.instance, ask });
    if (!this.spec.async) return this.#answer(ask);
    return delay(this.spec.askMs).then(() => this.#answer(ask));
  }

  nextCheck: number | undefined;

  #answer(ask: number): Task[] {
    if (this.#ended) throw new Error("asked after it ended");
    if (this.spec.errorAt === ask) throw new Error(`ask ${ask} of ${this.name} failed (scripted)`);
    if (this.spec.nextCheckMs !== undefined) this.nextCheck = Date.now() + this.spec.nextCheckMs;
    if (this.spec.failAfter !== undefined && this.#settled >= this.spec.failAfter) return this.#end("failed");
    if (this.spec.doneAfter !== undefined && this.#settled >= this.spec.doneAfter) return this.#end("done");
    const open = this.spec.tasks.filter((task) => !this.#resolved.has(task.sig));
    if (open.length === 0) return this.#end("done");
    return open.map((task) =>
      act.with(
        { key: task.sig, plan: task.plan, ms: task.ms, ask, instance: this.instance, log: this.log },
        { signature: task.sig, timeoutMs: this.timeoutMs, retry: { attempts: task.attempts, baseMs: 2, jitter: 0 } },
      ),
    );
  }

  #end(kind: "done" | "failed"): never {
    this.#ended = true;
    this.recorder.push({ type: "threw", instance: this.instance, kind });
    throw kind === "done" ? new JobDone() : new JobFailed(`${this.name} failed (scripted)`);
  }

  onTaskDone(task: Task): void {
    this.#settle(task, "done");
  }

  onTaskFailed(task: Task): void {
    this.#settle(task, "failed");
  }

  #settle(task: Task, kind: "done" | "failed"): void {
    const key = (task.args as { key: string }).key;
    this.recorder.push({ type: "hook", instance: this.instance, key, kind });
    this.#settled++;
    this.#resolved.add(key);
  }
}

/** Passes everything to the executor it wraps, recording what the runner hands over and what comes back. */
class RecordingExecutor implements Executor {
  constructor(
    readonly inner: Executor,
    readonly recorder: Recorder,
  ) {
    if (inner.setStartListener) this.setStartListener = (listener) => inner.setStartListener!(listener);
    if (inner.cancelQueued) this.cancelQueued = (reason) => inner.cancelQueued!(reason);
  }
  get size(): number {
    return this.inner.size;
  }
  capacity(): number {
    return this.inner.capacity();
  }
  setStartListener?: Executor["setStartListener"];
  cancelQueued?: Executor["cancelQueued"];
  submit(run: TaskRun): Promise<TaskOutcome> {
    const args = run.args as { key: string; ask: number; instance: number };
    this.recorder.push({ type: "submit", runId: run.id, instance: args.instance, name: run.job, key: args.key, attempt: run.attempt, ask: args.ask });
    const outcome = this.inner.submit(run);
    void outcome.then(() => this.recorder.push({ type: "outcome", runId: run.id }));
    return outcome;
  }
  cancel(runId: string, reason: Parameters<Executor["cancel"]>[1]): void {
    this.inner.cancel(runId, reason);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

class ScriptedRunner extends Runner {
  readonly queued: JobChanges[] = [];
  readonly current = new Map<string, number>();
  recorder!: Recorder;

  protected override async getChangedJobs(): Promise<JobChanges | undefined> {
    const next = this.queued.shift();
    if (this.queued.length > 0) this.notifyJobsChanged();
    return next;
  }

  override addJob(job: Job, settings?: Parameters<Runner["addJob"]>[1]): void {
    super.addJob(job, settings);
    const instance = (job as ScriptedJob).instance;
    this.current.set(job.name, instance);
    this.recorder.push({ type: "added", instance, name: job.name });
  }

  override async removeJob(name: string, reason?: string): Promise<boolean> {
    const instance = this.current.get(name);
    if (instance !== undefined && this.snapshot().jobs.some((job) => job.name === name)) {
      this.recorder.push({ type: "removed", instance, name });
    }
    return super.removeJob(name, reason);
  }
}

export interface HarnessOptions {
  executor: Executor;
  /** Tries that can run at once. */
  workers: number;
  /** Pool workers append begin/end lines here (tries in this process use the recorder). */
  taskLogFile?: string | undefined;
  /** Most time one scenario may take before the test fails. */
  limitMs?: number;
  /** Every task's timeout (default 40 ms): `hang` tries end by it. */
  taskTimeoutMs?: number;
}

export async function runScenario(scenario: Scenario, options: HarnessOptions): Promise<History> {
  const recorder = new Recorder();
  const inProcess = options.taskLogFile === undefined;
  if (inProcess) (globalThis as { __ujrPropertyRecorder?: Recorder }).__ujrPropertyRecorder = recorder;
  const instances = new Map<number, { name: string; spec: JobSpec }>();
  let nextInstance = 0;
  const make = (spec: JobSpec) => {
    const instance = ++nextInstance;
    instances.set(instance, { name: spec.name, spec });
    return { job: new ScriptedJob(spec, instance, recorder, options.taskLogFile, options.taskTimeoutMs), settings: { maxTasksPerJob: spec.maxTasksPerJob } };
  };
  const executor = new RecordingExecutor(options.executor, recorder);
  // checkInterval is long: a lost wake-up shows as a run that does not end within `limitMs`.
  const runner = new ScriptedRunner({ executor, jobs: scenario.jobs.map(make), checkInterval: 60_000, shutdownGrace: 1000, jobErrorBackoff: { baseMs: 5, maxMs: 20 } });
  runner.recorder = recorder;
  const argsOf = (event: TaskEvent) => event.task.args as { key: string; instance: number };
  const clockOffset = { ms: 0 };
  runner.on("task:started", (event) =>
    recorder.push({
      type: "started",
      runId: event.runId,
      attempt: event.attempt,
      instance: argsOf(event).instance,
      name: event.job,
      key: argsOf(event).key,
      startedAt: event.startedAt,
      startedReal: event.startedAt === undefined ? undefined : event.startedAt - clockOffset.ms,
    }),
  );
  const terminal = (kind: "done" | "failed" | "timeout" | "retry" | "cancelled") => (event: TaskEvent & { durationMs: number }) => {
    const { key, instance } = argsOf(event);
    if (options.taskLogFile) appendFileSync(options.taskLogFile, `settled ${event.runId} ${key}\n`);
    recorder.push({ type: "terminal", runId: event.runId, instance, name: event.job, key, kind, durationMs: event.durationMs, startedAt: event.startedAt });
  };
  runner.on("task:done", terminal("done"));
  runner.on("task:failed", terminal("failed"));
  runner.on("task:timeout", terminal("timeout"));
  runner.on("task:retry", terminal("retry"));
  runner.on("task:cancelled", terminal("cancelled"));
  runner.on("job:ending", (event) => recorder.push({ type: "ending", name: event.job, outcome: event.outcome }));

  let stopAt: number | undefined;
  let stopGrace: number | undefined;
  const timers = scenario.ops.map((op) =>
    setTimeout(() => {
      if (runner.state !== "running") return;
      if (op.kind === "stop") {
        recorder.push({ type: "stop", graceMs: op.graceMs });
        stopAt ??= realNow();
        stopGrace ??= op.graceMs;
        runner.stop({ graceMs: op.graceMs });
      } else if (op.kind === "clock") {
        recorder.push({ type: "clock", jumpMs: op.jumpMs });
        jumpWallClock(clockOffset, op.jumpMs);
      } else if (op.kind === "remove") {
        runner.queued.push({ remove: [`job${op.job}`] });
        runner.notifyJobsChanged();
      } else {
        runner.queued.push({ add: [make(op.spec)] });
        runner.notifyJobsChanged();
      }
    }, op.at),
  );
  const limitMs = options.limitMs ?? 20_000;
  let limitTimer: NodeJS.Timeout | undefined;
  try {
    const result = await Promise.race([
      runner.run(),
      new Promise<never>((_, reject) => {
        limitTimer = setTimeout(() => reject(new Error(`the run did not end within ${limitMs} ms`)), limitMs);
      }),
    ]);
    const endedAt = realNow();
    // What the pool's workers wrote, with the runner's settlements in the same file order.
    const taskLog: History["taskLog"] = [];
    if (options.taskLogFile) {
      for (const line of readFileSync(options.taskLogFile, "utf8").split("\n")) {
        const [kind, runId, key] = line.split(" ");
        if (kind && runId && key) taskLog.push({ kind: kind as "begin" | "end" | "settled", runId, key });
      }
    } else {
      for (const event of recorder.events) if (event.type === "begin" || event.type === "end") taskLog.push({ kind: event.type, runId: event.runId, key: event.key });
    }
    return {
      events: recorder.events,
      result,
      instances,
      workers: options.workers,
      executorSize: options.executor.size,
      defaultMaxTasksPerJob: Math.max(1, options.executor.size),
      stopToEndMs: stopAt === undefined ? undefined : endedAt - stopAt,
      stopGraceMs: stopGrace,
      taskLog,
    };
  } finally {
    restoreWallClock();
    if (limitTimer) clearTimeout(limitTimer);
    for (const timer of timers) clearTimeout(timer);
    if (inProcess) delete (globalThis as { __ujrPropertyRecorder?: Recorder }).__ujrPropertyRecorder;
  }
}
