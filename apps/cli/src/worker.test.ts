import { afterEach, describe, expect, it } from "vitest";
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { main } from "./cli.js";
import { projectOutsideWorkspace } from "../../../packages/runner-local/src/__fixtures__/workspace.js";
import { NO_REDIS, obliterate, REDIS_URL, redisAvailable } from "../../../packages/executor-bullmq/src/__fixtures__/helpers.js";

const bin = fileURLToPath(new URL("../dist/bin.js", import.meta.url));
let project: ReturnType<typeof projectOutsideWorkspace>;
const children: ChildProcess[] = [];
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const child of children.splice(0)) child.kill("SIGKILL");
  project?.cleanup();
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

function start(argv: string[], cwd: string): { child: ChildProcess; exited: Promise<{ code: number | null; stdout: string }>; output: () => string } {
  const child = spawn(process.execPath, [bin, ...argv], { cwd, stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  let stdout = "";
  child.stdout!.on("data", (chunk) => (stdout += chunk));
  child.stderr!.on("data", (chunk) => (stdout += chunk));
  const exited = new Promise<{ code: number | null; stdout: string }>((resolve) => child.on("exit", (code) => resolve({ code, stdout })));
  return { child, exited, output: () => stdout };
}

describe("ujr worker + ujr run with runner.executor.kind: bullmq (real Redis)", () => {
  it("a coordinator's tasks run on a separate worker process that takes its queue and plugins from its own config", async (ctx) => {
    if (!(await redisAvailable())) return ctx.skip(NO_REDIS);
    project = projectOutsideWorkspace();
    const queue = `ujr-cli-test-${randomBytes(4).toString("hex")}`;
    cleanups.push(() => obliterate(queue));
    const file = project.write(
      "ujr.config.yaml",
      `runner:\n  executor:\n    kind: bullmq\n    redis: \${REDIS_URL:-${REDIS_URL}}\n    queue: ${queue}\njobs:\n  remote:\n    plugin: "@acme/ujr-plugin-fixture"\n    type: count\n    config: { count: 6, label: remote }\n`,
    );
    // Redis and the queue come from the config's runner.executor; the rest from options.
    const worker = start(["worker", "--config", file, "--workers", "2", "--isolation", "thread", "--concurrency", "4", "--grace", "5s"], project.dir);
    const coordinator = start(["run", file, "--no-watch", "--workers", "1"], project.dir);
    const { code, stdout } = await coordinator.exited;
    expect(code, stdout).toBe(0);
    const lines = readFileSync(join(project.dir, "data", "remote", "lines.txt"), "utf8").trim().split("\n").sort();
    expect(lines).toEqual(["remote-0", "remote-1", "remote-2", "remote-3", "remote-4", "remote-5"]);
    expect(worker.output().match(/"msg":"worker ready"/g)).toHaveLength(1);
    expect(worker.output()).toContain('"concurrency":4');
    worker.child.kill("SIGTERM");
    expect((await worker.exited).code).toBe(0);
    expect(worker.output()).toContain("running tasks have 5 s to finish");
  }, 60_000);

  it("ujr worker checks --concurrency and --grace before it connects, and says what it wants", async () => {
    const cases: Array<[string[], string]> = [
      [["--concurrency", "0"], '--concurrency must be a positive whole number (got "0")'],
      [["--concurrency", "lots"], '--concurrency must be a positive whole number (got "lots")'],
      [["--grace", "soon"], '--grace must be a duration such as 30s, 2m or 500ms (got "soon")'],
    ];
    for (const [flags, message] of cases) {
      const err: string[] = [];
      const code = await main(["worker", "--redis", "redis://127.0.0.1:1", ...flags], { out: () => {}, err: (text) => err.push(text) });
      expect(code).toBe(2);
      expect(err.join("\n")).toContain(message);
    }
  });

  it("ujr worker with a --config that does not load stops with the config's error, as ujr run does", async () => {
    project = projectOutsideWorkspace();
    const err: string[] = [];
    const code = await main(["worker", "--config", join(project.dir, "missing.yaml")], { out: () => {}, err: (text) => err.push(text) });
    expect(code).toBe(2);
    expect(err.join("\n")).toContain(`Config file not found: ${join(project.dir, "missing.yaml")}`);
  });

  it("ujr worker without Redis says how to give it", async () => {
    const saved = process.env.REDIS_URL;
    delete process.env.REDIS_URL;
    try {
      const err: string[] = [];
      const code = await main(["worker"], { out: () => {}, err: (text) => err.push(text) });
      expect(code).toBe(2);
      expect(err.join("\n")).toContain(
        "ujr worker needs the queue's Redis: pass --redis redis://host:6379, set REDIS_URL, or give a --config whose runner.executor.kind is bullmq",
      );
    } finally {
      if (saved !== undefined) process.env.REDIS_URL = saved;
    }
  });
});
