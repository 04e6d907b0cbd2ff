import type { StatusPanel, StatusPanelField } from "@ujr/core";
import type { CollectorConfig } from "./config.js";
import type { CollectorJobStatus } from "./job.js";

/**
 * The collector's panel on the dashboard, `ujr status` and `/status`: what is collected,
 * where the cursor is, the rate limit, URL resolution and the last archive. Built from
 * what the job holds in memory (its state files as last read).
 */
export function collectorPanel(config: CollectorConfig, status: CollectorJobStatus, now = Date.now()): StatusPanel {
  const state = status.state;
  const subject = config.kind === "search" ? `search (${config.endpoint}): ${config.query}` : `timeline of ${config.username ? `@${config.username}` : `user ${config.userId}`}`;
  const limited = status.lastFetch?.rateLimitedUntil ?? null;
  const fields: StatusPanelField[] = [
    { label: "Collecting", value: subject },
    { label: "Tweets collected", value: state?.tweetsStored ?? 0, unit: "tweets" },
    { label: "Pages collected", value: state?.pagesStored ?? 0, unit: "pages" },
    { label: "Newest tweet id", value: state?.sweep?.newestId ?? state?.sinceId ?? null },
    { label: "Cursor", value: state?.sweep ? (state.sweep.nextToken ? `page ${state.sweep.pages + 1} of the current sweep (next_token ${state.sweep.nextToken})` : "first page of a sweep") : state?.done ? "done: the whole range is stored" : "between sweeps" },
    { label: "Sweeps completed", value: state?.sweepsCompleted ?? 0 },
    { label: "Last sweep ended", value: state?.lastSweepEndedAt ?? null, format: "time" },
    limited !== null && limited > now
      ? { label: "Rate limit", value: `reached; resets ${new Date(limited).toISOString()}`, tone: "warning" }
      : { label: "Rate limit", value: "not reached" },
    { label: "Next fetch", value: status.fetchNotBefore > now ? new Date(status.fetchNotBefore).toISOString() : state?.done ? null : "now", format: status.fetchNotBefore > now ? "time" : "text" },
  ];
  if (config.urlResolution.enabled) {
    fields.push({ label: "Files with URLs resolved", value: status.rawFiles - status.unresolvedFiles, unit: "files" });
    fields.push({ label: "Files with URLs pending", value: status.unresolvedFiles, unit: "files", ...(status.unresolvedFiles > 0 ? { tone: "warning" as const } : {}) });
  }
  const archive = status.archive;
  const last = archive?.archives.at(-1);
  if (config.archive) {
    fields.push({ label: "Last archive", value: last ? `${last.name} (${last.files} files)` : "none yet" });
    fields.push({ label: "Archived at", value: archive?.lastArchiveAt ?? null, format: "time" });
  }
  return { title: "Collection", fields };
}
