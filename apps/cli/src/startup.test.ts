import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const bin = fileURLToPath(new URL("../dist/bin.js", import.meta.url));
// A loader hook that names on stderr every module the process loads.
const HOOK = 'export async function load(url, context, next) { console.error("LOADED " + url); return next(url, context); }';
const REGISTER = `import { register } from "node:module"; register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(HOOK)}`)});`;

/** Runs `ujr <argv>` in a fresh process: its exit code, stdout and the modules it loaded. */
function ujrLoading(argv: string[]): { code: number | null; stdout: string; loaded: string[] } {
  const result = spawnSync(process.execPath, ["--import", `data:text/javascript,${encodeURIComponent(REGISTER)}`, bin, ...argv], { encoding: "utf8" });
  const loaded = result.stderr.split("\n").flatMap((line) => (line.startsWith("LOADED ") ? [line.slice(7)] : []));
  return { code: result.status, stdout: result.stdout, loaded };
}

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
    const result = spawnSync(process.execPath, ["--import", `data:text/javascript,${encodeURIComponent(REGISTER)}`, "--input-type=module", "-e", `await import(${JSON.stringify(runModule)});`], {
      encoding: "utf8",
    });
    expect(result.status, result.stderr).toBe(0);
    const loaded = result.stderr.split("\n").flatMap((line) => (line.startsWith("LOADED ") ? [line.slice(7)] : []));
    expect(loaded.some((url) => url.endsWith("/runner-local/dist/pool.js"))).toBe(true);
    expect(loaded.filter((url) => /\/zod\/|\/core\/dist\/index\.js$|\/runner-local\/dist\/index\.js$|\/commands\/run-config\.js$/.test(url))).toEqual([]);
  });

  it("`ujr help` still lists every command (each imported for its usage text)", () => {
    const { code, stdout } = ujrLoading(["help"]);
    expect(code).toBe(0);
    for (const command of ["run", "validate", "plugins", "status", "history", "demo", "worker", "schema", "create-plugin"]) expect(stdout).toContain(`ujr ${command}`);
  });
});
