import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const packageDir = fileURLToPath(new URL("..", import.meta.url));
// A loader hook that names on stderr every module the process loads.
const HOOK = 'export async function load(url, context, next) { console.error("LOADED " + url); return next(url, context); }';
const REGISTER = `import { register } from "node:module"; register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(HOOK)}`)});`;

/** Runs `script` (an ES module) in a fresh Node process from this package's folder: its stdout and the modules it loaded. */
function runFresh(script: string): { stdout: string; loaded: string[] } {
  const result = spawnSync(process.execPath, ["--import", `data:text/javascript,${encodeURIComponent(REGISTER)}`, "--input-type=module", "-e", script], { cwd: packageDir, encoding: "utf8" });
  if (result.status !== 0) throw new Error(`the script failed: ${result.stderr}`);
  const loaded = result.stderr.split("\n").flatMap((line) => (line.startsWith("LOADED ") ? [line.slice(7)] : []));
  return { stdout: result.stdout.trim(), loaded };
}

describe("@ujr/core/task, the entry of task modules and workers", () => {
  it("loads neither zod nor the runner nor the config schemas (each worker imports it on start)", () => {
    const { loaded } = runFresh('await import("@ujr/core/task");');
    expect(loaded.some((url) => url.endsWith("/dist/task-api.js"))).toBe(true);
    expect(loaded.filter((url) => /\/(zod|import-meta-resolve|fastest-levenshtein)\/|\/dist\/(runner|config|plugin)\.js$/.test(url))).toEqual([]);
  });

  it("exports the same functions and classes as @ujr/core: a task module may use either", () => {
    const { stdout } = runFresh(`
      const task = await import("@ujr/core/task");
      const core = await import("@ujr/core");
      const differ = Object.keys(task).filter((name) => task[name] !== core[name]);
      console.log(JSON.stringify({ differ, has: ["defineTask", "executeTaskRun", "createLogger", "ujrError", "encodeWire"].filter((name) => name in task) }));
    `);
    expect(JSON.parse(stdout)).toEqual({ differ: [], has: ["defineTask", "executeTaskRun", "createLogger", "ujrError", "encodeWire"] });
  });
});
