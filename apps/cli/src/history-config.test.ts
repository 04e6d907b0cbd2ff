import { afterEach, describe, expect, it } from "vitest";
import { cli } from "./__fixtures__/in-process-cli.js";
import { projectOutsideWorkspace } from "../../../packages/runner-local/src/__fixtures__/workspace.js";

let project: ReturnType<typeof projectOutsideWorkspace>;
afterEach(() => project?.cleanup());


describe("ujr history reads only the runner keys it uses", () => {
  it("an unset variable of the executor (needed by `ujr run` only) does not stop it", async () => {
    delete process.env.UJR_TEST_UNSET_REDIS_URL;
    project = projectOutsideWorkspace();
    const file = project.write("ujr.config.yaml", "runner:\n  executor:\n    kind: bullmq\n    redis: ${UJR_TEST_UNSET_REDIS_URL}\njobs: {}\n");
    const result = await cli(["history", file]);
    // Nothing has run with this config: the history's own answer, not a config problem.
    expect(result.err).toMatch(/^ujr: UJR_HISTORY_NOT_FOUND\n/);
    expect(result.err).not.toContain("UJR_TEST_UNSET_REDIS_URL");
  });

  it("an unset variable of a key it uses is reported at its line, with its code", async () => {
    delete process.env.UJR_TEST_UNSET_HISTORY_FILE;
    project = projectOutsideWorkspace();
    const file = project.write("ujr.config.yaml", "runner:\n  history:\n    file: ${UJR_TEST_UNSET_HISTORY_FILE}\n");
    const result = await cli(["history", file]);
    expect(result.code).toBe(2);
    expect(result.err).toContain(`ujr: UJR_CONFIG_INVALID\n${file} has 1 problem(s):\n  - ${file}:3:11 runner.history.file [UJR_CONFIG_ENV_MISSING]: environment variable UJR_TEST_UNSET_HISTORY_FILE is not set.`);
  });
});
