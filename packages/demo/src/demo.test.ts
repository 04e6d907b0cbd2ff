import { afterEach, describe, expect, it } from "vitest";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { loadConfigFile } from "@ujr/runner-local";
import { isUjrError } from "@ujr/core";
import { runDemo } from "./index.js";

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((dir) => rmSync(dir, { recursive: true, force: true })));

async function demo(options: { dir: string; continue?: boolean }) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runDemo({ ...options, out: (text) => out.push(text), err: (text) => err.push(text) });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

/** Distinct tweet ids in `data` of every raw page file, read independently of the tidier. */
function collectedIds(rawDir: string): Set<string> {
  const ids = new Set<string>();
  for (const name of readdirSync(rawDir)) {
    if (!name.endsWith(".jsonl") || name.endsWith(".urls.jsonl")) continue;
    for (const line of readFileSync(join(rawDir, name), "utf8").split("\n")) {
      if (!line.trim()) continue;
      const page = JSON.parse(line) as { data?: Array<{ id: string }> };
      for (const tweet of page.data ?? []) ids.add(tweet.id);
    }
  }
  return ids;
}

describe("runDemo (ujr demo)", () => {
  it("runs the pipeline end to end on embedded defaults, then continues cleanly", async () => {
    const root = mkdtempSync(join(tmpdir(), "ujr-demo-"));
    dirs.push(root);
    const dir = join(root, "demo");
    const first = await demo({ dir });
    expect(first.err).toBe("");
    expect(first.code).toBe(0);

    const rawDir = join(dir, "data", "collect", "raw");
    const ids = collectedIds(rawDir);
    expect(ids.size).toBeGreaterThan(100);
    const pages = readdirSync(rawDir).filter((name) => name.endsWith(".jsonl") && !name.endsWith(".urls.jsonl"));
    // Every page has its URL sidecar, and some links were resolved through the emulator's short links.
    for (const page of pages) expect(existsSync(join(rawDir, `${page}.urls.jsonl`))).toBe(true);
    const sidecars = pages.flatMap((page) => readFileSync(join(rawDir, `${page}.urls.jsonl`), "utf8").trim().split("\n").filter(Boolean).map((line) => JSON.parse(line) as { error: string | null; hops: number }));
    expect(sidecars.some((link) => link.error === null && link.hops > 0)).toBe(true);
    expect(readdirSync(join(dir, "data", "collect", "archive")).some((name) => name.endsWith(".tar.gz"))).toBe(true);

    expect(first.out).toContain(`database:    `);
    expect(first.out).toMatch(new RegExp(`\\(\\d+ tweets, \\d+ users\\)`));
    const summary = JSON.parse(readFileSync(join(dir, "reports", "summary", "latest", "summary.json"), "utf8")) as { queries: Array<{ name: string; rows: number; error?: unknown }> };
    const health = JSON.parse(readFileSync(join(dir, "reports", "summary", "latest", "tweets_over_time.json"), "utf8")) as Array<{ tweets: number }> | { rows: Array<{ tweets: number }> };
    const rows = Array.isArray(health) ? health : health.rows;
    // The report counts exactly the tweets the collector stored in data.
    expect(rows.reduce((sum, row) => sum + Number(row.tweets), 0)).toBe(ids.size);
    expect(summary.queries.every((query) => !query.error)).toBe(true);
    expect(readFileSync(join(dir, "reports", "summary", "latest", "report.html"), "utf8")).toContain("<svg");

    const again = await demo({ dir, continue: true });
    expect(again.code).toBe(0);
    expect(again.out).toContain("(continuing)");
    expect(collectedIds(rawDir)).toEqual(ids);

    // The config names plugins by package name, like a user's, and loads again from its folder
    // (what the closing line tells the user to run).
    const configFile = join(dir, "ujr.config.yaml");
    const config = readFileSync(configFile, "utf8");
    expect(config).toContain('plugin: "@ujr/plugin-twitter-collector"');
    expect(config).toContain('plugin: "@ujr/plugin-tweet-tidier"');
    expect(config).toContain('plugin: "@ujr/plugin-dataset-summary"');
    expect(config).not.toMatch(/plugin: "?[./]/);
    expect(again.out).toContain(`ujr run ${relative(process.cwd(), configFile)} --job tidy`);
    const loaded = await loadConfigFile(configFile, { env: {} });
    expect(loaded.jobs.map((job) => [job.name, job.pluginSpecifier])).toEqual([
      ["collect", "@ujr/plugin-twitter-collector"],
      ["tidy", "@ujr/plugin-tweet-tidier"],
      ["summary", "@ujr/plugin-dataset-summary"],
    ]);
  }, 120_000);

  it("refuses to clear a folder it did not make", async () => {
    const root = mkdtempSync(join(tmpdir(), "ujr-demo-"));
    dirs.push(root);
    writeFileSync(join(root, "precious.txt"), "keep me");
    const refused = await demo({ dir: root }).catch((error: unknown) => error);
    expect(isUjrError(refused, "UJR_DEMO_FOLDER_NOT_OURS")).toBe(true);
    expect((refused as Error).message).toBe(`${root} exists and was not made by \`ujr demo\`; the demo clears its folder before it starts, so it leaves this one alone: choose another folder with --dir (a new or empty one).`);
    expect(existsSync(join(root, "precious.txt"))).toBe(true);
  });
});
