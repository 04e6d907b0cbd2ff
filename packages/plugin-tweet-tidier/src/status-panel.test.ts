import { copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { silentLogger, statusPanelLines, type StatusPanel } from "@ujr/core";
import { runJob } from "@ujr/core/testing";
import { afterAll, describe, expect, it } from "vitest";
import { fixture, tempDir } from "./__fixtures__/helpers.js";
import type { TidyJob } from "./job.js";
import { emptyTotals, tidierPanel } from "./status-panel.js";
import plugin from "./index.js";

const pkgDir = fileURLToPath(new URL("..", import.meta.url));
const tmp = tempDir();
afterAll(() => tmp.cleanup());
const field = (panel: StatusPanel, label: string) => panel.fields.find((entry) => entry.label === label);

describe("the tidier's status panel", () => {
  it("counts files loaded, pending and partial, the tweets loaded and the bad lines, after a run", async () => {
    const dir = join(tmp.dir, "panel");
    mkdirSync(join(dir, "raw"), { recursive: true });
    copyFileSync(fixture("brexit.jsonl"), join(dir, "raw", "1-brexit.jsonl"));
    copyFileSync(fixture("two_tweets.jsonl"), join(dir, "raw", "2-two.jsonl"));
    // Not gzip inside: recorded as a bad line, the file as partial.
    writeFileSync(join(dir, "raw", "3-broken.jsonl.gz"), "this is not gzip");
    const config = plugin.jobs.tidy!.config.parse({ inputs: ["raw"], mode: "once", database: "tidy.sqlite", maxAttempts: 1, settleTime: "0s" });
    const job = (await plugin.jobs.tidy!.create(config, { name: "tidy", stateDir: join(dir, "state"), configDir: dir, logger: silentLogger() })) as TidyJob;
    const before = job.statusPanel!()!;
    expect(field(before, "Files loaded")).toMatchObject({ value: 0, unit: "files" });
    expect(field(before, "Last error")?.value).toBeNull();
    await runJob(job, { resolveFrom: [pkgDir], concurrency: 2, logger: silentLogger() });
    const panel = job.statusPanel!()!;
    expect(panel.title).toBe("Tidy database");
    // Shown relative to the config's folder.
    expect(field(panel, "Database")?.value).toBe("tidy.sqlite");
    expect(field(panel, "Files loaded")).toMatchObject({ value: 2 });
    expect(field(panel, "Files pending")).toMatchObject({ value: 0 });
    expect(field(panel, "Tweets loaded")).toMatchObject({ value: 101, unit: "tweets" });
    expect(field(panel, "Files partial")).toMatchObject({ value: 1, tone: "warning" });
    expect(field(panel, "Bad lines recorded")).toMatchObject({ value: 1, tone: "warning" });
    expect(field(panel, "Files failed")).toMatchObject({ value: 0 });
    expect(statusPanelLines(panel)).toContain("Tweets loaded: 101 tweets");
  });

  it("shows a file given up as failed, with its error as the last error", () => {
    const panel = tidierPanel({ database: "postgres", totals: emptyTotals(), pending: 1, running: 1, failed: new Map([["raw/a.jsonl", "EACCES: permission denied"]]), unstable: 0, nextCheckAt: Date.now() + 60_000 });
    expect(field(panel, "Files pending")).toMatchObject({ value: 2 });
    expect(field(panel, "Files failed")).toMatchObject({ value: 1, tone: "error" });
    expect(field(panel, "Last error")).toMatchObject({ value: "raw/a.jsonl: EACCES: permission denied", tone: "error" });
    expect(field(panel, "Next look for new files")).toMatchObject({ format: "time" });
    expect(statusPanelLines(panel)).toContain("Last error: raw/a.jsonl: EACCES: permission denied (error)");
  });

  it("says when the failed files are tried again, counts the folders that cannot be read, and names one as the last error when no file failed", () => {
    const now = Date.parse("2026-01-01T00:00:00Z");
    const base = { database: "tidy.sqlite", totals: emptyTotals(), pending: 0, running: 0, unstable: 0, nextCheckAt: now + 30_000 };
    const failed = new Map([["raw/a.jsonl", "UJR_TIDY_DISK_FULL: the disk is full"]]);
    const later = tidierPanel({ ...base, failed, failedRetryAt: now + 60_000 }, now);
    expect(field(later, "Failed files tried again")).toEqual({ label: "Failed files tried again", value: "2026-01-01T00:01:00.000Z", format: "time" });
    expect(field(tidierPanel({ ...base, failed, failedRetryAt: now - 1 }, now), "Failed files tried again")?.value).toBe("at the next check");
    expect(field(tidierPanel({ ...base, failed, failedRetryAt: Number.POSITIVE_INFINITY }, now), "Failed files tried again")?.value).toBe("not in this run (once)");
    expect(field(tidierPanel({ ...base, failed: new Map() }, now), "Failed files tried again")?.value).toBeNull();

    const folder = tidierPanel({ ...base, failed: new Map(), unreadable: 2, lastError: "folder /x/raw/c cannot be read: EACCES" }, now);
    expect(field(folder, "Not readable")).toMatchObject({ value: 2, unit: "folders or links", tone: "error" });
    expect(field(folder, "Last error")).toMatchObject({ value: "folder /x/raw/c cannot be read: EACCES", tone: "error" });
    expect(statusPanelLines(folder)).toContain("Not readable: 2 folders or links (error)");
    expect(field(tidierPanel({ ...base, failed: new Map() }, now), "Not readable")).toEqual({ label: "Not readable", value: 0, unit: "folders or links" });
  });
});
