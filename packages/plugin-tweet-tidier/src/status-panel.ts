import type { StatusPanel } from "@ujr/core";
import type { IngestResult } from "./store/types.js";

export interface TidierPanelInput {
  database: string;
  results: readonly IngestResult[];
  pending: number;
  running: number;
  /** Files given up (path → "CODE: message"), in the order they failed. */
  failed: ReadonlyMap<string, string>;
  /** Files seen but still being written (looked at again soon). */
  unstable: number;
  nextCheckAt: number;
}

/**
 * The tidier's panel on the dashboard, `ujr status` and `/status`: files loaded, pending
 * and partial, rows, and the last error. Built from what the job holds in memory.
 */
export function tidierPanel(input: TidierPanelInput, now = Date.now()): StatusPanel {
  let loaded = 0;
  let partial = 0;
  let skipped = 0;
  let tweets = 0;
  let pages = 0;
  let badLines = 0;
  for (const result of input.results) {
    if (result.status === "loaded") loaded++;
    else if (result.status === "partial") partial++;
    else skipped++;
    if (result.status === "loaded" || result.status === "partial") {
      tweets += result.tweets;
      pages += result.pages;
    }
    badLines += result.errors;
  }
  const lastError = [...input.failed].at(-1);
  return {
    title: "Tidy database",
    fields: [
      { label: "Database", value: input.database },
      { label: "Files loaded", value: loaded, unit: "files" },
      { label: "Files pending", value: input.pending + input.running, unit: "files" },
      { label: "Files partial", value: partial, unit: "files", ...(partial > 0 ? { tone: "warning" as const } : {}) },
      { label: "Files already loaded (skipped)", value: skipped, unit: "files" },
      { label: "Files failed", value: input.failed.size, unit: "files", ...(input.failed.size > 0 ? { tone: "error" as const } : {}) },
      { label: "Tweets loaded", value: tweets, unit: "tweets" },
      { label: "Pages loaded", value: pages, unit: "pages" },
      { label: "Bad lines recorded", value: badLines, unit: "lines", ...(badLines > 0 ? { tone: "warning" as const } : {}) },
      { label: "Still being written", value: input.unstable, unit: "files" },
      { label: "Next look for new files", value: Number.isFinite(input.nextCheckAt) && input.nextCheckAt > now ? new Date(input.nextCheckAt).toISOString() : Number.isFinite(input.nextCheckAt) ? "now" : "never (once: everything was seen)", format: Number.isFinite(input.nextCheckAt) && input.nextCheckAt > now ? "time" : "text" },
      { label: "Last error", value: lastError ? `${lastError[0]}: ${lastError[1]}` : null, ...(lastError ? { tone: "error" as const } : {}) },
    ],
  };
}
