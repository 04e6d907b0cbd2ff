import { afterEach, describe, expect, it } from "vitest";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { once } from "node:events";
import { ConfigFileRunner } from "./config-runner.js";
import { projectOutsideWorkspace } from "./__fixtures__/workspace.js";

let project: ReturnType<typeof projectOutsideWorkspace>;
afterEach(() => project?.cleanup());

const job = (name: string, count: number, extra = "") =>
  `  ${name}:\n    plugin: "@acme/ujr-plugin-fixture"\n    type: count\n    config: { count: ${count}, label: ${name}${extra} }\n`;

describe("ConfigFileRunner", () => {
  it("runs a plugin installed outside the workspace, resolving its tasks from the config's folder", async () => {
    project = projectOutsideWorkspace();
    const file = project.write("ujr.config.yaml", `runner:\n  workers: 2\n  isolation: process\njobs:\n${job("alpha", 5)}${job("beta", 3)}`);
    const runner = await ConfigFileRunner.fromFile(file, { handleSignals: false, watch: false, logLevel: "silent" });
    const result = await runner.run();
    expect(result).toMatchObject({ reason: "done", tasks: { done: 8, failed: 0 } });
    const alpha = readFileSync(join(project.dir, "data", "alpha", "lines.txt"), "utf8").trim().split("\n").sort();
    expect(alpha).toEqual(["alpha-0", "alpha-1", "alpha-2", "alpha-3", "alpha-4"]);
    expect(readFileSync(join(project.dir, "data", "beta", "lines.txt"), "utf8").trim().split("\n")).toHaveLength(3);
  });

  it("hot reload: only changed jobs restart; an invalid edit is reported and the old config keeps running", async () => {
    project = projectOutsideWorkspace();
    const forever = ", forever: true";
    const file = project.write("ujr.config.yaml", `runner:\n  workers: 2\n  isolation: thread\njobs:\n${job("steady", 2, forever)}${job("changing", 1, forever)}${job("leaving", 1, forever)}`);
    const runner = await ConfigFileRunner.fromFile(file, { handleSignals: false, logLevel: "silent" });
    const events: string[] = [];
    runner.on("job:added", (event) => events.push(`added ${event.job}`));
    runner.on("job:removed", (event) => events.push(`removed ${event.job}`));
    const finished = runner.run();
    await once(runner, "job:added");

    // An invalid edit: reported, nothing stops.
    writeFileSync(file, `runner:\n  workers: 2\njobs:\n  broken: [\n`);
    const [invalid] = (await once(runner, "changes:error")) as [{ error: { code: string } }];
    expect(invalid.error.code).toBe("UJR_CONFIG_YAML");
    expect(runner.snapshot().jobs.map((state) => state.name).sort()).toEqual(["changing", "leaving", "steady"]);

    // A valid edit: "changing" gets a new config, "leaving" goes, "arriving" comes, "steady" stays.
    events.length = 0;
    writeFileSync(file, `runner:\n  workers: 2\n  isolation: thread\njobs:\n${job("steady", 2, forever)}${job("changing", 4, forever)}${job("arriving", 1, forever)}`);
    while (!events.includes("added arriving")) await once(runner, "job:added");
    expect(events.sort()).toEqual(["added arriving", "added changing", "removed changing", "removed leaving"]);
    expect(runner.snapshot().jobs.map((state) => state.name).sort()).toEqual(["arriving", "changing", "steady"]);
    runner.stop({ graceMs: 1000 });
    await expect(finished).resolves.toMatchObject({ reason: expect.stringMatching(/stopped|aborted/) });
  });
});
