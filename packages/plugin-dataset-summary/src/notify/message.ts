import type { Manifest } from "../manifest.js";

/** Where a report can be read: `<reportBaseUrl>/<job>/<runId>/report.html`, else the local path. */
export function reportLocation(manifest: Manifest, reportBaseUrl?: string): string {
  if (reportBaseUrl) {
    return `${reportBaseUrl.replace(/\/+$/, "")}/${encodeURIComponent(manifest.job)}/${encodeURIComponent(manifest.runId)}/report.html`;
  }
  return manifest.report;
}

/** One-paragraph plain-text summary (Slack `text`, email subject/body). */
export function summaryText(manifest: Manifest, reportBaseUrl?: string): string {
  const lines: string[] = [];
  const status = manifest.ok ? "all queries succeeded" : `${manifest.errors} of ${manifest.queries.length} queries failed`;
  lines.push(`ujr summary "${manifest.job}", run ${manifest.runId}: ${manifest.queries.length} queries, ${status}.`);
  const tr = manifest.timeRange;
  if (tr.firstTweetAt || tr.lastTweetAt) lines.push(`Tweets from ${tr.firstTweetAt ?? "?"} to ${tr.lastTweetAt ?? "?"}.`);
  for (const q of manifest.queries) {
    lines.push(q.error ? `• ${q.name}: FAILED ${q.error.code}: ${q.error.message}` : `• ${q.name}: ${q.rows} row${q.rows === 1 ? "" : "s"}`);
  }
  lines.push(`Report: ${reportLocation(manifest, reportBaseUrl)}`);
  return lines.join("\n");
}

/** The JSON body of a webhook: Slack-compatible (`text`) plus structured fields. */
export function webhookPayload(manifest: Manifest, reportBaseUrl?: string): Record<string, unknown> {
  return {
    text: summaryText(manifest, reportBaseUrl),
    job: manifest.job,
    runId: manifest.runId,
    ok: manifest.ok,
    errors: manifest.errors,
    startedAt: manifest.startedAt,
    finishedAt: manifest.finishedAt,
    durationMs: manifest.durationMs,
    database: manifest.database,
    timeRange: manifest.timeRange,
    queries: manifest.queries.map((q) => ({ name: q.name, title: q.title, rows: q.rows, durationMs: q.durationMs, ...(q.error ? { error: q.error } : {}) })),
    report: reportLocation(manifest, reportBaseUrl),
  };
}
