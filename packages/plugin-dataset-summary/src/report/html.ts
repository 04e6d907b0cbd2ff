/**
 * report.html: one self-contained page (inline CSS and SVG, no scripts, no external
 * resources) with the run's facts, a chart per query that has one and a table per query.
 */
import type { Manifest } from "../manifest.js";
import { barChart, escapeXml, fillTimeGaps, lineChart } from "./svg.js";

export interface ReportData {
  columns: string[];
  rows: unknown[][];
}

const esc = (v: unknown): string => escapeXml(v === null || v === undefined ? "" : typeof v === "object" ? JSON.stringify(v) : String(v));

const CSS = `
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#222;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:32px 0 6px}
.meta{color:#555;font-size:13px}.desc{color:#666;font-size:13px;margin:0 0 8px}
table{border-collapse:collapse;font-size:12px;margin:8px 0;max-width:100%}
th,td{border:1px solid #ddd;padding:3px 6px;text-align:left;vertical-align:top;max-width:480px;overflow-wrap:anywhere}
th{background:#f4f4f4}td.n{text-align:right;font-variant-numeric:tabular-nums}
.error{background:#fff0f0;border:1px solid #e03131;color:#a61e1e;padding:8px;border-radius:4px}
.ok{color:#2b8a3e}.bad{color:#c92a2a}.chart{display:block;margin:8px 0}
nav a{margin-right:10px;font-size:13px}
`;

export function renderReportHtml(manifest: Manifest, data: ReadonlyMap<string, ReportData>, options: { title?: string; maxTableRows?: number } = {}): string {
  const maxRows = options.maxTableRows ?? 100;
  const title = options.title ?? `Summary of ${manifest.job}`;
  const out: string[] = [];
  out.push(`<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">`);
  out.push(`<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">`);
  out.push(`<meta name="viewport" content="width=device-width, initial-scale=1">`);
  out.push(`<title>${esc(title)} — ${esc(manifest.runId)}</title><style>${CSS}</style></head><body>`);
  out.push(`<h1>${esc(title)}</h1>`);
  const tr = manifest.timeRange;
  out.push(
    `<p class="meta">Run ${esc(manifest.runId)} · started ${esc(manifest.startedAt)} · ${manifest.durationMs} ms · database ${esc(manifest.database.dialect)} ${esc(manifest.database.location)}<br>` +
      `Window: ${esc(tr.from ?? "beginning")} to ${esc(tr.to ?? "now")} · tweets from ${esc(tr.firstTweetAt ?? "–")} to ${esc(tr.lastTweetAt ?? "–")}<br>` +
      (manifest.errors > 0
        ? `<span class="bad">${manifest.errors} of ${manifest.queries.length} queries failed</span>`
        : `<span class="ok">all ${manifest.queries.length} queries succeeded</span>`) +
      `</p>`,
  );
  out.push(`<nav>${manifest.queries.map((q) => `<a href="#q-${esc(q.name)}">${esc(q.name)}</a>`).join("")}</nav>`);
  for (const q of manifest.queries) {
    out.push(`<section id="q-${esc(q.name)}"><h2>${esc(q.title)} <small class="meta">(${esc(q.name)})</small></h2>`);
    if (q.error) {
      out.push(`<div class="error"><strong>${esc(q.error.code)}</strong>: ${esc(q.error.message)}</div></section>`);
      continue;
    }
    const d = data.get(q.name);
    out.push(`<p class="desc">${q.rows} row${q.rows === 1 ? "" : "s"}${q.truncated ? " (truncated)" : ""} · ${q.durationMs} ms${q.files ? ` · <a href="${esc(q.files.csv)}">CSV</a> · <a href="${esc(q.files.json)}">JSON</a>` : ""}</p>`);
    if (d && q.chart) {
      const xi = d.columns.indexOf(q.chart.x);
      const yi = d.columns.indexOf(q.chart.y);
      if (xi >= 0 && yi >= 0) {
        const points = d.rows.map((r) => ({ label: String(r[xi] ?? ""), value: r[yi] }));
        out.push(q.chart.type === "line" ? lineChart(fillTimeGaps(points), { title: q.title }) : barChart(points, { title: q.title }));
      }
    }
    if (d) {
      out.push(`<table><thead><tr>${d.columns.map((c) => `<th>${esc(c)}</th>`).join("")}</tr></thead><tbody>`);
      for (const row of d.rows.slice(0, maxRows)) {
        out.push(`<tr>${row.map((v) => `<td${typeof v === "number" ? ' class="n"' : ""}>${esc(v)}</td>`).join("")}</tr>`);
      }
      out.push(`</tbody></table>`);
      if (d.rows.length > maxRows) out.push(`<p class="desc">First ${maxRows} of ${d.rows.length} rows; all rows are in the CSV and JSON files.</p>`);
    }
    out.push(`</section>`);
  }
  out.push(`</body></html>\n`);
  return out.join("\n");
}
