import { afterEach, describe, expect, it } from "vitest";
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { main } from "./cli.js";
import { projectOutsideWorkspace } from "../../../packages/runner-local/src/__fixtures__/workspace.js";
import { NO_REDIS, obliterate, REDIS_URL, redisAvailable } from "../../../packages/executor-bullmq/src/__fixtures__/helpers.js";

const bin = fileURLToPath(new URL("../dist/bin.js", import.meta.url));
let project: ReturnType<typeof projectOutsideWorkspace> | undefined;
const children: ChildProcess[] = [];
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const child of children.splice(0)) child.kill("SIGKILL");
  project?.cleanup();
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

describe("ujr worker --status-port (real Redis)", () => {
  it("serves /healthz and /metrics for probes on loopback while it takes tasks", async (ctx) => {
    if (!(await redisAvailable())) return ctx.skip(NO_REDIS);
    project = projectOutsideWorkspace();
    const queue = `ujr-probe-test-${randomBytes(4).toString("hex")}`;
    cleanups.push(() => obliterate(queue));
    const child = spawn(process.execPath, [bin, "worker", "--redis", REDIS_URL, "--queue", queue, "--workers", "1", "--isolation", "thread", "--concurrency", "3", "--status-port", "0"], { cwd: project.dir, stdio: ["ignore", "pipe", "pipe"] });
    children.push(child);
    let output = "";
    child.stdout!.on("data", (chunk) => (output += chunk));
    child.stderr!.on("data", (chunk) => (output += chunk));
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout!.on("data", () => {
        const match = /worker probes listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
        if (match) resolve(match[1]!);
      });
      void exited.then((code) => reject(new Error(`ujr worker exited (${code}):\n${output}`)));
    });
    const health = await fetch(`${url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.text()).toBe("ok\n");
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(/^ujr_worker_concurrency 3$/m);
    expect(metrics).toMatch(/^ujr_worker_tasks_running 0$/m);
    expect(metrics).toMatch(/^process_cpu_user_seconds_total /m);
    expect((await fetch(`${url}/nope`)).status).toBe(404);
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
  }, 60_000);

  it("rejects a bad --status-port before it connects", async () => {
    const err: string[] = [];
    const code = await main(["worker", "--redis", REDIS_URL, "--status-port", "http"], { out: () => undefined, err: (text) => err.push(text) });
    expect(code).toBe(2);
    expect(err.join("\n")).toContain('--status-port must be a port number from 0 to 65535 (got "http")');
  });
});
