// Test helpers: real Redis, real worker processes, waiting on events only.
import { spawn, type ChildProcess } from "node:child_process";
import { Writable } from "node:stream";
import { existsSync, mkdtempSync, readdirSync, rmSync, watch } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { randomBytes } from "node:crypto";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { afterEach } from "vitest";
import type { TaskRun } from "@ujr/core";
import { BullmqExecutor, type BullmqExecutorOptions } from "../index.js";

export const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
export const tasksModule = new URL("./tasks.mjs", import.meta.url).href;
const workerScript = fileURLToPath(new URL("./worker.mjs", import.meta.url));

/** Why a test that needs Redis skips (outside CI=true) when redisAvailable() said no. */
export const NO_REDIS = `Redis does not answer at ${REDIS_URL} (start redis-server or set REDIS_URL; under CI=true this fails)`;

/** True when Redis answers; under CI=true a missing Redis throws (a failure, never a skip). */
export async function redisAvailable(): Promise<boolean> {
  const client = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on("error", () => {});
  try {
    await client.connect();
    await client.ping();
    return true;
  } catch (error) {
    if (process.env.CI === "true") throw new Error(`Redis is required at ${REDIS_URL} under CI=true: ${(error as Error).message}`);
    console.warn(`skipping the tests that need it: ${NO_REDIS}`);
    return false;
  } finally {
    client.disconnect();
  }
}

export function uniqueQueue(label: string): string {
  return `ujr-test-${label}-${randomBytes(4).toString("hex")}`;
}

export async function obliterate(name: string, prefix?: string): Promise<void> {
  const queue = new Queue(name, { connection: new Redis(REDIS_URL, { maxRetriesPerRequest: null }), ...(prefix ? { prefix } : {}) });
  try {
    await queue.obliterate({ force: true });
  } finally {
    await queue.close();
    (await queue.client).disconnect();
  }
}

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), "ujr-bullmq-"));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

export interface WorkerProcess {
  tag: string;
  child: ChildProcess;
  exited: Promise<number | null>;
  output(): string;
}

/** Starts `node worker.mjs` (runWorker) and resolves once it takes tasks. */
export function startWorker(queue: string, tag: string, env: Record<string, string> = {}): Promise<WorkerProcess> {
  const child = spawn(process.execPath, [workerScript], {
    env: { ...process.env, REDIS_URL, UJR_QUEUE: queue, UJR_TEST_WORKER: tag, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stdout!.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes("ready\n")) resolve({ tag, child, exited, output: () => output });
    });
    void exited.then((code) => reject(new Error(`worker ${tag} exited (${code}) before it was ready:\n${output}`)));
  });
}

export function killAll(workers: WorkerProcess[]): Promise<unknown> {
  return Promise.all(
    workers.map((worker) => {
      if (worker.child.exitCode === null && worker.child.signalCode === null) worker.child.kill("SIGKILL");
      return worker.exited;
    }),
  );
}

/** The marks a task left in `dir` (files named `<name>.<worker>.<uuid>`). */
export function marksOf(dir: string, name: string): string[] {
  return readdirSync(dir).filter((file) => file.startsWith(`${name}.`));
}

/** Resolves with the marks once at least `count` exist, woken by changes to `dir`. */
export function waitForMarks(dir: string, name: string, count = 1): Promise<string[]> {
  return new Promise((resolve) => {
    const watcher = watch(dir, () => check());
    const check = () => {
      // the test ended without them (it failed) and its folder was removed: stop watching
      if (!existsSync(dir)) return watcher.close();
      const found = marksOf(dir, name);
      if (found.length >= count) {
        watcher.close();
        resolve(found);
      }
    };
    check();
  });
}

/** The worker tag in a mark's file name. */
export function workerOf(mark: string): string {
  return mark.split(".")[1]!;
}

let runSeq = 0;
/** A try of a task of the fixture module (`tasks.mjs`), as the runner would submit it. */
export function fixtureRun(job: string, exportName: string, args: unknown, signature?: string, attempt = 1): TaskRun {
  return { id: `test-${++runSeq}`, job, ref: { module: tasksModule, export: exportName }, args, signature, attempt, resolveFrom: [] };
}

/**
 * Undo steps of a test (close, stop, remove), registered as it sets things up, and what to
 * print should it fail (read before anything is undone).
 */
export type Cleanups = Array<() => Promise<unknown> | unknown> & { onFailure: Array<() => Promise<string>> };

/** Runs the registered undo steps, last first, and forgets them and their failure reports (what they would report is gone). */
export async function runCleanups(cleanups: Cleanups): Promise<void> {
  cleanups.onFailure.length = 0;
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
}

/** Cleanups run after each test of the enclosing describe (or file). */
export function cleanupsAfterEach(): Cleanups {
  const cleanups: Cleanups = Object.assign([], { onFailure: [] as Array<() => Promise<string>> });
  afterEach(async (ctx) => {
    const reports = cleanups.onFailure.splice(0);
    if (ctx.task.result?.state === "fail") for (const report of reports) console.error(await report().catch((error: unknown) => `(no diagnostics: ${String(error)})`));
    await runCleanups(cleanups);
  });
  return cleanups;
}

/**
 * What a test against real worker processes needs: a fresh queue and folder, workers
 * started on demand and executors on that queue. Each is undone through `cleanups` (see
 * cleanupsAfterEach).
 */
export function testbed(label: string, cleanups: Cleanups) {
  const queue = uniqueQueue(label);
  const dir = tempDir();
  cleanups.push(() => removeDir(dir));
  cleanups.push(() => obliterate(queue));
  const workers: WorkerProcess[] = [];
  cleanups.push(() => killAll(workers));
  // a test that fails (a timeout, say) shows the queue, the marks and what the workers said
  cleanups.onFailure.push(async () => {
    const q = new Queue(queue, { connection: new Redis(REDIS_URL, { maxRetriesPerRequest: null }) });
    try {
      const counts = await q.getJobCounts("wait", "active", "completed", "failed", "delayed", "prioritized");
      const marks = existsSync(dir) ? readdirSync(dir).join(" ") : "(folder gone)";
      const said = workers.map((w) => `--- worker ${w.tag} (pid ${w.child.pid}, exit ${w.child.exitCode ?? w.child.signalCode ?? "running"}):\n${w.output()}`);
      return [`[testbed ${label}] queue ${queue} jobs ${JSON.stringify(counts)}`, `marks: ${marks}`, ...said].join("\n");
    } finally {
      await q.close();
      (await q.client).disconnect();
    }
  });
  return {
    queue,
    dir,
    workers,
    async start(tag: string, env: Record<string, string> = {}): Promise<WorkerProcess> {
      const worker = await startWorker(queue, tag, env);
      workers.push(worker);
      return worker;
    },
    executor(options: Partial<BullmqExecutorOptions> = {}): BullmqExecutor {
      const made = new BullmqExecutor({ redis: REDIS_URL, queue, ...options });
      cleanups.push(() => made.close());
      return made;
    },
  };
}

/** Log lines written to `stream`, and a promise for the first one that includes a text. */
export function capturedLog() {
  const lines: string[] = [];
  const waiters: Array<{ text: string; resolve: () => void }> = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split("\n")) {
        if (!line) continue;
        lines.push(line);
        for (const waiter of waiters.filter(({ text }) => line.includes(text))) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve();
        }
      }
      done();
    },
  });
  const includes = (text: string) => lines.some((line) => line.includes(text));
  const written = (text: string) => (includes(text) ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ text, resolve })));
  return { stream, includes, written, lines };
}

/**
 * A TCP relay to the test Redis that can play Redis gone: `down()` cuts every connection
 * and drops each new one at once (as a restart or a network cut looks to a client),
 * counting them in `refused`; `up()` relays again. The Redis other tests use stays up.
 */
export async function redisRelay(): Promise<{ url: string; down: () => void; up: () => void; refused: () => number; close: () => Promise<void> }> {
  const { createServer, connect: connectTcp } = await import("node:net");
  const target = new URL(REDIS_URL);
  const sockets = new Set<import("node:net").Socket>();
  let isDown = false;
  let refused = 0;
  const server = createServer((client) => {
    client.on("error", () => {});
    if (isDown) {
      refused++;
      client.destroy();
      return;
    }
    const upstream = connectTcp(Number(target.port || 6379), target.hostname);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on("error", () => {});
      socket.on("close", () => sockets.delete(socket));
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as import("node:net").AddressInfo;
  return {
    url: `redis://127.0.0.1:${port}`,
    down: () => {
      isDown = true;
      for (const socket of sockets) socket.destroy();
    },
    up: () => {
      isDown = false;
    },
    refused: () => refused,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
