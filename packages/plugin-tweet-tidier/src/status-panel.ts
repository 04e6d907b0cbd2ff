import type { StatusPanel } from "@ujr/core";
import type { IngestResult } from "./store/types.js";

/** What a job's loads came to, kept as counts: a continuous job loads files for months. */
export interface LoadTotals {
  loaded: number;
  partial: number;
  /** Files already loaded, or loaded before under another path. */
  skipped: number;
  tweets: number;
  pages: number;
  badLines: number;
}

export const emptyTotals = (): LoadTotals => ({ loaded: 0, partial: 0, skipped: 0, tweets: 0, pages: 0, badLines: 0 });

/** Counts one file's result in `totals`. */
export function countResult(totals: LoadTotals, result: IngestResult): void {
  if (result.status === "loaded") totals.loaded++;
  else if (result.status === "partial") totals.partial++;
  else totals.skipped++;
  if (result.status === "loaded" || result.status === "partial") {
    totals.tweets += result.tweets;
    totals.pages += result.pages;
  }
  totals.badLines += result.errors;
}

export interface TidierPanelInput {
  database: string;
  totals: Readonly<LoadTotals>;
  pending: number;
  running: number;
  /** Files given up for now (path → "CODE: message"), in the order they failed. */
  failed: ReadonlyMap<string, string>;
  /** When the failed files are next tried (epoch ms; Infinity: not in this run, as in `once` mode). */
  failedRetryAt?: number | undefined;
  /** Inputs, and folders inside them, that could not be read. */
  unreadable?: number | undefined;
  /** The last error when no file failed (a folder that could not be read): "what: why". */
  lastError?: string | undefined;
  /** Files seen but still being written (looked at again soon). */
  unstable: number;
  nextCheckAt: number;
}

/**
 * The tidier's panel on the dashboard, `ujr status` and `/status`: files loaded, pending
 * and partial, failed (and when they are tried again), folders that cannot be read, rows,
 * and the last error. Built from what the job holds in memory.
 */
export function tidierPanel(input: TidierPanelInput, now = Date.now()): StatusPanel {
  const { loaded, partial, skipped, tweets, pages, badLines } = input.totals;
  const lastFailed = [...input.failed].at(-1);
  const lastError = lastFailed ? `${lastFailed[0]}: ${lastFailed[1]}` : input.lastError;
  const unreadable = input.unreadable ?? 0;
  const retryAt = input.failedRetryAt;
  return {
    title: "Tidy database",
    fields: [
      { label: "Database", value: input.database },
      { label: "Files loaded", value: loaded, unit: "files" },
      { label: "Files pending", value: input.pending + input.running, unit: "files" },
      { label: "Files partial", value: partial, unit: "files", ...(partial > 0 ? { tone: "warning" as const } : {}) },
      { label: "Files already loaded (skipped)", value: skipped, unit: "files" },
      { label: "Files failed", value: input.failed.size, unit: "files", ...(input.failed.size > 0 ? { tone: "error" as const } : {}) },
      // a failed file is tried again later (continuous): when, so that "failed" does not read as "lost"
      input.failed.size === 0 || retryAt === undefined
        ? { label: "Failed files tried again", value: null }
        : Number.isFinite(retryAt)
          ? retryAt > now
            ? { label: "Failed files tried again", value: new Date(retryAt).toISOString(), format: "time" as const }
            : { label: "Failed files tried again", value: "at the next check" }
          : { label: "Failed files tried again", value: "not in this run (once)" },
      { label: "Not readable", value: unreadable, unit: "folders or links", ...(unreadable > 0 ? { tone: "error" as const } : {}) },
      { label: "Tweets loaded", value: tweets, unit: "tweets" },
      { label: "Pages loaded", value: pages, unit: "pages" },
      { label: "Bad lines recorded", value: badLines, unit: "lines", ...(badLines > 0 ? { tone: "warning" as const } : {}) },
      { label: "Still being written", value: input.unstable, unit: "files" },
      { label: "Next look for new files", value: Number.isFinite(input.nextCheckAt) && input.nextCheckAt > now ? new Date(input.nextCheckAt).toISOString() : Number.isFinite(input.nextCheckAt) ? "now" : "never (once: everything was seen)", format: Number.isFinite(input.nextCheckAt) && input.nextCheckAt > now ? "time" : "text" },
      { label: "Last error", value: lastError ?? null, ...(lastError !== undefined ? { tone: "error" as const } : {}) },
    ],
  };
}
