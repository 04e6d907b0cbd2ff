import { afterEach, describe, expect, it } from "vitest";
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { once } from "node:events";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { isPlugin } from "@ujr/core";
// @ts-expect-error plain JS example
import { HttpJobsRunner } from "../../../examples/custom-runner/jobs-from-http.mjs";
// @ts-expect-error plain JS fixture
import fixturePlugin from "./__fixtures__/plugin-fixture/index.js";

const examples = fileURLToPath(new URL("../../../examples/", import.meta.url));
const cleanups: Array<() => void> = [];
afterEach(() => cleanups.splice(0).forEach((cleanup) => cleanup()));

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "ujr-example-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

describe("examples", () => {
  it("a script builds its job in code, keeps its task in the same file, and returns when the job is done", async () => {
    const dir = tempDir();
    const contents: Record<string, string> = { "a.txt": "alpha", "b.txt": "beta", "c.txt": "gamma" };
    for (const [name, text] of Object.entries(contents)) writeFileSync(join(dir, name), text);
    const { stdout } = await promisify(execFile)(process.execPath, [join(examples, "script/checksums.mjs"), dir]);
    const expected = Object.entries(contents).map(([name, text]) => `${createHash("sha256").update(text).digest("hex")}  ${join(dir, name)}`);
    expect(stdout.trim().split("\n")).toEqual(expected);
  });

  it("a custom runner takes its jobs from an HTTP registry and follows its changes", async () => {
    expect(isPlugin(fixturePlugin)).toBe(true);
    let definitions = [
      { name: "one", type: "count", config: { count: 1, forever: true } },
      { name: "two", type: "count", config: { count: 2, forever: true } },
    ];
    let version = 1;
    const server: Server = createServer((request, response) => {
      const etag = `"v${version}"`;
      if (request.headers["if-none-match"] === etag) return void response.writeHead(304).end();
      response.writeHead(200, { "content-type": "application/json", etag }).end(JSON.stringify(definitions));
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    cleanups.push(() => server.close());
    const { port } = server.address() as { port: number };
    const dataDir = tempDir();
    const runner = new HttpJobsRunner({ url: `http://127.0.0.1:${port}/jobs`, plugin: fixturePlugin, dataDir, baseDir: fileURLToPath(new URL("./__fixtures__/plugin-fixture/", import.meta.url)), workers: 1, isolation: "thread", handleSignals: false, logLevel: "silent", checkInterval: 60_000 });
    const events: string[] = [];
    runner.on("job:added", (event: { job: string }) => events.push(`added ${event.job}`));
    runner.on("job:removed", (event: { job: string }) => events.push(`removed ${event.job}`));
    let doneTasks = 0;
    const firstTasks = new Promise<void>((resolve, reject) => {
      runner.on("task:done", () => ++doneTasks === 3 && resolve());
      runner.on("task:failed", (event: { error: { message: string } }) => reject(new Error(event.error.message)));
    });
    const finished = runner.run();
    await firstTasks;
    expect(readFileSync(join(dataDir, "two", "lines.txt"), "utf8").trim().split("\n").sort()).toEqual(["line-0", "line-1"]);

    definitions = [{ name: "two", type: "count", config: { count: 2, forever: true } }, { name: "three", type: "count", config: { count: 1, forever: true } }];
    version = 2;
    const added = once(runner, "job:added");
    runner.notifyJobsChanged();
    await added;
    expect(events).toEqual(["added one", "added two", "removed one", "added three"]);
    runner.stop({ graceMs: 1000 });
    await finished;
  });
});
