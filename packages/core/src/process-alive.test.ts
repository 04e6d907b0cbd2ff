import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { processAlive } from "./process-alive.js";

describe("processAlive", () => {
  it("is true for a running process (this one, and pid 1, another user's for a non-root test) and false for a pid no process has", () => {
    expect(processAlive(process.pid)).toBe(true);
    expect(processAlive(1)).toBe(true);
    // a child that has exited and been reaped: its pid is free
    expect(processAlive(spawnSync(process.execPath, ["-e", ""]).pid!)).toBe(false);
  });
});
