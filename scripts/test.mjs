#!/usr/bin/env node
// `npm test`: installs what is missing, builds every package, runs every package's tests
// one package at a time (the machine has two cores and the tests start real processes
// and servers), then prints one closing line with the totals.
import { spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const args = ["exec", "turbo", "run", "test", "--concurrency=1", "--env-mode=loose", "--output-logs=full", "--continue", ...process.argv.slice(2)];
const child = spawn("pnpm", args, { cwd: root, stdio: ["ignore", "pipe", "inherit"] });

let passed = 0;
let failed = 0;
let skipped = 0;
let pending = "";
child.stdout.on("data", (chunk) => {
  process.stdout.write(chunk);
  pending += chunk.toString();
  const lines = pending.split("\n");
  pending = lines.pop() ?? "";
  for (const line of lines) count(line);
});

function count(line) {
  // vitest's summary: "Tests  3 failed | 40 passed | 2 skipped (45)", colours stripped.
  const plain = line.replace(/\u001b\[[0-9;]*m/g, "");
  const summary = /^\S*:?test:\s+Tests\s+(.*)\(\d+\)\s*$/.exec(plain.trim()) ?? /^\s*Tests\s+(.*)\(\d+\)\s*$/.exec(plain);
  if (!summary) return;
  for (const part of summary[1].split("|")) {
    const match = /(\d+)\s+(passed|failed|skipped|todo)/.exec(part);
    if (!match) continue;
    const value = Number(match[1]);
    if (match[2] === "passed") passed += value;
    else if (match[2] === "failed") failed += value;
    else skipped += value;
  }
}

child.on("exit", (code) => {
  if (pending) count(pending);
  const exitCode = code ?? 1;
  // A package whose tests crashed before vitest's summary still fails the run.
  if (exitCode !== 0 && failed === 0) failed = 1;
  console.log(`\n${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}`);
  process.exitCode = exitCode;
});
