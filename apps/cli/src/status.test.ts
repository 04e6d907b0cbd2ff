import { afterEach, describe, expect, it, vi } from "vitest";
import { cli } from "./__fixtures__/in-process-cli.js";
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import type { RunnerSnapshot } from "@ujr/core";
import { runCommand } from "./commands/run.js";
import { captureStream } from "./__fixtures__/capture-stream.js";
import { statusBaseUrl } from "./commands/status.js";
import { projectOutsideWorkspace } from "../../../packages/runner-local/src/__fixtures__/workspace.js";

const bin = fileURLToPath(new URL("../dist/bin.js", import.meta.url));
let project: ReturnType<typeof projectOutsideWorkspace> | undefined;
const children: Array<ReturnType<typeof spawn>> = [];
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill("SIGKILL");
  project?.cleanup();
  project = undefined;
});


/** Starts `ujr run` and resolves with the status URL it logs. */
function spawnRun(argv: string[], env: NodeJS.ProcessEnv = {}) {
  const child = spawn(process.execPath, [bin, "run", ...argv], { cwd: project!.dir, env: { ...process.env, CI: "", ...env }, stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (chunk) => (stdout += chunk));
  child.stderr!.on("data", (chunk) => (stderr += chunk));
  const exited = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => child.on("exit", (code) => resolve({ code, stdout, stderr })));
  const url = new Promise<string>((resolve, reject) => {
    child.stdout!.on("data", () => {
      const match = /"url":"(http:\/\/[^"]+)"/.exec(stdout);
      if (match) resolve(match[1]!);
    });
    void exited.then(({ code }) => reject(new Error(`ujr run exited (${code}) before its status server listened:\n${stdout}\n${stderr}`)));
  });
  return { child, exited, url };
}

const foreverJob = `jobs:\n  a:\n    plugin: "@acme/ujr-plugin-fixture"\n    type: count\n    config: { count: 2, forever: true }\n`;

describe("ujr run --status-port and ujr status", () => {
  it("serves the runner's state on 127.0.0.1; `ujr status` prints it as a table or JSON", async () => {
    project = projectOutsideWorkspace();
    project.write("ujr.config.yaml", `runner:\n  workers: 1\n${foreverJob}`);
    const run = spawnRun(["--no-watch", "--status-port", "0"]);
    const url = await run.url;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);

    // The job reports its two tasks done and then stays active, asking for nothing.
    await vi.waitFor(
      async () => {
        const result = await cli(["status", url, "--json"]);
        expect(result.code).toBe(0);
        const snapshot = JSON.parse(result.out) as RunnerSnapshot;
        expect(snapshot.state).toBe("running");
        expect(snapshot.jobs).toEqual([expect.objectContaining({ name: "a", status: "active", counters: expect.objectContaining({ done: 2 }) })]);
      },
      { timeout: 15_000, interval: 50 },
    );
    const table = await cli(["status", url.replace("http://", "")]);
    expect(table.code).toBe(0);
    expect(table.out).toMatch(/^ujr running · up .* · 1 job · 0\/\d+ slots busy · done 2 · failed 0\n/);
    expect(table.out).toMatch(/\nJOB +STATE +NEXT CHECK +RUNNING +DONE +FAILED\na +active +now +0 +2 +0$/);

    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(/^ujr_tasks_total\{job="a",outcome="done"\} 2$/m);
    expect(await (await fetch(`${url}/healthz`)).text()).toBe("ok\n");

    // Stopped by a signal before every job was done: 130 (the README's exit-code rule).
    run.child.kill("SIGTERM");
    expect((await run.exited).code).toBe(130);
  }, 30_000);

  it("with runner.status.token: `ujr status` needs the token (--token or UJR_STATUS_TOKEN); it is never logged", async () => {
    project = projectOutsideWorkspace();
    const token = "st-0c6f1d9e2b7a4f3c8e5d";
    project.write("ujr.config.yaml", `runner:\n  workers: 1\n  status:\n    port: 0\n    token: \${MY_STATUS_TOKEN}\n${foreverJob}`);
    const run = spawnRun(["--no-watch", "--log-level", "debug"], { MY_STATUS_TOKEN: token });
    const url = await run.url;

    const without = await cli(["status", url]);
    expect(without.code).toBe(1);
    expect(without.err).toMatch(/UJR_CLI_STATUS_UNAUTHORIZED\nThe status server at http:\/\/127\.0\.0\.1:\d+ needs a token/);
    const wrong = await cli(["status", url, "--token", "nope"]);
    expect(wrong.err).toContain("refused the token");
    expect(await cli(["status", url, "--token", token])).toMatchObject({ code: 0, out: expect.stringContaining("ujr running") });
    process.env.UJR_STATUS_TOKEN = token;
    try {
      expect(await cli(["status", url, "--json"])).toMatchObject({ code: 0 });
    } finally {
      delete process.env.UJR_STATUS_TOKEN;
    }

    run.child.kill("SIGTERM");
    const { code, stdout, stderr } = await run.exited;
    expect(code).toBe(130);
    expect(stdout).toContain('"msg":"status server listening on');
    expect(stdout + stderr).not.toContain(token);
  }, 30_000);

  it("says clearly when nothing listens there", async () => {
    const port = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, "127.0.0.1", () => {
        const { port: free } = server.address() as { port: number };
        server.close(() => resolve(free));
      });
    });
    const result = await cli(["status", String(port)]);
    expect(result.code).toBe(1);
    expect(result.err).toMatch(new RegExp(`UJR_CLI_STATUS_UNREACHABLE\\nNothing answers at http://127\\.0\\.0\\.1:${port}: no ujr runner is running there, or it was started without a status server`));
  });

  it("takes a URL, host:port or a bare port (default http://127.0.0.1:9464)", () => {
    expect(statusBaseUrl(undefined)).toBe("http://127.0.0.1:9464");
    expect(statusBaseUrl("9000")).toBe("http://127.0.0.1:9000");
    expect(statusBaseUrl("box:9000")).toBe("http://box:9000");
    expect(statusBaseUrl("https://box/ujr/status")).toBe("https://box/ujr");
  });

  it("rejects a bad --status-port with exit code 2", async () => {
    expect(await cli(["run", "--status-port", "http"])).toMatchObject({ code: 2, err: expect.stringContaining("--status-port must be a port number") });
  });
});

describe("ujr run in a terminal", () => {
  it("shows a live status view under the log lines and leaves its last frame", async () => {
    project = projectOutsideWorkspace();
    const file = project.write("ujr.config.yaml", `runner:\n  workers: 1\n  isolation: thread\njobs:\n  a:\n    plugin: "@acme/ujr-plugin-fixture"\n    type: count\n    config: { count: 3 }\n`);
    const { stream: stdout, chunks } = captureStream({ isTTY: true, columns: 100, rows: 40 });
    const originalWrite = stdout.write;
    const code = await runCommand([file, "--no-watch"], { out: () => {}, err: () => {} }, { stdout, env: { NO_COLOR: "1" } });
    expect(code).toBe(0);
    const text = chunks.join("");
    // Readable log lines (not JSON), each task's end among them.
    expect(text.match(/task done/g)).toHaveLength(3);
    expect(text).not.toMatch(/^\{"level"/m);
    // The view was drawn, erased before log lines (cursor up, clear below) and drawn again.
    expect(text).toMatch(/\r\x1b\[\d+A\x1b\[0J/);
    expect(chunks[0]).toMatch(/^ujr (idle|running) · /);
    // Its last frame stays: the runner stopped with every task done, and how each job ended.
    expect(chunks.at(-1)).toMatch(/ujr stopped · .*done 3 · failed 0/);
    expect(chunks.at(-1)).toMatch(/ujr run ended, exit code 0\n  a: done, 3 task\(s\) done\n$/);
    expect(stdout.write).toBe(originalWrite);
  }, 30_000);

  it("without a TTY (or with --no-tty) logs plain JSON lines", async () => {
    project = projectOutsideWorkspace();
    const file = project.write("ujr.config.yaml", `runner:\n  workers: 1\n  isolation: thread\njobs:\n  a:\n    plugin: "@acme/ujr-plugin-fixture"\n    type: count\n    config: { count: 2 }\n`);
    const { stream: stdout, chunks } = captureStream({ isTTY: false });
    expect(await runCommand([file, "--no-watch"], { out: () => {}, err: () => {} }, { stdout, env: {} })).toBe(0);
    const lines = chunks.join("").trim().split("\n").map((line) => JSON.parse(line) as { msg: string });
    expect(lines.filter((line) => line.msg === "task done")).toHaveLength(2);
  }, 30_000);
});
