import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { normalizeStatusPanel, statusPanelLines, type StatusPanel } from "@ujr/core";
import { runJob } from "@ujr/core/testing";
import { startEmulator, type Emulator } from "@ujr/x-api-emulator";
import { drive, searchJob, tempDir } from "./__fixtures__/helpers.js";

let emulator: Emulator | undefined;
let tmp: { dir: string; cleanup: () => Promise<void> };
beforeEach(async () => {
  tmp = await tempDir();
});
afterEach(async () => {
  await emulator?.close();
  emulator = undefined;
  await tmp.cleanup();
});

const field = (panel: StatusPanel, label: string) => panel.fields.find((entry) => entry.label === label);

describe("the collector's status panel", () => {
  it("shows what was collected, the newest id and the cursor, after a run", async () => {
    emulator = await startEmulator({ port: 0 });
    const job = searchJob({ query: "#brexit", baseUrl: emulator.url, mode: "once", maxResults: 10, pagesPerTask: 3, retry: { attempts: 2, baseMs: 1, jitter: 0 } }, tmp.dir);
    const before = job.statusPanel();
    expect(field(before, "Tweets collected")).toMatchObject({ value: 0, unit: "tweets" });
    expect(field(before, "Collecting")?.value).toBe("search (recent): #brexit");
    await runJob(job, { concurrency: 1 });
    const panel = job.statusPanel();
    expect(panel.title).toBe("Collection");
    expect(field(panel, "Tweets collected")).toMatchObject({ value: 100, unit: "tweets" });
    expect(field(panel, "Pages collected")).toMatchObject({ value: 10 });
    expect(field(panel, "Newest tweet id")?.value).toMatch(/^\d+$/);
    expect(field(panel, "Cursor")?.value).toBe("done: the whole range is stored");
    expect(field(panel, "Rate limit")?.value).toBe("not reached");
    // Plain data: it survives the normalisation and JSON unchanged, and reads as text.
    expect(normalizeStatusPanel(JSON.parse(JSON.stringify(panel)))).toEqual(panel);
    expect(statusPanelLines(panel)).toContain("Tweets collected: 100 tweets");
  });

  it("shows a reached rate limit with its reset time, as a warning in words", async () => {
    emulator = await startEmulator({ port: 0, rateLimit: { limit: 1, windowMs: 60_000 } });
    const job = searchJob({ query: "#brexit", baseUrl: emulator.url, mode: "once", maxResults: 10, pagesPerTask: 5, retry: { attempts: 1 } }, tmp.dir);
    await drive(job, { maxRounds: 3 });
    const panel = job.statusPanel();
    expect(field(panel, "Rate limit")).toMatchObject({ value: expect.stringMatching(/^reached; resets \d{4}-\d\d-\d\dT/), tone: "warning" });
    expect(field(panel, "Next fetch")).toMatchObject({ format: "time" });
    expect(statusPanelLines(panel).find((line) => line.startsWith("Rate limit"))).toMatch(/\(warning\)$/);
  });
});
