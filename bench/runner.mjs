#!/usr/bin/env node
// pnpm bench:runner [--n 50000] [--rss-n 200000] [--pending-n 40000]
// No-op tasks through LocalJobsRunner and, in the same run, through raw tinypool with the
// same pool size and isolation: tasks/s for both, their ratio, and emit-to-start latency.
// Then the run history's cost: the same runs with history on (SQLite, batched) and off.
// Then RSS before and after --rss-n tasks (threads), to show the runner does not grow.
import { mkdtempSync, rmSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Tinypool } from "tinypool";
import { JobDone } from "@ujr/core";
import { LocalJobsRunner, TinypoolExecutor } from "@ujr/runner-local";
import { HistoryStore, recordRunnerHistory } from "@ujr/history";
import { noop } from "./noop-tasks.mjs";

const { values } = parseArgs({ options: { n: { type: "string", default: "50000" }, "rss-n": { type: "string", default: "200000" }, workers: { type: "string" }, "pending-n": { type: "string" } } });
const N = Number(values.n);
const RSS_N = Number(values["rss-n"]);
const WORKERS = Number(values.workers ?? Math.min(2, availableParallelism()));
const now = () => performance.timeOrigin + performance.now();

/** Emits a sliding window of not-yet-done tasks, as a real job re-emits what is not done. */
class NoopJob {
  name = "noop";
  latencies = [];
  #total;
  #window;
  #next = 0; // lowest index not yet done
  #done;

  constructor(total, window) {
    this.#total = total;
    this.#window = window;
    this.#done = new Uint8Array(total);
  }

  getRunnableTasks() {
    while (this.#next < this.#total && this.#done[this.#next]) this.#next++;
    if (this.#next >= this.#total) throw new JobDone();
    const tasks = [];
    const emittedAt = now();
    for (let index = this.#next; index < Math.min(this.#total, this.#next + this.#window); index++) {
      if (!this.#done[index]) tasks.push(noop.with({ emittedAt }, { signature: String(index) }));
    }
    return tasks;
  }

  onTaskDone(task, latency) {
    this.#done[Number(task.signature)] = 1;
    this.latencies.push(latency);
  }
}

function percentile(values, p) {
  const sorted = Float64Array.from(values).sort();
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function runRaw(isolation, n) {
  const pool = new Tinypool({
    filename: new URL("./noop-tasks.mjs", import.meta.url).href,
    runtime: isolation === "process" ? "child_process" : "worker_threads",
    minThreads: WORKERS,
    maxThreads: WORKERS,
    isolateWorkers: false,
  });
  await Promise.all(Array.from({ length: WORKERS * 4 }, () => pool.run({ emittedAt: now() }))); // warm up
  const started = now();
  const latencies = await Promise.all(Array.from({ length: n }, () => pool.run({ emittedAt: now() })));
  const seconds = (now() - started) / 1000;
  await pool.destroy();
  return { perSecond: n / seconds, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
}

async function runUjr(isolation, n, historyFile) {
  // Warm the pool up as the raw run does: workers started, modules loaded, code compiled.
  const executor = new TinypoolExecutor({ workers: WORKERS, isolation, logLevel: "warn" });
  const ref = noop.ref;
  await Promise.all(Array.from({ length: WORKERS * 4 }, (_, index) => executor.submit({ id: `warm-${index}`, job: "warm", ref, args: { emittedAt: now() }, attempt: 1, resolveFrom: [] })));
  const runner = new LocalJobsRunner({ jobs: [], executor, logLevel: "warn", handleSignals: false });
  const job = new NoopJob(n, executor.size);
  runner.addJob(job);
  const history = historyFile ? HistoryStore.open({ file: historyFile }) : undefined;
  if (history) recordRunnerHistory(runner, history);
  const started = now();
  await runner.run();
  // The last batch is written before the run counts as finished: every run is in the file.
  await history?.settled();
  const seconds = (now() - started) / 1000;
  // Closing (retention, the final checkpoint) is paid once per runner, not per task: timed apart.
  const closing = now();
  await history?.close();
  return { perSecond: n / seconds, p50: percentile(job.latencies, 50), p99: percentile(job.latencies, 99), closeMs: now() - closing };
}

const fmt = (value) => Math.round(value).toLocaleString("en");
console.log(`bench:runner: ${fmt(N)} no-op tasks, ${WORKERS} workers, node ${process.version}`);
for (const isolation of ["thread", "process"]) {
  // Raw first, ujr second, then raw again: the limit is the better of the two raw runs.
  const rawA = await runRaw(isolation, N);
  const ours = await runUjr(isolation, N);
  const rawB = await runRaw(isolation, N);
  const raw = rawA.perSecond >= rawB.perSecond ? rawA : rawB;
  console.log(
    `${isolation.padEnd(7)} raw tinypool ${fmt(raw.perSecond).padStart(7)} tasks/s | ujr runner ${fmt(ours.perSecond).padStart(7)} tasks/s | ratio ${(ours.perSecond / raw.perSecond).toFixed(2)} (target >= 0.80)` +
      ` | emit->start p50 ${ours.p50.toFixed(2)} ms p99 ${ours.p99.toFixed(2)} ms (raw queue p50 ${raw.p50.toFixed(2)} ms)`,
  );
}

// History: every run recorded into SQLite (batched, on the writer's thread) against no
// history, same pool: rounds alternate off/on and on/off, and the median of the rounds' ratios is
// printed (on a busy machine single rounds swing by a third either way).
{
  const dir = mkdtempSync(join(tmpdir(), "ujr-bench-history-"));
  const ratios = [];
  const closes = [];
  const off = [];
  const on = [];
  for (let round = 0; round < 5; round++) {
    // Which goes first alternates, so that a machine getting busier or quieter during a round favours neither.
    const historyFirst = round % 2 === 1;
    const withHistory = () => runUjr("thread", N, join(dir, `history-${round}.sqlite`));
    const b0 = historyFirst ? await withHistory() : undefined;
    const a = (await runUjr("thread", N)).perSecond;
    const on_ = b0 ?? (await withHistory());
    const b = on_.perSecond;
    closes.push(on_.closeMs);
    off.push(a);
    on.push(b);
    ratios.push(b / a);
  }
  rmSync(dir, { recursive: true, force: true });
  const median = (values) => [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)];
  console.log(
    `history thread off ${fmt(median(off)).padStart(7)} tasks/s | history on ${fmt(median(on)).padStart(7)} tasks/s (medians of 5) | ratio ${median(ratios).toFixed(2)} (median of the rounds' ratios, range ${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)}; target >= 0.90; ${fmt(N)} runs recorded per round, all in the file when the round's time stops; closing the history once, apart: median ${median(closes).toFixed(0)} ms)`,
  );
}

// One job with every task pending (what a tidier catching up on a collection returns on
// each ask) against the same tasks spread over many jobs: the cost per task must not
// grow with how many tasks one job has pending. Every run counts how often each task ran
// (the runner's promise: never twice, never lost) and reports any duplicate.
class AllPendingJob {
  #done;
  constructor(name, first, count, runs) {
    this.name = name;
    this.first = first;
    this.count = count;
    this.runs = runs;
    this.#done = new Uint8Array(count);
    this.left = count;
  }
  getRunnableTasks() {
    if (this.left === 0) throw new JobDone();
    const tasks = [];
    for (let index = 0; index < this.count; index++) if (!this.#done[index]) tasks.push(noop.with({ emittedAt: 0 }, { signature: String(this.first + index) }));
    return tasks;
  }
  onTaskDone(task) {
    const id = Number(task.signature);
    this.runs[id]++;
    if (!this.#done[id - this.first]) {
      this.#done[id - this.first] = 1;
      this.left--;
    }
  }
}

async function runPending(total, jobs) {
  const executor = new TinypoolExecutor({ workers: WORKERS, isolation: "thread", logLevel: "warn" });
  const ref = noop.ref;
  await Promise.all(Array.from({ length: WORKERS * 4 }, (_, index) => executor.submit({ id: `warm-${index}`, job: "warm", ref, args: { emittedAt: now() }, attempt: 1, resolveFrom: [] })));
  const runner = new LocalJobsRunner({ jobs: [], executor, logLevel: "warn", handleSignals: false });
  const runs = new Uint16Array(total);
  const perJob = total / jobs;
  for (let job = 0; job < jobs; job++) runner.addJob(new AllPendingJob(`pending-${job}`, job * perJob, perJob, runs));
  const started = now();
  await runner.run();
  const seconds = (now() - started) / 1000;
  let duplicated = 0;
  let lost = 0;
  for (const count of runs) {
    if (count > 1) duplicated++;
    if (count === 0) lost++;
  }
  return { seconds, duplicated, lost };
}

const ONE_JOB_N = Number(values["pending-n"] ?? 40_000);
const oneJob = await runPending(ONE_JOB_N, 1);
const manyJobs = await runPending(ONE_JOB_N, ONE_JOB_N / 100);
const integrity = (run) => (run.duplicated || run.lost ? `DUPLICATED ${run.duplicated}, LOST ${run.lost}` : "each task ran once");
console.log(
  `one job, ${fmt(ONE_JOB_N)} pending ${oneJob.seconds.toFixed(2)} s | ${fmt(ONE_JOB_N / 100)} jobs of 100 ${manyJobs.seconds.toFixed(2)} s | ratio ${(oneJob.seconds / manyJobs.seconds).toFixed(2)} (target <= 1.30) | ${integrity(oneJob)}; ${integrity(manyJobs)}`,
);
const scaling = [];
for (const total of [10_000, 100_000]) scaling.push({ total, ...(await runPending(total, 1)) });
const [small, large] = scaling;
const growth = large.seconds / small.seconds / (large.total / small.total);
console.log(
  `one job, linear: ${fmt(small.total)} pending ${small.seconds.toFixed(2)} s (${((small.seconds / small.total) * 1e6).toFixed(1)} µs/task) | ${fmt(large.total)} pending ${large.seconds.toFixed(2)} s (${((large.seconds / large.total) * 1e6).toFixed(1)} µs/task) | cost per task x${growth.toFixed(2)} for 10x the tasks (target <= 1.30) | ${integrity(small)}; ${integrity(large)}`,
);

// Memory: the runner must not grow with the number of tasks it has run.
await runUjr("thread", 20_000);
globalThis.gc?.();
const before = process.memoryUsage().rss;
await runUjr("thread", RSS_N);
globalThis.gc?.();
const after = process.memoryUsage().rss;
console.log(`rss before ${fmt(before / 1048576)} MB, after ${fmt(RSS_N)} more tasks ${fmt(after / 1048576)} MB: growth ${(((after - before) / before) * 100).toFixed(1)}% (target <= 10%)${globalThis.gc ? "" : " (run with --expose-gc for a steadier figure)"}`);
