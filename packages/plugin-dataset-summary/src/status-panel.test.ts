/** The summary's status panel, after a real run through the runner loop (run `tsc -b` first: tasks load from dist/). */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { statusPanelLines, type StatusPanel } from "@ujr/core";
import { createTestContext, runJob } from "@ujr/core/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildTidyDb } from "./__fixtures__/tidy-db.js";
import { summaryConfigSchema } from "./config.js";
import { SummaryJob } from "./job.js";
import { summaryPanel } from "./status-panel.js";

const PACKAGE_DIR = path.resolve(fileURLToPath(import.meta.url), "../..");
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), "ujr-summary-panel-"));
  buildTidyDb(path.join(dir, "tidy.db"), ["brexit.jsonl"]);
}, 30_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const field = (panel: StatusPanel, label: string) => panel.fields.find((entry) => entry.label === label);

describe("the summary's status panel", () => {
  it("links the last report (under reportBaseUrl) and says there is no next run for a one-off", async () => {
    const config = summaryConfigSchema.parse({ database: "tidy.db", outDir: "./out", schedule: { once: true }, reportBaseUrl: "https://reports.example.org/ujr/", queries: [{ name: "languages", builtin: "languages" }] });
    const ctx = createTestContext({ name: "weekly", stateDir: path.join(dir, "state"), configDir: dir });
    const job = new SummaryJob(config, ctx);
    expect(field(job.statusPanel(), "Last report")?.value).toBeNull();
    await runJob(job, { resolveFrom: [PACKAGE_DIR] });
    const panel = job.statusPanel();
    const runId = job.state!.lastRunId!;
    expect(field(panel, "Last report")).toEqual({ label: "Last report", value: `https://reports.example.org/ujr/weekly/${encodeURIComponent(runId)}/report.html`, href: `https://reports.example.org/ujr/weekly/${encodeURIComponent(runId)}/report.html` });
    expect(field(panel, "Runs")?.value).toBe(1);
    expect(field(panel, "Next run")?.value).toBe("none (done)");
    expect(field(panel, "Last error")?.value).toBeNull();
    await ctx.cleanup();
  }, 60_000);

  it("shows the next run of a schedule as a time, the local report path without a base URL, and the last error", () => {
    const now = Date.parse("2030-01-01T00:00:00Z");
    const panel = summaryPanel(
      { job: "daily", schedule: { kind: "interval", everyMs: 3_600_000 }, state: { version: 1, pending: [], runs: 3, lastRunAt: now - 60_000, lastRunDir: "/data/out/daily/2030-01-01T00-00-00Z", lastError: { code: "UJR_SUMMARY_QUERY", message: "no such table" } }, nextRunAt: now + 3_540_000, running: false },
      now,
    );
    expect(field(panel, "Schedule")?.value).toBe("every 3600 s");
    expect(field(panel, "Last report")).toEqual({ label: "Last report", value: path.join("/data/out/daily/2030-01-01T00-00-00Z", "report.html") });
    expect(field(panel, "Next run")).toMatchObject({ value: "2030-01-01T00:59:00.000Z", format: "time" });
    expect(statusPanelLines(panel)).toContain("Last error: UJR_SUMMARY_QUERY: no such table (error)");
  });
});
