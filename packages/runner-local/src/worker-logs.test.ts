import { describe, expect, it } from "vitest";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const script = fileURLToPath(new URL("./__fixtures__/chatty-run.mjs", import.meta.url));
const PER_TASK = 2_500;

function run(isolation: string): Promise<{ code: number | null; lines: Set<string>; count: number }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [script, isolation, String(PER_TASK)], { stdio: ["ignore", "pipe", "inherit"] });
    let text = "";
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (chunk: string) => (text += chunk));
    child.on("close", (code) => {
      const lines = text.split("\n").filter((line) => line.includes('"chatty line"'));
      resolve({ code, lines: new Set(lines.map((line) => (JSON.parse(line) as { line: string }).line)), count: lines.length });
    });
  });
}

describe("lines tasks log in workers", () => {
  it.each(["process", "thread"])("all reach the runner's stdout, once, when the run ends (%s workers)", async (isolation) => {
    const result = await run(isolation);
    expect(result.code).toBe(0);
    expect(result.count).toBe(4 * PER_TASK);
    expect(result.lines.size).toBe(4 * PER_TASK);
  }, 60_000);
});
