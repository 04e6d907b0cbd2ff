import { afterEach, describe, expect, it } from "vitest";
import { runCommand } from "./commands/run.js";
import { captureStream } from "./__fixtures__/capture-stream.js";
import { projectOutsideWorkspace } from "../../../packages/runner-local/src/__fixtures__/workspace.js";

let project: ReturnType<typeof projectOutsideWorkspace> | undefined;
afterEach(() => {
  project?.cleanup();
  project = undefined;
});

describe("runner.status without a port", () => {
  it("is accepted: --status-port gives the port (the section keeps its other settings)", async () => {
    project = projectOutsideWorkspace();
    const file = project.write(
      "ujr.config.yaml",
      `runner:\n  workers: 1\n  isolation: thread\n  status:\n    allowedHosts: [status.internal]\njobs:\n  a:\n    plugin: "@acme/ujr-plugin-fixture"\n    type: count\n    config: { count: 1 }\n`,
    );
    const { stream, text } = captureStream({ isTTY: false });
    const errors: string[] = [];
    const code = await runCommand([file, "--no-watch", "--no-tty", "--status-port", "0"], { out: () => {}, err: (line) => errors.push(line) }, { stdout: stream, env: {} });
    expect(errors).toEqual([]);
    expect(code).toBe(0);
    expect(text()).toMatch(/"msg":"status server listening on http:\/\/127\.0\.0\.1:\d+ /);
  });
});
