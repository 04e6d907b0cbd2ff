import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const bin = fileURLToPath(new URL("../../dist/bin.js", import.meta.url));
const packages = fileURLToPath(new URL("../../../../packages/", import.meta.url));

/** A project folder outside the workspace with the named workspace packages installed (linked), as a user has them. */
export function crashProject(names: string[]): { dir: string; write(name: string, text: string): string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), "ujr-crash-"));
  mkdirSync(join(dir, "node_modules", "@ujr"), { recursive: true });
  for (const name of ["core", ...names]) symlinkSync(join(packages, name), join(dir, "node_modules", "@ujr", name), "dir");
  return {
    dir,
    write(name, text) {
      const path = join(dir, name);
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, text);
      return path;
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** A small seeded PRNG (mulberry32): trials are repeatable from the printed seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface Started {
  child: ChildProcess;
  /** Log lines so far (stdout and stderr). */
  lines: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; output: string }>;
  /** Resolves when `predicate` has held for `count` lines (counting from the start); never if the process exits first. */
  afterLines(count: number, predicate?: (line: string) => boolean): Promise<boolean>;
}

/** Starts `ujr <argv>` in `cwd`, keeping its log lines. */
export function startUjr(argv: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Started {
  const child = spawn(process.execPath, [bin, ...argv], { cwd, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  const lines: string[] = [];
  const waiters: Array<{ count: number; predicate: (line: string) => boolean; seen: number; resolve: (ok: boolean) => void }> = [];
  let output = "";
  const onText = (stream: NodeJS.ReadableStream) => {
    let pending = "";
    stream.setEncoding("utf8");
    stream.on("data", (chunk: string) => {
      output += chunk;
      const parts = (pending + chunk).split("\n");
      pending = parts.pop() ?? "";
      for (const line of parts) {
        lines.push(line);
        for (const waiter of [...waiters]) {
          if (waiter.predicate(line) && ++waiter.seen >= waiter.count) {
            waiters.splice(waiters.indexOf(waiter), 1);
            waiter.resolve(true);
          }
        }
      }
    });
  };
  onText(child.stdout!);
  onText(child.stderr!);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; output: string }>((resolve) =>
    child.on("close", (code, signal) => {
      for (const waiter of waiters.splice(0)) waiter.resolve(false);
      resolve({ code, signal, output });
    }),
  );
  return {
    child,
    lines,
    exited,
    afterLines(count, predicate = () => true) {
      const seen = lines.filter(predicate).length;
      if (seen >= count) return Promise.resolve(true);
      if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(false);
      return new Promise((resolve) => waiters.push({ count, predicate, seen, resolve }));
    },
  };
}

/** A few turns of the event loop (0..n): moves a kill off the exact log line it was keyed to. */
export async function turns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}
