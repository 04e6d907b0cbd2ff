import { describe, expect, it } from "vitest";
import { fileURLToPath } from "node:url";
import { runLoading } from "../../../packages/runner-local/src/__fixtures__/processes.js";

const bin = fileURLToPath(new URL("../dist/bin.js", import.meta.url));
/** Runs `ujr <argv>` in a fresh process: its exit code, stdout and the modules it loaded. */
const ujrLoading = (argv: string[]) => runLoading([bin, ...argv]);

describe("start-up: a command loads what it uses", () => {
  it("`ujr --version` answers without loading a command, the runner or any dependency", () => {
    const { code, stdout, loaded } = ujrLoading(["--version"]);
    expect(code).toBe(0);
    expect(stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
    const files = loaded.filter((url) => url.startsWith("file:")).map((url) => url.slice(url.lastIndexOf("/dist/") + 1));
    expect(files.sort()).toEqual(["dist/args.js", "dist/bin.js", "dist/cli.js", "dist/output.js"]);
  });

  it("`ujr run` can start its first worker before zod, the config schemas and the runner load: its command module imports none of them", () => {
    const runModule = fileURLToPath(new URL("../dist/commands/run.js", import.meta.url));
    const { code, stderr, loaded } = runLoading(["--input-type=module", "-e", `await import(${JSON.stringify(runModule)});`]);
    expect(code, stderr).toBe(0);
    expect(loaded.some((url) => url.endsWith("/runner-local/dist/pool.js"))).toBe(true);
    expect(loaded.filter((url) => /\/zod\/|\/core\/dist\/index\.js$|\/runner-local\/dist\/index\.js$|\/commands\/run-config\.js$/.test(url))).toEqual([]);
  });

  it("`ujr help` still lists every command (each imported for its usage text)", () => {
    const { code, stdout } = ujrLoading(["help"]);
    expect(code).toBe(0);
    for (const command of ["run", "validate", "plugins", "status", "history", "demo", "worker", "schema", "create-plugin"]) expect(stdout).toContain(`ujr ${command}`);
  });
});
