import { afterEach, describe, expect, it } from "vitest";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { startEmulator, type Emulator } from "@ujr/x-api-emulator";
import { crashProject, startUjr } from "./__fixtures__/crash-project.js";

let emulator: Emulator | undefined;
let project: ReturnType<typeof crashProject> | undefined;
afterEach(async () => {
  await emulator?.close();
  emulator = undefined;
  project?.cleanup();
  project = undefined;
});

function config(baseUrl: string, extra = ""): string {
  return `runner:\n  workers: 1\n  isolation: thread\njobs:\n  collect:\n    plugin: "@ujr/plugin-twitter-collector"\n    type: search\n    config:\n      query: "#brexit"\n      baseUrl: ${baseUrl}\n      bearerToken: test-token\n      mode: once\n      maxResults: 10\n      pagesPerTask: 5\n      urlResolution: { enabled: false }\n      retry: { attempts: 2, baseMs: 1, maxMs: 1, jitter: 0 }\n      failureBackoff: 10ms\n${extra}`;
}

describe("ujr run of a collector: the exit code says what happened", () => {
  it("exits 0 after a collection that recovered from transient faults and stored every tweet", async () => {
    // Every second request fails: each try stores a page, then meets a fault.
    emulator = await startEmulator({ port: 0, faults: [{ kind: "503", at: Array.from({ length: 30 }, (_, i) => 2 * (i + 1)), endpoint: "search/recent" }] });
    project = crashProject(["plugin-twitter-collector"]);
    project.write("ujr.config.yaml", config(emulator.url));
    const run = startUjr(["run", "--no-watch", "--no-tty"], project.dir);
    const end = await run.exited;
    expect(end.code, end.output.slice(-3000)).toBe(0);
    const rawDir = join(project.dir, "data", "collect", "raw");
    const ids = readdirSync(rawDir)
      .filter((name) => name.endsWith(".jsonl"))
      .flatMap((name) => (JSON.parse(readFileSync(join(rawDir, name), "utf8")) as { data: Array<{ id: string }> }).data.map((t) => t.id));
    expect(ids).toHaveLength(100);
    expect(new Set(ids).size).toBe(100);
    expect(end.output).toContain("the task ends with them and the job fetches again");
  }, 60_000);

  it("exits 1 when it could not do its work: the API kept failing until failureLimit", async () => {
    emulator = await startEmulator({ port: 0, faults: [{ kind: "503", rate: 1, endpoint: "search/recent" }] });
    project = crashProject(["plugin-twitter-collector"]);
    project.write("ujr.config.yaml", config(emulator.url, "      failureLimit: 2\n"));
    const end = await startUjr(["run", "--no-watch", "--no-tty"], project.dir).exited;
    expect(end.code, end.output.slice(-3000)).toBe(1);
    expect(end.output).toContain('gave up: 2 fetch tasks in a row failed after their retries (last: UJR_COLLECTOR_HTTP: The X API answered HTTP 503');
  }, 60_000);
});
