import { afterEach, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { InProcessExecutor, JobDone, makeTask, Runner, type Job, type StatusPanel, type Task } from "@ujr/core";
import { HistoryStore, recordRunnerHistory } from "@ujr/history";
import { startStatusServer, type StatusServer } from "../status-server.js";

const tasks = new URL("../__fixtures__/tasks.mjs", import.meta.url).href;
const progressTasks = new URL("../__fixtures__/progress-tasks.mjs", import.meta.url).href;
const dashboardTasks = new URL("./__fixtures__/tasks.mjs", import.meta.url).href;

function listJob(name: string, list: Task[], panel?: () => StatusPanel): Job {
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
    ...(panel ? { statusPanel: panel } : {}),
  };
}

const servers: StatusServer[] = [];
const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function getJson(url: string): Promise<any> {
  return (await fetch(url)).json();
}

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "ujr-dashboard-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Reads server-sent events from a streaming response, one parsed `data` per call. */
function eventReader(response: Response) {
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  return async (): Promise<{ event: string; data: any }> => {
    for (;;) {
      const end = buffer.indexOf("\n\n");
      if (end >= 0) {
        const chunk = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = /^event: (.*)$/m.exec(chunk)?.[1] ?? "message";
        const data = chunk.split("\n").filter((line) => line.startsWith("data: ")).map((line) => line.slice(6)).join("\n");
        return { event, data: JSON.parse(data) };
      }
      const { value, done } = await reader.read();
      if (done) throw new Error("stream ended");
      buffer += value;
    }
  };
}

describe("dashboard", () => {
  it("serves its page and assets from the server itself, with a strict content security policy", async () => {
    const runner = new Runner({ executor: new InProcessExecutor({ size: 1 }), jobs: [] });
    const server = await startStatusServer(runner, { port: 0 });
    servers.push(server);
    const page = await fetch(`${server.url}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toMatch(/^text\/html/);
    expect(page.headers.get("content-security-policy")).toMatch(/default-src 'none'; script-src 'self'/);
    const html = await page.text();
    // Nothing from a CDN or a font service: every src and href is this server's.
    const references = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((match) => match[1]!);
    expect(references.length).toBeGreaterThan(0);
    for (const reference of references) expect(reference).toMatch(/^(\/|#)/);
    for (const asset of ["/ui/app.js", "/ui/app.css"]) {
      const response = await fetch(`${server.url}${asset}`);
      expect(response.status).toBe(200);
      expect(await response.text()).not.toMatch(/https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
    }
    expect((await fetch(`${server.url}/jobs/anything`)).status).toBe(200);
  });

  it("with a token, the page loads without it but its data needs it", async () => {
    const token = "tok-dashboard-1234";
    const runner = new Runner({ executor: new InProcessExecutor({ size: 1 }), jobs: [] });
    const server = await startStatusServer(runner, { port: 0, token });
    servers.push(server);
    expect((await fetch(`${server.url}/`)).status).toBe(200);
    const page = await (await fetch(`${server.url}/`)).text();
    expect(page).not.toContain(token);
    for (const path of ["/api/overview", "/api/events", "/api/jobs/x", "/api/jobs/x/runs"]) expect((await fetch(`${server.url}${path}`)).status).toBe(401);
    expect((await fetch(`${server.url}/api/jobs/x/pause`, { method: "POST" })).status).toBe(401);
    const overview = await fetch(`${server.url}/api/overview`, { headers: { authorization: `Bearer ${token}` } });
    expect(overview.status).toBe(200);
    expect(await overview.json()).toMatchObject({ state: "idle", jobs: [], actions: true, history: false });
  });

  it("shows a distributed executor's queue and workers, read at most every few seconds", async () => {
    let asked = 0;
    const runner = new Runner({ executor: new InProcessExecutor({ size: 1 }), jobs: [] });
    const executorInfo = async () => ({ kind: "bullmq", queue: "ujr", redis: "redis://127.0.0.1:6379", counts: { waiting: 3, active: 1 }, workers: [{ name: `box/${++asked}` }] });
    const server = await startStatusServer(runner, { port: 0, executorInfo });
    servers.push(server);
    expect((await getJson(`${server.url}/api/overview`)).executor).toEqual({ kind: "bullmq", queue: "ujr", redis: "redis://127.0.0.1:6379", counts: { waiting: 3, active: 1 }, workers: [{ name: "box/1" }] });
    expect((await getJson(`${server.url}/api/overview`)).executor.workers).toEqual([{ name: "box/1" }]);
    expect(asked).toBe(1);
  });

  it("without a token it is read-only: actions are refused with what to do", async () => {
    const runner = new Runner({ executor: new InProcessExecutor({ size: 1 }), jobs: [listJob("j", [])] });
    const server = await startStatusServer(runner, { port: 0 });
    servers.push(server);
    const response = await fetch(`${server.url}/api/jobs/j/pause`, { method: "POST" });
    expect(response.status).toBe(403);
    expect(await response.json()).toEqual({ ok: false, message: expect.stringMatching(/actions are off: set runner\.status\.token/) });
    expect((await getJson(`${server.url}/api/overview`)).actions).toBe(false);
  });

  it("shows jobs, running tasks with live progress, the plugin's panel and the history, and pushes updates as the runner changes", async () => {
    const dir = tempDir();
    const marker = join(dir, "go");
    const store = HistoryStore.open({ file: join(dir, "history.sqlite") });
    cleanups.push(() => store.close());
    const panel = (): StatusPanel => ({ title: "Collection", fields: [{ label: "Tweets collected", value: 1234, unit: "tweets" }] });
    const job = listJob(
      "collect",
      [
        makeTask({ module: tasks, export: "echo" }, { n: 1 }, { signature: "page-1" }),
        makeTask({ module: progressTasks, export: "reportThenWait" }, { steps: 3, marker }, { signature: "long" }),
      ],
      panel,
    );
    const runner = new Runner({ executor: new InProcessExecutor({ size: 2 }), jobs: [job] });
    recordRunnerHistory(runner, store, { describeJob: () => ({ plugin: "@ujr/plugin-twitter-collector", jobType: "search" }) });
    const server = await startStatusServer(runner, { port: 0, history: store });
    servers.push(server);

    const stream = await fetch(`${server.url}/api/events`);
    expect(stream.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const next = eventReader(stream);
    const first = await next();
    expect(first.event).toBe("overview");
    expect(first.data).toMatchObject({ state: "idle", history: true, hourly: expect.any(Array) });
    expect(first.data.hourly).toHaveLength(24);

    const done = runner.run();
    // Updates arrive until the long task shows its last progress.
    let seen: any;
    while (!seen) {
      const update = (await next()).data;
      const running = update.running.find((task: { signature?: string }) => task.signature === "long");
      if (running?.progress?.done === 3 && update.jobs[0]?.history?.done === 1) seen = update;
    }
    expect(seen.jobs[0]).toMatchObject({ name: "collect", state: "running", running: 1 });
    // The plugin's own panel comes with each update.
    expect(seen.jobs[0].panel).toEqual(panel());
    expect(seen.running[0].progress).toEqual({ done: 3, total: 3, message: "step 3" });
    const page = await getJson(`${server.url}/api/jobs/collect`);
    // The summary counts runs that ended; the long one is still running.
    expect(page).toMatchObject({ name: "collect", state: "running", summary: { runs: 1, done: 1 }, durations: { count: 1 } });
    writeFileSync(marker, "go");
    await done;
    const runs = await getJson(`${server.url}/api/jobs/collect/runs?outcome=done&q=LONG`);
    expect(runs.runs).toEqual([expect.objectContaining({ signature: "long", outcome: "done", plugin: "@ujr/plugin-twitter-collector" })]);
    const after = await getJson(`${server.url}/api/overview`);
    // A finished job leaves the runner; the history still lists it.
    expect(after.jobs).toEqual([]);
    expect(after.pastJobs).toEqual([expect.objectContaining({ job: "collect", runs: 2, done: 2 })]);
    expect(after.hourly.at(-1)).toMatchObject({ runs: 2, failures: 0 });
  });

  it("a job's page groups its failures by code", async () => {
    const dir = tempDir();
    const store = HistoryStore.open({ file: join(dir, "history.sqlite") });
    cleanups.push(() => store.close());
    const job = listJob("flaky", [1, 2, 3].map((n) => makeTask({ module: dashboardTasks, export: "fail" }, { code: "E_RATE", message: `rate limited ${n}` }, { signature: `bad-${n}` })));
    const runner = new Runner({ executor: new InProcessExecutor({ size: 1 }), jobs: [job] });
    recordRunnerHistory(runner, store);
    const server = await startStatusServer(runner, { port: 0, history: store });
    servers.push(server);
    await runner.run();
    const page = await getJson(`${server.url}/api/jobs/flaky`);
    expect(page.failures).toHaveLength(1);
    expect(page.failures[0]).toMatchObject({ code: "E_RATE", count: 3, lastMessage: expect.stringMatching(/^rate limited \d$/) });
    const failed = await getJson(`${server.url}/api/jobs/flaky/runs?outcome=failed`);
    expect(failed.runs).toHaveLength(3);
    // Paging, newest first: a page, then the runs before its last one.
    const first = await getJson(`${server.url}/api/jobs/flaky/runs?limit=2`);
    const older = await getJson(`${server.url}/api/jobs/flaky/runs?limit=2&before=${first.runs[1].id}`);
    expect([...first.runs, ...older.runs].map((run: { signature: string }) => run.signature).sort()).toEqual(["bad-1", "bad-2", "bad-3"]);
    expect(older.runs).toHaveLength(1);
    expect((await fetch(`${server.url}/api/jobs/nobody`)).status).toBe(404);
  });

  it("with the token, from this machine: pauses and resumes a job, asks it now, cancels a running task and retries a failed one", async () => {
    const dir = tempDir();
    const token = "tok-actions-5678";
    const auth = { authorization: `Bearer ${token}` };
    const post = (path: string, headers: Record<string, string> = auth) => fetch(`${server.url}${path}`, { method: "POST", headers });
    /** Emits its current list each ask; never done until `finish()`. */
    class Controlled implements Job {
      tasks: Task[] = [];
      asked = 0;
      done = false;
      onAsk: (() => void) | undefined;
      constructor(readonly name: string) {}
      getRunnableTasks(): Task[] {
        this.asked++;
        this.onAsk?.();
        if (this.done) throw new JobDone();
        const list = this.tasks;
        this.tasks = [];
        return list;
      }
    }
    const collect = new Controlled("collect");
    const flaky = new Controlled("flaky");
    collect.tasks = [makeTask({ module: progressTasks, export: "reportThenWait" }, { steps: 1, marker: join(dir, "never") }, { signature: "long" })];
    flaky.tasks = [makeTask({ module: dashboardTasks, export: "fail" }, { code: "E_ONCE", message: "first try fails" }, { signature: "once" })];
    const runner = new Runner({ executor: new InProcessExecutor({ size: 4 }), jobs: [collect, flaky], exitWhenIdle: false });
    const server = await startStatusServer(runner, { port: 0, token });
    servers.push(server);
    const events: string[] = [];
    runner.on("job:paused", ({ job }) => events.push(`paused ${job}`));
    runner.on("job:resumed", ({ job }) => events.push(`resumed ${job}`));
    const started = new Promise<string>((resolve) => runner.on("task:started", (event) => event.signature === "long" && resolve(event.runId)));
    const failed = new Promise<string>((resolve) => runner.on("task:failed", (event) => resolve(event.runId)));
    const running = runner.run();
    const longRun = await started;
    const failedRun = await failed;

    expect((await post("/api/jobs/collect/pause", { authorization: "Bearer wrong" })).status).toBe(401);
    const paused = await post("/api/jobs/collect/pause");
    expect(paused.status).toBe(200);
    expect(await paused.json()).toEqual({ ok: true, message: expect.stringMatching(/^job collect paused/) });
    expect(runner.snapshot().jobs.find((job) => job.name === "collect")?.status).toBe("paused");
    const overview = (await (await fetch(`${server.url}/api/overview`, { headers: auth })).json()) as { jobs: Array<{ name: string; state: string }> };
    expect(overview.jobs.find((job) => job.name === "collect")?.state).toBe("paused");
    expect((await post("/api/jobs/collect/check")).status).toBe(409);
    expect((await post("/api/jobs/collect/resume")).status).toBe(200);
    expect(events).toEqual(["paused collect", "resumed collect"]);

    const askedAgain = new Promise<void>((resolve) => (collect.onAsk = resolve));
    const check = await post("/api/jobs/collect/check");
    expect(check.status).toBe(200);
    await askedAgain;

    const cancelled = new Promise<{ runId: string; message: string }>((resolve) => runner.on("task:cancelled", (event) => resolve({ runId: event.runId, message: event.error.message })));
    expect((await post(`/api/runs/${longRun}/cancel`)).status).toBe(200);
    expect(await cancelled).toMatchObject({ runId: longRun, message: expect.stringContaining("cancelled from the dashboard") });
    expect((await post(`/api/runs/${longRun}/cancel`)).status).toBe(409);

    const retried = new Promise<string | undefined>((resolve) => runner.on("task:started", (event) => event.job === "flaky" && resolve(event.signature)));
    const retry = await post(`/api/runs/${failedRun}/retry`);
    expect(await retry.json()).toEqual({ ok: true, message: expect.stringMatching(/started again/) });
    expect(await retried).toBe("once");
    expect((await post(`/api/runs/${failedRun}/retry`)).status).toBe(404);
    expect((await post("/api/jobs/nobody/pause")).status).toBe(409);

    collect.done = true;
    flaky.done = true;
    runner.stop({ graceMs: 0 });
    await running;
  });
});
