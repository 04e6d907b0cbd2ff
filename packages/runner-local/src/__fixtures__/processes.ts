// What tests of processes look at: the worker processes a call starts (and the /proc they are read in), and the modules a
// fresh process loads.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** This process's child processes (Linux: read from /proc). */
function children(): Set<string> {
  return new Set(readdirSync("/proc/self/task").flatMap((tid) => readFileSync(`/proc/self/task/${tid}/children`, "utf8").split(/\s+/).filter(Boolean)));
}

/** Skips the test, saying `why` (in the output too), except under CI=true, where that fails it. */
export function skipOutsideCI(why: string, skip: (note: string) => never): never {
  if (process.env.CI === "true") throw new Error(`under CI=true this test may not skip: ${why}`);
  console.warn(`skipping: ${why} (under CI=true this fails)`);
  return skip(why);
}

/** For a test that reads `what` in Linux's /proc: elsewhere it is skipped (see skipOutsideCI). */
export function needsProc(what: string, skip: (note: string) => never): void {
  if (process.platform !== "linux") skipOutsideCI(`${what} are read in /proc, which ${process.platform} has not`, skip);
}

/**
 * For a test that makes folders under Linux's /proc (a kernel filesystem, where Node 20's
 * recursive mkdir spun for ever): elsewhere it is skipped (see skipOutsideCI).
 */
export function needsProcFolders(skip: (note: string) => never): void {
  if (process.platform !== "linux") skipOutsideCI(`the test makes folders under /proc, which ${process.platform} has not`, skip);
}

/** For a test that runs a package's compiled `file` (dist/), as the runner's workers do: before a build it is skipped (see skipOutsideCI). */
export function needsBuilt(file: URL, what: string, skip: (note: string) => never): void {
  if (!existsSync(fileURLToPath(file))) skipOutsideCI(`${what} is not built (run \`pnpm build\`)`, skip);
}

/** The pids of the child processes `start` started (by pid: others may exit meanwhile), counted in /proc (see needsProc). */
export function childrenStartedBy(start: () => void, skip: (note: string) => never): number[] {
  needsProc("the worker processes", skip);
  const before = children();
  start();
  return [...children()].filter((pid) => !before.has(pid)).map(Number);
}

// A loader hook that names on stderr every module the process loads.
const HOOK = 'export async function load(url, context, next) { console.error("LOADED " + url); return next(url, context); }';
const REGISTER = `import { register } from "node:module"; register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(HOOK)}`)});`;

/** Runs `args` (after node's own) in a fresh Node process: its exit code, stdout, stderr without the hook's lines, and the URLs of the modules it loaded. */
export function runLoading(args: string[], options: { cwd?: string } = {}): { code: number | null; stdout: string; stderr: string; loaded: string[] } {
  const result = spawnSync(process.execPath, ["--import", `data:text/javascript,${encodeURIComponent(REGISTER)}`, ...args], { cwd: options.cwd, encoding: "utf8" });
  const lines = result.stderr.split("\n");
  const loaded = lines.flatMap((line) => (line.startsWith("LOADED ") ? [line.slice(7)] : []));
  return { code: result.status, stdout: result.stdout, stderr: lines.filter((line) => !line.startsWith("LOADED ")).join("\n"), loaded };
}

/**
 * Makes a named pipe at `path` for a test of configs read from a pipe. Where `mkfifo` is
 * missing (not a Unix), the test is skipped (see skipOutsideCI).
 */
export function namedPipe(path: string, skip: (note: string) => never): string {
  if (spawnSync("mkfifo", [path]).status === 0) return path;
  return skipOutsideCI("no mkfifo here: a named pipe cannot be made", skip);
}

/**
 * What importing the task module `file` in a fresh process loads that a task process should
 * not (zod, @ujr/core's full entry, the runner: see @ujr/core/task), and whether it went
 * through @ujr/core/task: every pool process imports its task modules before its first task.
 */
export function taskModuleWeight(file: string): { code: number | null; stderr: string; heavy: string[]; light: boolean } {
  const { code, stderr, loaded } = runLoading(["--input-type=module", "-e", `await import(${JSON.stringify(file)});`]);
  return {
    code,
    stderr,
    heavy: loaded.filter((url) => /\/zod\/|\/core\/dist\/index\.js$|\/core\/dist\/runner\.js$/.test(url)),
    light: loaded.some((url) => url.endsWith("/core/dist/task-api.js")),
  };
}
