import { describe, expect, it } from "vitest";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const child = fileURLToPath(new URL("./__fixtures__/log-then-end.mjs", import.meta.url));
const COUNT = 20_000;

/** Runs the child, reading its stdout slowly (a busy consumer: the pipe fills up), and counts its log lines. */
function run(how: string, pretty = false): Promise<{ lines: number; code: number | null; signal: NodeJS.Signals | null; stderr: string; last: string }> {
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, [child, how, String(COUNT), ...(pretty ? ["pretty"] : [])], { stdio: ["ignore", "pipe", "pipe"] });
    let pending = "";
    let lines = 0;
    let last = "";
    let stderr = "";
    proc.stdout.on("data", (chunk: Buffer) => {
      const text = pending + chunk.toString();
      const parts = text.split("\n");
      pending = parts.pop() ?? "";
      const complete = parts.filter(Boolean);
      lines += complete.length;
      if (complete.length > 0) last = complete.at(-1)!;
      // Be a slow reader for a moment so that the child's writes back up.
      proc.stdout.pause();
      setImmediate(() => proc.stdout.resume());
    });
    proc.stderr.on("data", (chunk) => (stderr += chunk));
    proc.on("close", (code, signal) => resolve({ lines: lines + (pending ? 1 : 0), code, signal, stderr, last: pending || last }));
  });
}

describe("log lines written before the process ends are never lost", () => {
  it.each([
    ["return", 0, null],
    ["exit", 0, null],
    ["sigterm", null, "SIGTERM"],
    ["sigint", null, "SIGINT"],
    ["uncaught", 1, null],
    ["rejection", 1, null],
  ] as const)("JSON lines, the process ends by %s", async (how, code, signal) => {
    const result = await run(how);
    expect({ lines: result.lines, code: result.code, signal: result.signal }).toEqual({ lines: COUNT, code, signal });
    expect(JSON.parse(result.last)).toMatchObject({ i: COUNT - 1, msg: "line" });
  });

  it.each(["exit", "sigterm", "uncaught"] as const)("pretty lines, the process ends by %s", async (how) => {
    const result = await run(how, true);
    expect(result.lines).toBe(COUNT);
    expect(result.last).toMatch(new RegExp(`INFO  line .*i=${COUNT - 1}`));
  });
});
