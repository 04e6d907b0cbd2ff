import { writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { Queue, QueueEvents } from "bullmq";
import { Redis } from "ioredis";
import { createLogger, JobDone, Runner, type Job, type Task, type TaskFailure } from "@ujr/core";
import { installCommand } from "@ujr/runner-local";
import { capturedLog, cleanupsAfterEach, fixtureRun, marksOf, obliterate, REDIS_URL, redisAvailable, removeDir, tempDir, testbed, type WorkerProcess, uniqueQueue, waitForMarks, workerOf } from "./__fixtures__/helpers.js";
import { runWorker } from "./worker.js";
import { BullmqExecutor } from "./bullmq-executor.js";
import { bullmqJobId, decodeResult, encodeRun, encodeText } from "./internal/codec.js";
import { cancelChannel, type CancelMessage } from "./internal/redis.js";

const hasRedis = await redisAvailable();

const runOf = (exportName: string, args: unknown, signature: string) => fixtureRun("shutdown", exportName, args, signature);

function outputIncludes(worker: WorkerProcess, text: string): Promise<void> {
  return new Promise((resolve) => {
    const check = () => {
      if (worker.output().includes(text)) {
        worker.child.stdout!.off("data", check);
        worker.child.stderr!.off("data", check);
        resolve();
      }
    };
    worker.child.stdout!.on("data", check);
    worker.child.stderr!.on("data", check);
    check();
  });
}

describe.skipIf(!hasRedis)("runWorker: graceful shutdown", () => {
  const cleanups = cleanupsAfterEach();

  async function setup(label: string) {
    const bed = testbed(label, cleanups);
    const executor = bed.executor();
    const start = (tag: string, env: Record<string, string> = {}) => bed.start(tag, { UJR_LOG_LEVEL: "info", ...env });
    return { dir: bed.dir, executor, start };
  }

  it("SIGTERM: running tasks finish within the grace period, then the worker exits 0", async () => {
    const { dir, executor, start } = await setup("grace");
    const worker = await start("w1", { UJR_GRACE_MS: "30000" });
    const outcome = executor.submit(runOf("blockUntil", { dir, name: "finishing", value: "kept" }, "f"));
    await waitForMarks(dir, "finishing");
    worker.child.kill("SIGTERM");
    await outputIncludes(worker, "received SIGTERM");
    writeFileSync(join(dir, "release"), "");
    expect(await outcome).toEqual({ ok: true, value: { value: "kept", worker: "w1" } });
    expect(await worker.exited).toBe(0);
  });

  it("SIGTERM: a task still running after the grace period goes back to the queue and another worker runs it", async () => {
    const { dir, executor, start } = await setup("requeue");
    const leaving = await start("w1", { UJR_GRACE_MS: "200" });
    const outcome = executor.submit(runOf("onceThenBlock", { dir, name: "moved" }, "m"));
    await waitForMarks(dir, "moved");
    await start("w2");
    leaving.child.kill("SIGTERM");
    expect(await leaving.exited).toBe(0);
    expect(leaving.output()).toContain("put back on the queue");
    // One outcome, from the worker that took it over.
    expect(await outcome).toEqual({ ok: true, value: { worker: "w2", executions: 2 } });
    expect(marksOf(dir, "moved").map(workerOf).sort()).toEqual(["w1", "w2"]);
  });
});

describe.skipIf(!hasRedis)("runWorker: jobs it must not run", () => {
  const cleanups = cleanupsAfterEach();

  /** A fresh queue, a reader of its events, and a worker in this process logging at debug level. */
  async function bed(label: string) {
    const name = uniqueQueue(label);
    cleanups.push(() => obliterate(name));
    const connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    cleanups.push(() => connection.disconnect());
    const queue = new Queue(name, { connection });
    cleanups.push(() => queue.close());
    const events = new QueueEvents(name, { connection: new Redis(REDIS_URL, { maxRetriesPerRequest: null }), lastEventId: "0-0" });
    cleanups.push(() => events.close());
    await events.waitUntilReady();
    const log = capturedLog();
    const worker = await runWorker({
      redis: REDIS_URL,
      queue: name,
      workers: 1,
      isolation: "thread",
      handleSignals: false,
      logger: createLogger({ level: "debug", destination: log.stream }),
    });
    cleanups.push(() => worker.stop({ graceMs: 0 }));
    /** The next outcome of queue job `jobId`: its return value, or why it failed. */
    const finished = (jobId: string) =>
      new Promise<{ returnvalue?: unknown; failedReason?: string }>((resolve) => {
        const onCompleted = (event: { jobId: string; returnvalue: unknown }) => event.jobId === jobId && settle({ returnvalue: event.returnvalue });
        const onFailed = (event: { jobId: string; failedReason: string }) => event.jobId === jobId && settle({ failedReason: event.failedReason });
        const settle = (outcome: { returnvalue?: unknown; failedReason?: string }) => {
          events.off("completed", onCompleted);
          events.off("failed", onFailed);
          resolve(outcome);
        };
        events.on("completed", onCompleted);
        events.on("failed", onFailed);
      });
    return { name, connection, queue, log, finished };
  }

  it("takes at once only as many tasks as its pool has processes to start them on (a task taken counts as started)", async () => {
    const name = uniqueQueue("concurrency");
    cleanups.push(() => obliterate(name));
    const log = capturedLog();
    // two processes, whose pool also queues tasks for them: the queue is not a place to start a task
    const worker = await runWorker({ redis: REDIS_URL, queue: name, workers: 2, isolation: "process", handleSignals: false, logger: createLogger({ level: "info", destination: log.stream }) });
    cleanups.push(() => worker.stop({ graceMs: 0 }));
    expect(worker.concurrency).toBe(2);
    expect(log.includes('"concurrency":2,"poolSlots":6')).toBe(true);
  });

  it("a job it cannot read fails with UJR_BULLMQ_JOB_UNREADABLE, saying who may have put it there and what to do", async () => {
    const { queue, finished } = await bed("foreign");
    const outcome = finished("foreign-1");
    await queue.add("someone-else", { hello: "world" }, { jobId: "foreign-1" });
    const { failedReason } = await outcome;
    expect(failedReason).toContain("Job foreign-1 on the queue");
    expect(failedReason).toContain("is not a ujr task this worker can read (its data has no ujr task run)");
    expect(failedReason).toContain("give each its own queue (runner.executor.queue)");
  });

  it("a cancel that comes before its task: the task does not run and completes as cancelled; a later try of the same task runs", async () => {
    const { name, connection, queue, log, finished } = await bed("early-cancel");
    const dir = tempDir();
    cleanups.push(() => removeDir(dir));
    const first = fixtureRun("early", "record", { dir, name: "ran" }, "s1");
    const jobId = bullmqJobId(first);
    const reason = { name: "UjrError", code: "UJR_TASK_CANCELLED", message: "cancelled: job removed" };
    const message: CancelMessage = { jobId, runId: first.id, reason: encodeText(reason) };
    await connection.publish(cancelChannel("bull", name), JSON.stringify(message));
    await log.written("remembered in case it comes");
    const firstOutcome = finished(jobId);
    await queue.add(first.job, encodeRun(first), { jobId, attempts: 1 });
    expect(decodeResult((await firstOutcome).returnvalue)).toEqual({ outcome: { ok: false, error: reason }, cancelled: true });
    expect(marksOf(dir, "ran")).toEqual([]);
    expect(log.includes("task cancelled by the coordinator before it started")).toBe(true);
    // The next try of the same task (same job id, new run id) is not the one cancelled.
    await queue.remove(jobId);
    const second = { ...first, id: `${first.id}-again`, attempt: 2 };
    const secondOutcome = finished(jobId);
    await queue.add(second.job, encodeRun(second), { jobId, attempts: 1 });
    expect(decodeResult((await secondOutcome).returnvalue)?.outcome).toMatchObject({ ok: true, value: { name: "ran" } });
    expect(marksOf(dir, "ran")).toHaveLength(1);
  });
});

describe.skipIf(!hasRedis)("runWorker: a task module this machine does not have", () => {
  const cleanups = cleanupsAfterEach();

  // A plugin installed beside the coordinator's config but not on a worker machine (or not
  // where that worker resolves from). The coordinator's user reads the failure on another
  // machine: it must say which worker, where it looked, and what to run there.
  it("fails the task with UJR_TASK_MODULE_NOT_FOUND naming the worker (host/pid), the folders it searched and the install command; the worker logs it once, as an error", async () => {
    const bed = testbed("no-module", cleanups);
    const worker = await bed.start("w1");
    const coordinatorLog = capturedLog();
    const executor = bed.executor({ logger: createLogger({ level: "info", destination: coordinatorLog.stream }) });
    const plugin = "@ujr-test/plugin-not-here";
    const module = `${plugin}/tasks`;
    // the coordinator's folder, sent along with the task: not where this worker has anything
    const coordinatorFolder = `${pathToFileURL(bed.dir).href}/`;
    const task: Task = { ref: { module, export: "collect" }, args: {}, signature: "s1" };
    const failures: TaskFailure[] = [];
    const job: Job = {
      name: "elsewhere",
      getRunnableTasks: () => {
        if (failures.length > 0) throw new JobDone();
        return [task];
      },
      onTaskFailed: (_task, error) => void failures.push(error),
    };
    const runner = new Runner({ executor, jobs: [job], resolveFrom: coordinatorFolder, logger: createLogger({ level: "info", destination: coordinatorLog.stream }) });
    const result = await runner.run();

    expect(result.tasks).toMatchObject({ done: 0, failed: 1 });
    const name = `${hostname()}/${worker.child.pid}`;
    const folder = process.cwd();
    expect(failures).toHaveLength(1);
    const failure = failures[0]!;
    expect(failure.code).toBe("UJR_TASK_MODULE_NOT_FOUND");
    expect(failure.message).toBe(
      `Task module "${module}" could not be resolved on the worker ${name} (host ${hostname()}, pid ${worker.child.pid}), which looked in ${folder}/, ${bed.dir}/. ` +
        `Install the package that provides it on that machine, in the worker's working directory (it has no --config): cd ${folder} && ${installCommand(plugin, folder)}`,
    );
    expect(failure.details).toMatchObject({ worker: name, host: hostname(), pid: worker.child.pid, module, searched: `${folder}/, ${bed.dir}/`, install: `cd ${folder} && ${installCommand(plugin, folder)}` });
    // the coordinator's log names the worker: what `ujr run` prints (the run history keeps the same message and code)
    expect(coordinatorLog.lines.find((line) => line.includes('"msg":"task failed"'))).toContain(`could not be resolved on the worker ${name}`);
    // the worker's own log: once, an error with the code; the queue job itself completed (BullMQ does not retry it)
    await outputIncludes(worker, "UJR_TASK_MODULE_NOT_FOUND");
    const said = worker.output().split("\n").filter((line) => line.includes("UJR_TASK_MODULE_NOT_FOUND"));
    expect(said).toHaveLength(1);
    expect(JSON.parse(said[0]!)).toMatchObject({ level: 50, code: "UJR_TASK_MODULE_NOT_FOUND", worker: name, module, job: "elsewhere", msg: failure.message });
    expect(worker.output()).not.toContain("queue job failed");
  });

  it("a worker started with a config (and a name of its own) says to install beside that config, with the command its folder's package manager takes", async () => {
    const queue = uniqueQueue("no-module-config");
    cleanups.push(() => obliterate(queue));
    const dir = tempDir();
    cleanups.push(() => removeDir(dir));
    const configFile = join(dir, "ujr.config.yaml");
    writeFileSync(configFile, "jobs: {}\n");
    const log = capturedLog();
    const worker = await runWorker({ redis: REDIS_URL, queue, configFile, name: "box-7", workers: 1, isolation: "thread", handleSignals: false, logger: createLogger({ level: "info", destination: log.stream }) });
    cleanups.push(() => worker.stop({ graceMs: 0 }));
    const executor = new BullmqExecutor({ redis: REDIS_URL, queue });
    cleanups.push(() => executor.close());
    const run = { ...fixtureRun("elsewhere", "collect", {}), ref: { module: "@ujr-test/plugin-not-here", export: "collect" } };
    const outcome = await executor.submit(run);
    expect(outcome).toMatchObject({ ok: false, error: { code: "UJR_TASK_MODULE_NOT_FOUND" } });
    const { message } = (outcome as { error: TaskFailure }).error;
    expect(message).toContain(`could not be resolved on the worker box-7 (host ${hostname()}, pid ${process.pid}), which looked in ${dir}/.`);
    // no lockfile above a temporary folder: npm
    expect(message).toContain(`Install the package that provides it on that machine, in the folder of the worker's config: cd ${dir} && npm install @ujr-test/plugin-not-here`);
    expect(log.lines.filter((line) => line.includes('"code":"UJR_TASK_MODULE_NOT_FOUND"'))).toHaveLength(1);
  });

  it("a module that resolves but fails to load there (e.g. a native module built for another Node) names the worker too", async () => {
    const queue = uniqueQueue("module-fails-here");
    cleanups.push(() => obliterate(queue));
    const dir = tempDir();
    cleanups.push(() => removeDir(dir));
    const broken = join(dir, "broken.mjs");
    writeFileSync(broken, 'throw new Error("was compiled against a different Node.js version");\n');
    const log = capturedLog();
    const worker = await runWorker({ redis: REDIS_URL, queue, name: "box-8", workers: 1, isolation: "thread", handleSignals: false, logger: createLogger({ level: "info", destination: log.stream }) });
    cleanups.push(() => worker.stop({ graceMs: 0 }));
    const executor = new BullmqExecutor({ redis: REDIS_URL, queue });
    cleanups.push(() => executor.close());
    const run = { ...fixtureRun("elsewhere", "collect", {}), ref: { module: pathToFileURL(broken).href, export: "collect" } };
    const outcome = await executor.submit(run);
    expect(outcome).toMatchObject({ ok: false, error: { code: "UJR_TASK_MODULE_LOAD_FAILED", details: { worker: "box-8", host: hostname(), pid: process.pid } } });
    const { message } = (outcome as { error: TaskFailure }).error;
    expect(message).toMatch(/failed to load: .*was compiled against a different Node\.js version.* \(on the worker box-8, host .+, pid \d+\)$/);
    expect(log.lines.filter((line) => line.includes('"code":"UJR_TASK_MODULE_LOAD_FAILED"'))).toHaveLength(1);
  });
});
