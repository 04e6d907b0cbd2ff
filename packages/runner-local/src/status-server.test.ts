import { afterEach, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { createLogger, JobDone, makeTask, type Job, type RunnerSnapshot, type Task } from "@ujr/core";
import { LocalJobsRunner } from "./local-runner.js";
import { startStatusServer, type StatusServer } from "./status-server.js";

const tasks = new URL("./__fixtures__/tasks.mjs", import.meta.url).href;
const progressTasks = new URL("./__fixtures__/progress-tasks.mjs", import.meta.url).href;

/** Emits its tasks until each has ended once. */
function listJob(name: string, list: Task[]): Job {
  const pending = [...list];
  const settle = (task: Task) => void pending.splice(pending.indexOf(task), 1);
  return {
    name,
    getRunnableTasks() {
      if (pending.length === 0) throw new JobDone();
      return pending;
    },
    onTaskDone: settle,
    onTaskFailed: settle,
  };
}

/** Parses Prometheus text into `name{labels}` → value. */
function parseMetrics(text: string): Map<string, number> {
  const values = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const match = /^(\S+?(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (match) values.set(match[1]!, Number(match[2]));
  }
  return values;
}

function capturedLogger() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, callback) {
      lines.push(...chunk.toString().split("\n").filter(Boolean));
      callback();
    },
  });
  return { logger: createLogger({ level: "debug", destination }), lines };
}

const servers: StatusServer[] = [];
const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function markerFile(): string {
  const dir = mkdtempSync(join(tmpdir(), "ujr-status-"));
  dirs.push(dir);
  return join(dir, "go");
}

describe("status server", () => {
  it("binds to 127.0.0.1 by default and serves /status, /metrics and /healthz over a run", async () => {
    const marker = markerFile();
    const job = listJob("mixed", [
      makeTask({ module: progressTasks, export: "reportThenWait" }, { steps: 3, marker }, { signature: "long" }),
      ...[1, 2, 3].map((n) => makeTask({ module: tasks, export: "echo" }, { n }, { signature: `echo-${n}` })),
      makeTask({ module: tasks, export: "unclonable" }, {}, { signature: "bad" }),
    ]);
    const runner = new LocalJobsRunner({ jobs: [job], workers: 2, isolation: "thread", handleSignals: false, logLevel: "silent" });
    const server = await startStatusServer(runner, { port: 0 });
    servers.push(server);
    expect(server.host).toBe("127.0.0.1");
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(server.port).toBeGreaterThan(0);

    const before = await fetch(`${server.url}/healthz`);
    expect(before.status).toBe(503);
    expect(await before.text()).toBe("starting\n");

    let during: { status: RunnerSnapshot; healthz: number; healthText: string } | undefined;
    let failure: unknown;
    runner.on("task:progress", (event) => {
      if (event.progress.done !== 3) return;
      void (async () => {
        const status = (await (await fetch(`${server.url}/status`)).json()) as RunnerSnapshot;
        const health = await fetch(`${server.url}/healthz`);
        during = { status, healthz: health.status, healthText: await health.text() };
      })()
        .catch((error: unknown) => (failure = error))
        .finally(() => writeFileSync(marker, "go"));
    });
    const result = await runner.run();
    expect(failure).toBeUndefined();
    expect(result.tasks).toMatchObject({ done: 4, failed: 1 });

    expect(during?.healthz).toBe(200);
    expect(during?.healthText).toBe("ok\n");
    expect(during?.status.state).toBe("running");
    expect(during?.status.jobs.map((entry) => entry.name)).toEqual(["mixed"]);
    expect(during?.status.running.find((task) => task.signature === "long")?.progress).toEqual({ done: 3, total: 3, message: "step 3" });

    const response = await fetch(`${server.url}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^text\/plain/);
    const metrics = parseMetrics(await response.text());
    expect(metrics.get('ujr_tasks_total{job="mixed",outcome="done"}')).toBe(4);
    expect(metrics.get('ujr_tasks_total{job="mixed",outcome="failed"}')).toBe(1);
    expect(metrics.get('ujr_task_duration_seconds_count{job="mixed"}')).toBe(5);
    expect(metrics.get('ujr_jobs{status="done"}')).toBe(1);
    expect(metrics.get('ujr_jobs{status="active"}')).toBe(0);
    expect(metrics.get("ujr_queue_depth")).toBe(0);
    expect(metrics.get('ujr_executor_slots{state="size"}')).toBeGreaterThan(0);
    expect(metrics.get("process_cpu_user_seconds_total")).toBeGreaterThan(0);
    expect([...metrics.keys()].some((key) => key.startsWith("nodejs_heap_size_used_bytes"))).toBe(true);

    const after = await fetch(`${server.url}/healthz`);
    expect(after.status).toBe(503);
    expect(await after.text()).toBe("stopped\n");
    expect((await fetch(`${server.url}/nope`)).status).toBe(404);
    expect((await fetch(`${server.url}/status`, { method: "POST" })).status).toBe(405);
  }, 60_000);

  it("counts retried and timed-out tries, reports running tasks while they run, and 503 while stopping", async () => {
    const marker = markerFile();
    const job = listJob("slowpoke", [
      makeTask({ module: progressTasks, export: "reportThenWait" }, { steps: 1, marker }, { signature: "waits" }),
      makeTask({ module: tasks, export: "spin" }, {}, { signature: "spins", timeoutMs: 200, retry: { attempts: 2, baseMs: 1, jitter: 0 } }),
    ]);
    const runner = new LocalJobsRunner({ jobs: [job], workers: 2, isolation: "thread", handleSignals: false, logLevel: "silent", shutdownGrace: 60_000 });
    const server = await startStatusServer(runner, { port: 0 });
    servers.push(server);
    let runningGauge: number | undefined;
    let health: { status: number; text: string } | undefined;
    runner.on("task:timeout", () => {
      void (async () => {
        runningGauge = parseMetrics(await (await fetch(`${server.url}/metrics`)).text()).get('ujr_tasks_running{job="slowpoke"}');
        runner.stop({ graceMs: 60_000 });
        const response = await fetch(`${server.url}/healthz`);
        health = { status: response.status, text: await response.text() };
      })().finally(() => writeFileSync(marker, "go"));
    });
    await runner.run();
    expect(runningGauge).toBe(1);
    expect(health).toEqual({ status: 503, text: "stopping\n" });
    const metrics = parseMetrics(await (await fetch(`${server.url}/metrics`)).text());
    expect(metrics.get('ujr_tasks_total{job="slowpoke",outcome="retried"}')).toBe(1);
    expect(metrics.get('ujr_tasks_total{job="slowpoke",outcome="timeout"}')).toBe(1);
    expect(metrics.get('ujr_tasks_total{job="slowpoke",outcome="done"}')).toBe(1);
  }, 60_000);

  it("with a token: 401 without it or with a wrong one, 200 with it; the token is never logged", async () => {
    const token = "tok-5f0e8c2a9d1b4e77";
    const { logger, lines } = capturedLogger();
    const runner = new LocalJobsRunner({ jobs: [], handleSignals: false, logger });
    const server = await startStatusServer(runner, { port: 0, token, logger });
    servers.push(server);
    for (const path of ["/status", "/metrics", "/healthz"]) {
      const without = await fetch(`${server.url}${path}`);
      expect(without.status).toBe(401);
      expect(without.headers.get("www-authenticate")).toMatch(/^Bearer/);
      expect((await fetch(`${server.url}${path}`, { headers: { authorization: `Bearer ${token}x` } })).status).toBe(401);
      expect((await fetch(`${server.url}${path}`, { headers: { authorization: token } })).status).toBe(401);
    }
    const ok = await fetch(`${server.url}/status`, { headers: { authorization: `Bearer ${token}` } });
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as RunnerSnapshot).state).toBe("idle");
    // Even a careless log line that names it is redacted.
    logger.info({ statusToken: token }, `the token is ${token}`);
    await new Promise<void>((resolve) => logger.flush(() => resolve()));
    expect(lines.some((line) => line.includes(server.url))).toBe(true);
    expect(lines.join("\n")).not.toContain(token);
  });

  it("reports a port already in use as UJR_STATUS_LISTEN_FAILED (exit code 2)", async () => {
    const runner = new LocalJobsRunner({ jobs: [], handleSignals: false, logLevel: "silent" });
    const first = await startStatusServer(runner, { port: 0 });
    servers.push(first);
    await expect(startStatusServer(runner, { port: first.port })).rejects.toMatchObject({
      code: "UJR_STATUS_LISTEN_FAILED",
      exitCode: 2,
      message: expect.stringMatching(/could not listen on 127\.0\.0\.1:\d+: EADDRINUSE/),
    });
  });
});
