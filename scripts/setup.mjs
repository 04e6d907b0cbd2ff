#!/usr/bin/env node
// One entry point for a fresh machine: makes sure the pinned pnpm is present and the
// workspace is installed, so `npm test` and `npm run demo` work right after a clone.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const pinned = JSON.parse(readFileSync(join(root, "package.json"), "utf8")).packageManager.split("@")[1];

function pnpmVersion() {
  const probe = spawnSync("pnpm", ["--version"], { encoding: "utf8" });
  return probe.status === 0 ? probe.stdout.trim() : undefined;
}

if (pnpmVersion() !== pinned) {
  console.log(`[setup] installing pnpm@${pinned} (npm i -g)`);
  execFileSync("npm", ["install", "--global", `pnpm@${pinned}`], { stdio: "inherit" });
}

// better-sqlite3 compiles from source where its prebuilt binary cannot be downloaded;
// node-gyp then needs Node's headers, which system Node installs under <prefix>/include/node.
const nodePrefix = dirname(dirname(process.execPath));
if (!process.env.npm_config_nodedir && existsSync(join(nodePrefix, "include", "node", "node.h"))) {
  process.env.npm_config_nodedir = nodePrefix;
}

const installed = existsSync(join(root, "node_modules", ".modules.yaml"));
if (!installed || process.env.CI === "true") {
  console.log("[setup] pnpm install");
  const args = ["install"];
  if (process.env.CI === "true") args.push("--frozen-lockfile");
  execFileSync("pnpm", args, { stdio: "inherit", cwd: root });
}
