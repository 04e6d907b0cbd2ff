import { afterAll, describe, expect, it } from "vitest";
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);
const repo = fileURLToPath(new URL("../../../", import.meta.url));
// What a user installs: every published package (not the examples or the benchmarks).
const published = ["packages/core", "packages/runner-local", "apps/cli", "packages/x-api-emulator", "packages/executor-bullmq", "packages/plugin-twitter-collector", "packages/plugin-tweet-tidier", "packages/plugin-dataset-summary", "packages/history"];
const temp = mkdtempSync(join(tmpdir(), "ujr-pack-"));
afterAll(() => rmSync(temp, { recursive: true, force: true }));

function installEnv(): NodeJS.ProcessEnv {
  // better-sqlite3 may compile from source: point node-gyp at the headers of this Node.
  const prefix = dirname(dirname(process.execPath));
  const headers = existsSync(join(prefix, "include", "node", "node.h")) ? { npm_config_nodedir: prefix } : {};
  return { ...process.env, ...headers, npm_config_audit: "false", npm_config_fund: "false", npm_config_update_notifier: "false" };
}

describe("published packages, installed outside the workspace", () => {
  it("pnpm pack → npm install into a fresh folder → `ujr demo` and `ujr run` with plugins by package name", async () => {
    const packs = join(temp, "packs");
    for (const pkg of published) await run("pnpm", ["pack", "--pack-destination", packs], { cwd: join(repo, pkg) });
    const tarballs = readdirSync(packs).map((name) => join(packs, name));
    expect(tarballs).toHaveLength(published.length);

    const project = join(temp, "project");
    await run("mkdir", ["-p", project]);
    writeFileSync(join(project, "package.json"), JSON.stringify({ name: "pack-smoke", private: true, type: "module" }));
    await run("npm", ["install", ...tarballs], { cwd: project, env: installEnv(), maxBuffer: 64 * 1024 * 1024 });
    const ujr = join(project, "node_modules", ".bin", "ujr");

    const demo = await run(ujr, ["demo", "--dir", "demo"], { cwd: project });
    expect(demo.stdout).toMatch(/database: +demo\/tidy\.sqlite \(\d+ tweets, \d+ users\)/);
    expect(existsSync(join(project, "demo", "reports", "summary", "latest", "report.html"))).toBe(true);

    const plugins = await run(ujr, ["plugins", "--json"], { cwd: project });
    const names = (JSON.parse(plugins.stdout) as { plugins: Array<{ name: string }> }).plugins.map((plugin) => plugin.name).sort();
    expect(names).toEqual(["@ujr/plugin-dataset-summary", "@ujr/plugin-tweet-tidier", "@ujr/plugin-twitter-collector"]);

    writeFileSync(
      join(project, "ujr.config.yaml"),
      `runner:\n  workers: 2\njobs:\n  retidy:\n    plugin: "@ujr/plugin-tweet-tidier"\n    type: tidy\n    config:\n      inputs: [./demo/data/collect/raw]\n      database: ./again.sqlite\n      mode: once\n`,
    );
    const tidy = await run(ujr, ["run", "--no-watch", "--log-level", "warn"], { cwd: project });
    expect(tidy.stderr).toBe("");
    expect(existsSync(join(project, "again.sqlite"))).toBe(true);
  }, 600_000);
});
