// Distributed executor benchmark: no-op tasks/s through a coordinator (core Runner +
// BullmqExecutor, one job emitting N no-op tasks) with 1 and 2 `runWorker` processes, side
// by side with bare BullMQ (a producer adding N jobs, Worker processes of the same
// concurrency running an empty processor) in the same run. Each round runs the four
// set-ups one after the other (fresh queues and processes, each warmed up first), so a
// round's ujr and bare runs see the same machine; the ratio shown is the median of the
// rounds' ratios (rates and CPU: medians over rounds), so one disturbed run does not
// decide it.
// Each worker process's pool gets the machine's cores shared among the set-up's worker
// processes, as if each ran on a machine of its own with its share (on 2 cores: 2 threads
// for 1 worker process, 1 each for 2); `--workers K` gives every worker process K instead.
// `--in-process` runs the tasks on each worker's main thread (no pool, no isolation): a
// diagnostic that shows what the pool's hop costs, not a way to run ujr.
//   node bench/distributed.mjs [--n 10000] [--rounds 5] [--warmup 1000] [--concurrency 8] [--workers K] [--isolation thread] [--size 64] [--in-process]
// Needs Redis (REDIS_URL, default redis://127.0.0.1:6379) and a build (`pnpm build`).
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { createRequire } from "node:module";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { randomBytes } from "node:crypto";

const here = fileURLToPath(new URL(".", import.meta.url));
const pkgDir = join(here, "..", "packages", "executor-bullmq");
const requireFromPkg = createRequire(join(pkgDir, "package.json"));
const bullmqUrl = pathToFileURL(requireFromPkg.resolve("bullmq")).href;
const ioredisUrl = pathToFileURL(requireFromPkg.resolve("ioredis")).href;
const distUrl = pathToFileURL(join(pkgDir, "dist", "index.js")).href;
const { Queue } = await import(bullmqUrl);
const { Redis } = await import(ioredisUrl);
const { BullmqExecutor } = await import(distUrl);
const coreUrl = pathToFileURL(requireFromPkg.resolve("@ujr/core")).href;
const { Runner, JobDone } = await import(coreUrl);
const noopModule = pathToFileURL(join(pkgDir, "src", "__fixtures__", "tasks.mjs")).href;

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? dflt : process.argv[i + 1];
};
const N = Number(arg("n", process.env.BENCH_N ?? 10000));
const ROUNDS = Number(arg("rounds", 5));
// Warm-up tasks before each timed run: every process and pool thread has compiled its hot paths by then.
const WARMUP = Number(arg("warmup", 1000));
const CONCURRENCY = Number(arg("concurrency", 8));
const POOL = arg("workers", undefined);
/** Pool threads of each worker process when a set-up runs `processes` of them. */
const poolSize = (processes) => (POOL !== undefined ? Number(POOL) : Math.max(1, Math.floor(availableParallelism() / processes)));
const ISOLATION = arg("isolation", "thread");
const SIZE = Number(arg("size", 64));
const IN_PROCESS = process.argv.includes("--in-process");
const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";

// ---- child processes --------------------------------------------------------------

// Child modes: `node bench/distributed.mjs --ujr-worker` runs `runWorker` (what `ujr worker`
// does); `--bare-worker` runs a bare BullMQ Worker with an empty processor. Both take the
// queue from Q. (A file, not `node -e`: the pool's workers inherit the process's flags.)
if (process.argv[2] === "--ujr-worker") {
  const { runWorker } = await import(distUrl);
  const { InProcessExecutor } = await import(coreUrl);
  const handle = await runWorker({
    redis: REDIS_URL,
    queue: process.env.Q,
    workers: Number(process.env.POOL_SIZE),
    isolation: ISOLATION,
    concurrency: CONCURRENCY,
    logLevel: "warn",
    ...(IN_PROCESS ? { executor: new InProcessExecutor({ size: CONCURRENCY }) } : {}),
  });
  process.stdout.write("ready\n");
  await handle.closed;
  process.exit(0);
}
if (process.argv[2] === "--bare-worker") {
  const { Worker } = await import(bullmqUrl);
  const worker = new Worker(process.env.Q, async () => null, {
    connection: new Redis(REDIS_URL, { maxRetriesPerRequest: null }),
    concurrency: CONCURRENCY,
    autorun: false,
  });
  await worker.waitUntilReady();
  const run = worker.run();
  process.stdout.write("ready\n");
  process.once("SIGTERM", async () => {
    await worker.close();
    await run;
    process.exit(0);
  });
  await new Promise(() => {});
}

function startChild(mode, queue, pool = 1) {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), mode, ...process.argv.slice(2)], {
    env: { ...process.env, REDIS_URL, Q: queue, POOL_SIZE: String(pool) },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const exited = new Promise((resolve) => child.once("exit", resolve));
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (chunk) => {
      out += chunk;
      if (out.includes("ready\n")) resolve({ child, exited });
    });
    exited.then((code) => reject(new Error(`child exited (${code}) before it was ready`)));
  });
}

async function stopChildren(children) {
  for (const { child } of children) child.kill("SIGTERM");
  await Promise.all(children.map(({ exited }) => exited));
}

async function obliterate(name) {
  const queue = new Queue(name, { connection: new Redis(REDIS_URL, { maxRetriesPerRequest: null }) });
  await queue.obliterate({ force: true });
  await queue.close();
  (await queue.client).disconnect();
}

// ---- CPU per task ------------------------------------------------------------------

// Both sides are CPU-bound on a small machine: where the CPU goes says more than the rate.
// Worker processes are read from /proc (Linux; elsewhere their share is not shown).
const admin = new Redis(REDIS_URL);
async function cpuNow(children) {
  const info = await admin.info("cpu");
  const redis = ["used_cpu_user", "used_cpu_sys"].reduce((sum, key) => sum + Number(info.match(new RegExp(`${key}:([\\d.]+)`))?.[1] ?? NaN), 0) * 1000;
  const own = process.cpuUsage();
  let workers = 0;
  try {
    for (const { child } of children) {
      const fields = readFileSync(`/proc/${child.pid}/stat`, "utf8").split(") ")[1].split(" ");
      workers += (Number(fields[11]) + Number(fields[12])) * 10; // utime + stime, in 1/100 s
    }
  } catch {
    workers = NaN;
  }
  return { coordinator: (own.user + own.system) / 1000, workers, redis };
}

const cpuSpent = (before, after) => Object.fromEntries(Object.keys(before).map((key) => [key, (after[key] - before[key]) / N]));

// ---- ujr: Runner + BullmqExecutor -------------------------------------------------

/** One job emitting `n` no-op tasks (distinct signatures), done when all have finished. */
class NoopJob {
  constructor(name, n) {
    this.name = name;
    this.pending = new Set(Array.from({ length: n }, (_, i) => i));
  }
  getRunnableTasks() {
    if (this.pending.size === 0) throw new JobDone();
    // Lazily: the runner takes only as many as it has room for.
    return (function* (pending) {
      for (const i of pending) yield { ref: { module: noopModule, export: "noop" }, args: i, signature: String(i) };
    })(this.pending);
  }
  onTaskDone(task) {
    this.pending.delete(Number(task.signature));
  }
  onTaskFailed(task, failure) {
    throw new Error(`no-op task ${task.signature} failed: ${failure.message}`);
  }
}

async function runUjr(workerCount) {
  const queue = `ujr-bench-${randomBytes(3).toString("hex")}`;
  const children = [];
  try {
    for (let i = 0; i < workerCount; i++) children.push(await startChild("--ujr-worker", queue, poolSize(workerCount)));
    const executor = new BullmqExecutor({ redis: REDIS_URL, queue, size: SIZE });
    await executor.ready();
    // Warm-up: the workers' pools start on their first tasks.
    const warm = new Runner({ executor: { ...proxy(executor), close: async () => {} }, jobs: [new NoopJob("warmup", WARMUP)] });
    await warm.run();
    const job = new NoopJob("bench", N);
    const runner = new Runner({ executor, jobs: [job] });
    const before = await cpuNow(children);
    const t = performance.now();
    const result = await runner.run();
    const seconds = (performance.now() - t) / 1000;
    const cpu = cpuSpent(before, await cpuNow(children));
    if (result.tasks.done !== N) throw new Error(`expected ${N} tasks done, got ${JSON.stringify(result.tasks)}`);
    return { rate: N / seconds, cpu };
  } finally {
    await stopChildren(children);
    await obliterate(queue);
  }
}

/** The executor without its close(), so the warm-up runner does not close it. */
function proxy(executor) {
  return {
    get size() {
      return executor.size;
    },
    capacity: () => executor.capacity(),
    submit: (run) => executor.submit(run),
    cancel: (id, reason) => executor.cancel(id, reason),
  };
}

// ---- bare BullMQ ------------------------------------------------------------------

async function runBare(workerCount) {
  const queue = `ujr-bench-bare-${randomBytes(3).toString("hex")}`;
  const children = [];
  const connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  // Room in the event stream for every event of the run: the reader must not lose any to trimming.
  const producer = new Queue(queue, { connection, streams: { events: { maxLen: 20 * N } } });
  const { QueueEvents } = await import(bullmqUrl);
  // The queue is new: read its event stream from the start, so no event is missed before the reader starts.
  const events = new QueueEvents(queue, { connection: new Redis(REDIS_URL, { maxRetriesPerRequest: null }), lastEventId: "0-0" });
  try {
    await events.waitUntilReady();
    for (let i = 0; i < workerCount; i++) children.push(await startChild("--bare-worker", queue));
    const addAndWait = async (count, tag) => {
      let completed = 0;
      const done = new Promise((resolve) => {
        const onCompleted = () => {
          if (++completed === count) {
            events.off("completed", onCompleted);
            resolve();
          }
        };
        events.on("completed", onCompleted);
      });
      // A producer adding jobs one by one (as a coordinator does), pipelined on one connection.
      const adds = [];
      for (let i = 0; i < count; i++) adds.push(producer.add("noop", i, { jobId: `${tag}.${i}`, removeOnComplete: true }));
      await Promise.all(adds);
      await done;
    };
    await addAndWait(WARMUP, "warmup");
    const before = await cpuNow(children);
    const t = performance.now();
    await addAndWait(N, "bench");
    const seconds = (performance.now() - t) / 1000;
    return { rate: N / seconds, cpu: cpuSpent(before, await cpuNow(children)) };
  } finally {
    await stopChildren(children);
    await events.close();
    await producer.close();
    connection.disconnect();
    await obliterate(queue);
  }
}

// ---- run --------------------------------------------------------------------------

const fmt = (x) => `${Math.round(x).toLocaleString("en")} tasks/s`;
const ms = (x) => (Number.isNaN(x) ? "n/a" : `${x.toFixed(3)} ms`);
const fmtCpu = ({ coordinator, workers, redis }) =>
  `CPU per task: coordinator ${ms(coordinator)}, worker processes ${ms(workers)}, Redis ${ms(redis)}, total ${ms(coordinator + workers + redis)}`;
console.log(
  `distributed executor: N=${N} no-op tasks, ${ROUNDS} rounds (medians shown; ratio: the median of the rounds' ratios), warm-up ${WARMUP}; per worker process: concurrency ${CONCURRENCY}, ${
    IN_PROCESS ? "tasks on its main thread (--in-process: no pool, no isolation; a diagnostic)" : `pool ${poolSize(1)} / ${poolSize(2)} ${ISOLATION === "process" ? "processes" : "threads"} with 1 / 2 worker processes`
  }; coordinator size ${SIZE}`,
);
const setups = { bare1: () => runBare(1), ujr1: () => runUjr(1), bare2: () => runBare(2), ujr2: () => runUjr(2) };
const results = Object.fromEntries(Object.keys(setups).map((key) => [key, []]));
const ratios = { 1: [], 2: [] };
for (let round = 1; round <= ROUNDS; round++) {
  for (const [key, run] of Object.entries(setups)) results[key].push(await run());
  for (const workers of [1, 2]) ratios[workers].push(results[`ujr${workers}`].at(-1).rate / results[`bare${workers}`].at(-1).rate);
  console.log(`  round ${round}: ratio ${ratios[1].at(-1).toFixed(2)} (1 worker), ${ratios[2].at(-1).toFixed(2)} (2 workers)`);
}
const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};
const summary = Object.fromEntries(
  Object.entries(results).map(([key, runs]) => [
    key,
    {
      rate: median(runs.map((run) => run.rate)),
      cpu: Object.fromEntries(Object.keys(runs[0].cpu).map((part) => [part, median(runs.map((run) => run.cpu[part]))])),
    },
  ]),
);
const { bare1, ujr1, bare2, ujr2 } = summary;
console.log(`  bare BullMQ, 1 worker process:   ${fmt(bare1.rate)}`);
console.log(`      ${fmtCpu(bare1.cpu)}`);
console.log(`  ujr coordinator, 1 worker:       ${fmt(ujr1.rate)}   ratio ${median(ratios[1]).toFixed(2)}`);
console.log(`      ${fmtCpu(ujr1.cpu)}`);
console.log(`  bare BullMQ, 2 worker processes: ${fmt(bare2.rate)}`);
console.log(`      ${fmtCpu(bare2.cpu)}`);
console.log(`  ujr coordinator, 2 workers:      ${fmt(ujr2.rate)}   ratio ${median(ratios[2]).toFixed(2)}`);
console.log(`      ${fmtCpu(ujr2.cpu)}`);
const worst = Math.min(median(ratios[1]), median(ratios[2]));
console.log(`  target ratio >= 0.70: ${worst >= 0.7 ? "met" : "NOT met"} (worst ${worst.toFixed(2)})`);
admin.disconnect();
process.exit(0);
