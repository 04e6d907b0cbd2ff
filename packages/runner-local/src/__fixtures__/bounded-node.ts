import { execFile } from "node:child_process";
import { mkdirSync, rmdirSync } from "node:fs";
import { afterEach } from "vitest";

/**
 * Runs an ES module `script` in a fresh Node process and resolves with what it printed
 * on stdout. For code that once hung for ever (Node's recursive mkdir spinning on /proc,
 * in native code: vitest's test timeout cannot interrupt the test's own thread): the
 * hang stays in the child, the test's own timeout fails it, and the child is killed with
 * SIGKILL after the test (it ignores SIGTERM), so the suite never blocks.
 */
export function boundedNode(): (script: string, options?: { cwd?: string }) => Promise<string> {
  let controller = new AbortController();
  afterEach(() => {
    controller.abort();
    controller = new AbortController();
  });
  return (script, options = {}) =>
    new Promise((resolve, reject) => {
      execFile(process.execPath, ["--input-type=module", "-e", script], { signal: controller.signal, killSignal: "SIGKILL", encoding: "utf8", cwd: options.cwd }, (error, stdout, stderr) => {
        if (error) reject(new Error(`the child process failed: ${error.message}\n${stderr}`));
        else resolve(stdout);
      });
    });
}

/**
 * The OS's own error for a plain mkdir of `path` (e.g. "ENOENT: no such file or directory,
 * mkdir '/proc/ujr-data'"), or undefined when this system lets it be made (it is removed).
 * A single mkdir, never a recursive one: it cannot hang.
 */
export function mkdirRefusal(path: string): string | undefined {
  try {
    mkdirSync(path);
  } catch (error) {
    return (error as Error).message;
  }
  rmdirSync(path);
  return undefined;
}
