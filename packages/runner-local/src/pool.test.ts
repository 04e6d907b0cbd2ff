import { afterEach, describe, expect, it, vi } from "vitest";
import { createWriteStream, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ConfigFileRunner } from "./config-runner.js";
import { EarlyPool, poolSettings, writtenPoolSettings, type PoolSettings } from "./pool.js";
import type { TinypoolExecutor } from "./tinypool-executor.js";
import { childrenStartedBy, namedPipe, runLoading } from "./__fixtures__/processes.js";

const fixtures = new URL("./__fixtures__/tasks.mjs", import.meta.url).href;
const packageDir = fileURLToPath(new URL("..", import.meta.url));

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** The settings a pool's worker was started with, from a task run on it. */
async function workerSettings(pool: TinypoolExecutor): Promise<{ pid: number; logLevel: string; pretty: string }> {
  const outcome = await pool.submit({ id: "1", job: "j", ref: { module: fixtures, export: "workerSettings" }, args: {}, attempt: 1, resolveFrom: [] });
  if (!outcome.ok) throw new Error(`the task failed: ${outcome.error.message}`);
  return outcome.value as { pid: number; logLevel: string; pretty: string };
}

const defaults: PoolSettings = { workers: undefined, isolation: "process", logLevel: "info", prettyLogs: false };

describe("writtenPoolSettings: the local pool of a config file as written, before it is checked", () => {
  it("reads the runner section's plain values, with the defaults of the checked config and the command line over them", () => {
    expect(writtenPoolSettings({ jobs: {} })).toEqual(defaults);
    expect(writtenPoolSettings({ runner: null, jobs: {} })).toEqual(defaults);
    expect(writtenPoolSettings({ runner: { workers: 3, isolation: "thread", logLevel: "warn", executor: { kind: "local" }, checkInterval: "5s" } })).toEqual({
      workers: 3,
      isolation: "thread",
      logLevel: "warn",
      prettyLogs: false,
    });
    expect(writtenPoolSettings({ runner: { workers: 3, logLevel: "warn" } }, { workers: 1, logLevel: "debug", prettyLogs: true })).toEqual({
      workers: 1,
      isolation: "process",
      logLevel: "debug",
      prettyLogs: true,
    });
  });

  it("guesses nothing when the pool is not plainly written: a variable, a wrong value, a distributed executor", () => {
    for (const runner of [
      { workers: "${WORKERS}" },
      { workers: 0 },
      { workers: 2.5 },
      { isolation: "threads" },
      { logLevel: "${LOG_LEVEL:-info}" },
      { logLevel: "verbose" },
      { executor: { kind: "bullmq", redis: "redis://127.0.0.1:6379" } },
      { executor: "local" },
      ["workers", 2],
      "workers: 2",
    ])
      expect(writtenPoolSettings({ runner }), JSON.stringify(runner)).toBeUndefined();
    expect(writtenPoolSettings(undefined)).toBeUndefined();
    expect(writtenPoolSettings("runner: {}")).toBeUndefined();
  });

  it("gives for a runner section as written what poolSettings gives for it checked (the comparison EarlyPool.adopt makes)", () => {
    const runner = { workers: 2, isolation: "thread" as const, logLevel: "error" as const };
    expect(writtenPoolSettings({ runner }, { prettyLogs: true })).toEqual(poolSettings(runner, { prettyLogs: true }));
  });
});

describe("EarlyPool", () => {
  it("hands its pool, with its worker already started, to a run whose checked config asks for the same pool", async () => {
    const early = EarlyPool.start({ runner: { workers: 1, logLevel: "warn" } }, { prettyLogs: false })!;
    cleanups.push(() => early.close());
    const pool = early.adopt(poolSettings({ workers: 1, isolation: "process", logLevel: "warn" }));
    expect(pool).toBeDefined();
    cleanups.push(() => pool!.close());
    const settings = await workerSettings(pool!);
    expect(settings).toMatchObject({ logLevel: "warn", pretty: "0" });
    expect(settings.pid).not.toBe(process.pid);
    // once only: a second run cannot take the same pool
    expect(early.adopt(poolSettings({ workers: 1, logLevel: "warn" }))).toBeUndefined();
  });

  it("closes its pool, and its worker process exits, when the checked config asks for another pool", async (ctx) => {
    let early: EarlyPool | undefined;
    const started = childrenStartedBy(() => (early = EarlyPool.start({ runner: { logLevel: "warn" } })), ctx.skip);
    cleanups.push(() => early?.close());
    expect(started).toHaveLength(1);
    expect(early!.adopt({ ...defaults, logLevel: "debug" })).toBeUndefined();
    await vi.waitFor(() => expect(() => process.kill(started[0]!, 0)).toThrow(), { timeout: 10_000 });
  });

  it("closes its pool when no run takes it (a config that fails its check)", async (ctx) => {
    let early: EarlyPool | undefined;
    const started = childrenStartedBy(() => (early = EarlyPool.start({ jobs: { typo: { plugin: "@ujr/plugin-nope", type: "x" } } })), ctx.skip);
    expect(started).toHaveLength(1);
    await early!.close();
    await vi.waitFor(() => expect(() => process.kill(started[0]!, 0)).toThrow(), { timeout: 10_000 });
    expect(early!.adopt(defaults)).toBeUndefined();
  });

  it("starts nothing for a file it cannot read or parse, or whose runner section it cannot read plainly", () => {
    const dir = mkdtempSync(join(tmpdir(), "ujr-early-pool-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    expect(EarlyPool.fromFile(join(dir, "missing.yaml"))).toBeUndefined();
    expect(EarlyPool.fromFile(dir)).toBeUndefined();
    writeFileSync(join(dir, "bad.yaml"), "runner:\n  workers: [1,\n");
    expect(EarlyPool.fromFile(join(dir, "bad.yaml"))).toBeUndefined();
    writeFileSync(join(dir, "twice.yaml"), "runner:\n  workers: 1\n  workers: 2\n");
    expect(EarlyPool.fromFile(join(dir, "twice.yaml"))).toBeUndefined();
    writeFileSync(join(dir, "env.yaml"), "runner:\n  logLevel: ${LOG_LEVEL}\n");
    expect(EarlyPool.fromFile(join(dir, "env.yaml"))).toBeUndefined();
    expect(EarlyPool.fromFile(fileURLToPath(new URL("./__fixtures__/alias-bomb.yaml", import.meta.url)))).toBeUndefined();
    writeFileSync(join(dir, "ok.yaml"), "runner:\n  workers: 1\n  logLevel: silent\njobs: {}\n");
    const early = EarlyPool.fromFile(join(dir, "ok.yaml"), { prettyLogs: true });
    cleanups.push(() => early?.close());
    expect(early?.settings).toEqual({ workers: 1, isolation: "process", logLevel: "silent", prettyLogs: true });
  });

  it("leaves a pipe to the loader: it starts nothing and reads nothing of it (`ujr run <(...)` is read once)", async (ctx) => {
    const dir = mkdtempSync(join(tmpdir(), "ujr-early-pool-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const fifo = namedPipe(join(dir, "config.fifo"), ctx.skip);
    const text = "runner:\n  workers: 1\njobs: {}\n";
    createWriteStream(fifo).end(text);
    expect(EarlyPool.fromFile(fifo)).toBeUndefined();
    expect(await readFile(fifo, "utf8")).toBe(text);
  });

  it("is started with the settings ConfigFileRunner.startPool gives the same runner section", async () => {
    const runner = { workers: 1, isolation: "process" as const, logLevel: "error" as const };
    const started = ConfigFileRunner.startPool(runner as Parameters<typeof ConfigFileRunner.startPool>[0], { prettyLogs: true });
    cleanups.push(() => started.close());
    const early = EarlyPool.start({ runner }, { prettyLogs: true })!;
    cleanups.push(() => early.close());
    const adopted = early.adopt(poolSettings(runner, { prettyLogs: true }))!;
    cleanups.push(() => adopted.close());
    const [fromStartPool, fromEarly] = await Promise.all([workerSettings(started), workerSettings(adopted)]);
    expect({ ...fromEarly, pid: 0 }).toEqual({ ...fromStartPool, pid: 0 });
    expect([adopted.workers, adopted.isolation]).toEqual([started.workers, started.isolation]);
  });
});

describe("@ujr/runner-local/pool, what `ujr run` loads before its first worker starts", () => {
  it("loads neither zod nor the config schemas nor the runner", () => {
    const { code, stderr, loaded } = runLoading(["--input-type=module", "-e", 'await import("@ujr/runner-local/pool");'], { cwd: packageDir });
    expect(code, stderr).toBe(0);
    expect(loaded.some((url) => url.endsWith("/dist/pool.js"))).toBe(true);
    expect(loaded.filter((url) => /\/zod\/|\/fastest-levenshtein\/|\/core\/dist\/(index|runner|config|plugin)\.js$|\/runner-local\/dist\/(index|local-runner|config-runner)\.js$/.test(url))).toEqual([]);
  });
});
