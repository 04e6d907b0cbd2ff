/**
 * The summary job through the core runner loop (`runJob` from @ujr/core/testing): the
 * tasks are imported by reference ("@ujr/plugin-dataset-summary/tasks", i.e. the built
 * dist/ of this package, as a worker would), results are written, a webhook on a
 * loopback server is notified. Run `tsc -b` first.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Job, Task, TaskFailure } from "@ujr/core";
import { createTestContext, runJob, type TestContext } from "@ujr/core/testing";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { buildTidyDb } from "./__fixtures__/tidy-db.js";
import { summaryConfigSchema, type SummaryConfigInput } from "./config.js";
import { SummaryJob } from "./job.js";
import type { Manifest } from "./manifest.js";

const PACKAGE_DIR = path.resolve(fileURLToPath(import.meta.url), "../..");

interface Received {
  path: string;
  body: { text?: string; job?: string; runId?: string; [k: string]: unknown };
}

let dir: string;
let server: http.Server;
let hookUrl: string;
const received: Received[] = [];
let ctx: TestContext | undefined;

beforeAll(async () => {
  // The runner imports the task module from dist/, exactly as a worker would.
  if (!existsSync(path.join(PACKAGE_DIR, "dist", "tasks.js"))) throw new Error("dist/tasks.js is missing: run `tsc -b` in packages/plugin-dataset-summary before the tests");
  dir = mkdtempSync(path.join(os.tmpdir(), "ujr-summary-job-"));
  buildTidyDb(path.join(dir, "tidy.db"), ["brexit.jsonl"]);
  server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString("utf8")));
    req.on("end", () => {
      received.push({ path: req.url ?? "", body: JSON.parse(body) as Received["body"] });
      res.writeHead(200, { "content-type": "text/plain" }).end("ok");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  hookUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/s3cr3t-token`;
}, 30_000);

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  rmSync(dir, { recursive: true, force: true });
});

afterEach(async () => {
  vi.useRealTimers();
  received.length = 0;
  await ctx?.cleanup();
  ctx = undefined;
});

function makeJob(name: string, schedule: SummaryConfigInput["schedule"]): SummaryJob {
  const config = summaryConfigSchema.parse({
    database: "tidy.db",
    outDir: "./out",
    schedule,
    queries: [
      { name: "per_day", builtin: "tweets_over_time" },
      { name: "languages", builtin: "languages" },
    ],
    notify: [{ type: "webhook", name: "hook", url: hookUrl, allowPrivateAddresses: true, timeout: "5s", retry: { attempts: 1 } }],
  } satisfies SummaryConfigInput);
  ctx = createTestContext({ name, stateDir: path.join(dir, "state", name), configDir: dir });
  return new SummaryJob(config, ctx);
}

const runsOf = (job: string) => readdirSync(path.join(dir, "out", job)).filter((f) => /^\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}Z$/.test(f)).sort();

describe("the summary job in the runner loop", () => {
  it("schedule once: writes the run folder, POSTs the webhook once, then ends with JobDone", async () => {
    const job = makeJob("once-job", { once: true });
    const result = await runJob(job, { resolveFrom: [PACKAGE_DIR] });

    expect(result.reason).toBe("done");
    expect(result.failedJobs).toEqual([]);
    expect(result.failed).toEqual([]);
    expect(result.done.map((e) => e.task.ref)).toEqual([
      { module: "@ujr/plugin-dataset-summary/tasks", export: "runQueries" },
      { module: "@ujr/plugin-dataset-summary/tasks", export: "notifyTarget" },
    ]);

    const runs = runsOf("once-job");
    expect(runs).toHaveLength(1);
    const runDir = path.join(dir, "out", "once-job", runs[0]!);
    const manifest = JSON.parse(readFileSync(path.join(runDir, "summary.json"), "utf8")) as Manifest;
    expect(manifest).toMatchObject({ job: "once-job", ok: true, errors: 0 });
    expect(manifest.queries.map((q) => [q.name, q.rows > 0])).toEqual([["per_day", true], ["languages", true]]);
    for (const f of ["per_day.csv", "per_day.json", "languages.csv", "languages.json", "report.html"]) expect(existsSync(path.join(runDir, f)), f).toBe(true);
    expect(JSON.parse(readFileSync(path.join(dir, "out", "once-job", "latest.json"), "utf8")).runId).toBe(manifest.runId);

    expect(received).toHaveLength(1);
    expect(received[0]!.path).toBe("/hooks/s3cr3t-token");
    expect(JSON.stringify(received[0]!.body)).toContain(manifest.runId);
    expect(job.state).toMatchObject({ pending: [], lastRunId: manifest.runId });
    // the webhook URL is a secret: nothing the job logged holds it
    expect(JSON.stringify(ctx!.logs)).not.toContain("s3cr3t-token");
  }, 60_000);

  it("schedule once: a run that failed (results not writable) fails the job, and the next run of the runner runs it again", async () => {
    // the job's output folder is taken by a file once the job is made (one there before is
    // found when it is made: see folders.test.ts): the run cannot store its results
    const jobOut = path.join(dir, "out", "retried-job");
    const first = makeJob("retried-job", { once: true });
    mkdirSync(path.dirname(jobOut), { recursive: true });
    writeFileSync(jobOut, "in the way");
    const failed = await runJob(first, { resolveFrom: [PACKAGE_DIR] });
    expect(failed.failedJobs).toEqual(["retried-job"]);
    expect(failed.failed.map((e) => [e.error.code, e.error.message])).toEqual([["UJR_SUMMARY_OUTPUT", expect.stringContaining(`summary job "retried-job" could not create its run folder in "${jobOut}"`)]]);
    expect(received).toEqual([]);

    rmSync(jobOut);
    const job = makeJob("retried-job", { once: true });
    const again = await runJob(job, { resolveFrom: [PACKAGE_DIR] });
    expect(again.failedJobs).toEqual([]);
    expect(again.done.map((e) => e.task.ref.export)).toEqual(["runQueries", "notifyTarget"]);
    expect(runsOf("retried-job")).toHaveLength(1);
    expect(job.state).toMatchObject({ lastError: undefined, runs: 2 });
  }, 60_000);

  it("schedule every: runs on schedule under fake timers (twice in 1h30m) and notifies after each run", async () => {
    const start = Date.parse("2030-01-01T00:00:00Z");
    vi.useFakeTimers({ now: start });
    const inner = makeJob("every-job", { every: "1h" });
    // Move fake time only when no task of the job is running: the tasks do real I/O
    // (SQLite worker threads, HTTP) and must not see their own timeouts jump forward.
    let running = 0;
    let idle: (() => void) | undefined;
    const settle = () => {
      running--;
      if (running === 0) idle?.();
    };
    const job: Job = {
      name: inner.name,
      get nextCheck() {
        return inner.nextCheck;
      },
      async getRunnableTasks() {
        const tasks = [...(await inner.getRunnableTasks())];
        running += tasks.length;
        return tasks;
      },
      async onTaskDone(task: Task, result: unknown) {
        await inner.onTaskDone(task, result);
        settle();
      },
      async onTaskFailed(task: Task, failure: TaskFailure) {
        await inner.onTaskFailed(task, failure);
        settle();
      },
    };
    const advanceTime = async () => {
      if (running > 0) await new Promise<void>((resolve) => (idle = resolve));
      idle = undefined;
      await vi.advanceTimersToNextTimerAsync();
    };

    const result = await runJob(job, { resolveFrom: [PACKAGE_DIR], stopAfterMs: 90 * 60_000, advanceTime });

    expect(result.reason).not.toBe("aborted");
    expect(result.failed).toEqual([]);
    expect(result.done.map((e) => e.task.ref.export)).toEqual(["runQueries", "notifyTarget", "runQueries", "notifyTarget"]);
    expect(runsOf("every-job")).toEqual(["2030-01-01T00-00-00Z", "2030-01-01T01-00-00Z"]);
    expect(received).toHaveLength(2);
    expect(received.map((r) => JSON.stringify(r.body))).toEqual([expect.stringContaining("2030-01-01T00-00-00Z"), expect.stringContaining("2030-01-01T01-00-00Z")]);
    expect(inner.state).toMatchObject({ pending: [], lastRunId: "2030-01-01T01-00-00Z" });
  }, 60_000);
});
