import { afterEach, describe, expect, it } from "vitest";
import { capturingLogger } from "@ujr/core/testing";
import { ConfigFileRunner, loadConfigFile } from "@ujr/runner-local";
import { openRunHistory } from "./run-history.js";
import { projectOutsideWorkspace } from "../../../packages/runner-local/src/__fixtures__/workspace.js";

let project: ReturnType<typeof projectOutsideWorkspace> | undefined;
afterEach(() => project?.cleanup());

const job = `jobs:\n  a:\n    plugin: "@acme/ujr-plugin-fixture"\n    type: count\n    config: { count: 1 }\n`;

describe("ujr run's run history", () => {
  it("without runner.history and without @ujr/history installed: no history, said once with the install command", async () => {
    project = projectOutsideWorkspace();
    const config = await loadConfigFile(project.write("ujr.config.yaml", job));
    const { logger, logs: records } = capturingLogger("info");
    const runner = new ConfigFileRunner(config, { watch: false, logger, handleSignals: false });
    expect(await openRunHistory(runner, config, logger, () => undefined)).toBeUndefined();
    const said = records.find((record) => String(record.msg).startsWith("no run history"));
    expect(said).toMatchObject({ package: "@ujr/history", install: expect.stringMatching(/^cd .* && npm install @ujr\/history/) });
  });

  it("with runner.history: false: none, and nothing said", async () => {
    project = projectOutsideWorkspace();
    const config = await loadConfigFile(project.write("ujr.config.yaml", `runner:\n  history: false\n${job}`));
    const { logger, logs: records } = capturingLogger("info");
    const runner = new ConfigFileRunner(config, { watch: false, logger, handleSignals: false });
    expect(await openRunHistory(runner, config, logger, () => undefined)).toBeUndefined();
    expect(records.some((record) => String(record.msg).includes("run history"))).toBe(false);
  });

  it("with settings and the package found: records", async () => {
    project = projectOutsideWorkspace();
    const config = await loadConfigFile(project.write("ujr.config.yaml", `runner:\n  history: { retention: { days: 1 } }\n${job}`));
    const { logger } = capturingLogger("info");
    const runner = new ConfigFileRunner(config, { watch: false, logger, handleSignals: false });
    const history = await openRunHistory(runner, config, logger);
    expect(history?.store.retention.days).toBe(1);
    await history?.close();
  });
});
