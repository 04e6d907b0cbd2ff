/**
 * Crash suite: the collector through the BullMQ executor, against the emulator, as users
 * run it (`ujr run` coordinator + `ujr worker`), with a Redis server of its own (a free
 * port, append-only file, started and restarted by the test; other Redis users are not
 * touched). During the collection the coordinator and the worker are each killed with
 * SIGKILL at random points (keyed to pages the emulator served) and started again, and
 * Redis is killed and restarted once. In the end every page of the search is stored
 * exactly once: no tweet lost, none twice, no page file twice.
 *
 * Bounded for CI: UJR_CRASH_TRIALS rounds of (coordinator kill, worker kill) (default 1:
 * a killed worker's task waits out BullMQ's 30 s lock before another worker takes it), the
 * seed printed (UJR_CRASH_SEED repeats a run).
 */
import { afterAll, describe, expect, it } from "vitest";
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startEmulator, type Emulator } from "@ujr/x-api-emulator";
import { crashProject, prng, startUjr, turns, type Started } from "./__fixtures__/crash-project.js";

// One round by default: after a worker's SIGKILL its task waits out BullMQ's lock (30 s) before it runs again.
const TRIALS = Number(process.env.UJR_CRASH_TRIALS ?? 1);
const PAGES = Number(process.env.UJR_CRASH_PAGES ?? 40);
const SEED = Number(process.env.UJR_CRASH_SEED ?? Math.floor(Math.random() * 2 ** 31));
const TOKEN = "crash-token";

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.on("error", reject);
  });
}

/** A redis-server of the test's own, persisting to an append-only file so that a restart keeps the queue. */
class OwnRedis {
  proc: ChildProcess | undefined;
  readonly dir = mkdtempSync(join(tmpdir(), "ujr-crash-redis-"));
  constructor(readonly port: number) {}
  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }
  async start(): Promise<void> {
    const proc = spawn("redis-server", ["--port", String(this.port), "--bind", "127.0.0.1", "--dir", this.dir, "--appendonly", "yes", "--appendfsync", "always", "--save", ""], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.proc = proc;
    await new Promise<void>((resolve, reject) => {
      let text = "";
      proc.stdout!.on("data", (chunk) => {
        text += chunk;
        if (text.includes("Ready to accept connections")) resolve();
      });
      proc.on("error", (error) => reject(new Error(`redis-server could not start (${error.message}): the crash suite needs redis-server on the PATH`)));
      proc.on("exit", (code) => reject(new Error(`redis-server exited (${code}): ${text}`)));
    });
  }
  async kill(): Promise<void> {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((resolve) => proc.on("exit", resolve));
    proc.kill("SIGKILL");
    await exited;
  }
  async cleanup(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

const stoppers: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const stop of stoppers.reverse()) await stop();
});

function servedPages(emulator: Emulator): number {
  return emulator.requests.filter((r) => r.endpoint === "search/recent" && r.status === 200).length;
}

/** Resolves when the emulator has served `n` pages in all, or when `run` exits first (false). */
function afterServed(emulator: Emulator, n: number, run: Started): Promise<boolean> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (value: boolean) => {
      if (done) return;
      done = true;
      clearInterval(timer);
      resolve(value);
    };
    // The emulator's request log is polled (it has no events); the kill point is the page count.
    const timer = setInterval(() => {
      if (servedPages(emulator) >= n) finish(true);
    }, 2);
    void run.exited.then(() => finish(servedPages(emulator) >= n));
  });
}

describe("crash suite: the collector through BullMQ, coordinator, worker and Redis killed", () => {
  it(`stores every page exactly once (${TRIALS} rounds, seed ${SEED})`, async () => {
    console.log(`crash suite (collector, BullMQ): seed ${SEED}, ${TRIALS} rounds of coordinator + worker SIGKILL and one Redis restart, ${PAGES} pages; repeat with UJR_CRASH_SEED=${SEED}`);
    const random = prng(SEED);
    const redis = new OwnRedis(await freePort());
    stoppers.push(() => redis.cleanup());
    await redis.start();
    const emulator = await startEmulator({ port: 0, bearerToken: TOKEN, rateLimit: false });
    stoppers.push(() => emulator.close());
    const query = `crashbull${randomBytes(3).toString("hex")}`;
    const expected = emulator.generateTweets(PAGES * 10, { textPrefix: `${query} ` }).map((t) => t.id);
    expect(expected).toHaveLength(PAGES * 10);

    // The user's project: the plugin, and the BullMQ executor `ujr` finds by package name.
    const project = crashProject(["plugin-twitter-collector", "executor-bullmq"]);
    stoppers.push(async () => project.cleanup());
    const queue = `ujr-crash-${randomBytes(4).toString("hex")}`;
    project.write(
      "ujr.config.yaml",
      `runner:\n  workers: 1\n  shutdownGrace: 5s\n  executor:\n    kind: bullmq\n    redis: ${redis.url}\n    queue: ${queue}\njobs:\n  collect:\n    plugin: "@ujr/plugin-twitter-collector"\n    type: search\n    config:\n      query: "${query}"\n      baseUrl: ${emulator.url}\n      bearerToken: ${TOKEN}\n      mode: once\n      maxResults: 10\n      pagesPerTask: 3\n      urlResolution: { enabled: false }\n      retry: { attempts: 20, baseMs: 50, maxMs: 500 }\n      failureBackoff: 200ms\n      failureLimit: 0\n`,
    );
    const processes: Started[] = [];
    stoppers.push(async () => {
      for (const p of processes) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill("SIGKILL");
    });
    const worker = () => {
      const started = startUjr(["worker", "--config", "ujr.config.yaml", "--workers", "1", "--isolation", "process", "--grace", "2s"], project.dir);
      processes.push(started);
      return started;
    };
    const coordinator = () => {
      const started = startUjr(["run", "--no-watch", "--no-tty"], project.dir);
      processes.push(started);
      return started;
    };

    let w = worker();
    let c = coordinator();
    const events: string[] = [];
    // Kill points spread over the collection: each round a coordinator and a worker kill, Redis once in the middle.
    const span = PAGES / (2 * TRIALS + 2);
    let next = 0;
    const redisRound = Math.floor(random() * TRIALS);
    for (let round = 0; round < TRIALS; round++) {
      for (const victim of ["coordinator", "worker"] as const) {
        next += 1 + Math.floor(random() * span);
        const run = victim === "coordinator" ? c : w;
        if (!(await afterServed(emulator, next, run))) break;
        await turns(Math.floor(random() * 4));
        run.child.kill("SIGKILL");
        await run.exited;
        events.push(`${victim} killed after ${servedPages(emulator)} pages`);
        if (victim === "coordinator") c = coordinator();
        else w = worker();
      }
      if (round === redisRound) {
        next += 1 + Math.floor(random() * span);
        if (await afterServed(emulator, next, c)) {
          await redis.kill();
          events.push(`Redis killed after ${servedPages(emulator)} pages`);
          await redis.start();
        }
      }
    }
    const end = await c.exited;
    w.child.kill("SIGTERM");
    await w.exited;
    console.log(`crash suite (collector, BullMQ): ${events.join("; ")}`);
    expect(end.code, end.output.slice(-4000)).toBe(0);

    const rawDir = join(project.dir, "data", "collect", "raw");
    const files = readdirSync(rawDir).filter((name) => /^\d{8}T\d{9}Z-\d+\.jsonl$/.test(name)).sort();
    const ids: string[] = [];
    const seqs: number[] = [];
    for (const file of files) {
      const page = JSON.parse(readFileSync(join(rawDir, file), "utf8")) as { data: Array<{ id: string }>; __twarc: { ujr: { seq: number } } };
      ids.push(...page.data.map((t) => t.id));
      seqs.push(page.__twarc.ujr.seq);
    }
    const lost = expected.filter((id) => !ids.includes(id)).length;
    const duplicated = ids.length - new Set(ids).size;
    console.log(`crash suite (collector, BullMQ): ${files.length} page files, ${ids.length} tweets stored; lost ${lost}, duplicated ${duplicated}`);
    expect(lost).toBe(0);
    expect(duplicated).toBe(0);
    expect(new Set(ids)).toEqual(new Set(expected));
    expect(new Set(seqs).size).toBe(files.length);
    expect(readdirSync(rawDir).filter((name) => name.startsWith(".tmp-"))).toEqual([]);
  }, 60_000 + TRIALS * 80_000);
});
