/**
 * Inline SVG charts (no scripts, no external resources): a line chart for time series
 * and horizontal bars for top-N lists. Colours are fixed so that tests can find them in a
 * screenshot.
 */
export const LINE_COLOUR = "#d6336c";
export const BAR_COLOUR = "#1c7ed6";

export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}

function num(v: unknown): number {
  const n = typeof v === "number" ? v : Number(v);
  return Number.isFinite(n) ? n : 0;
}

function niceMax(max: number): number {
  if (max <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(max));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= max) return m * p;
  return 10 * p;
}

function truncate(s: string, n: number): string {
  return s.length > n ? s.slice(0, n - 1) + "…" : s;
}

export interface Point {
  label: string;
  value: unknown;
}

const DAY = /^\d{4}-\d{2}-\d{2}$/;
const HOUR = /^\d{4}-\d{2}-\d{2}T\d{2}:00:00Z$/;

/**
 * A time series of days (`YYYY-MM-DD`) or hours (`YYYY-MM-DDTHH:00:00Z`), as
 * tweets_over_time gives it, only has rows for periods with tweets: this adds the missing
 * periods between the first and the last with the value 0, so that the line drops to zero
 * instead of joining two busy days across a quiet one. Other labels (or more than
 * `maxPoints` periods) are returned as they are.
 */
export function fillTimeGaps(points: readonly Point[], maxPoints = 5000): readonly Point[] {
  if (points.length < 2) return points;
  const kind = points.every((p) => DAY.test(p.label)) ? "day" : points.every((p) => HOUR.test(p.label)) ? "hour" : undefined;
  if (!kind) return points;
  const step = kind === "day" ? 86_400_000 : 3_600_000;
  const at = (label: string) => Date.parse(kind === "day" ? `${label}T00:00:00Z` : label);
  const label = (t: number) => (kind === "day" ? new Date(t).toISOString().slice(0, 10) : new Date(t).toISOString().slice(0, 13) + ":00:00Z");
  const byTime = new Map(points.map((p) => [at(p.label), p]));
  const times = [...byTime.keys()].sort((a, b) => a - b);
  const first = times[0]!;
  const last = times[times.length - 1]!;
  if ((last - first) / step + 1 > maxPoints) return points;
  const out: Point[] = [];
  for (let t = first; t <= last; t += step) out.push(byTime.get(t) ?? { label: label(t), value: 0 });
  return out;
}

export function lineChart(points: readonly Point[], options: { width?: number; height?: number; title?: string } = {}): string {
  const width = options.width ?? 900;
  const height = options.height ?? 320;
  const m = { top: 20, right: 20, bottom: 60, left: 56 };
  const w = width - m.left - m.right;
  const h = height - m.top - m.bottom;
  const values = points.map((p) => num(p.value));
  const max = niceMax(Math.max(0, ...values));
  const x = (i: number) => m.left + (points.length <= 1 ? w / 2 : (i * w) / (points.length - 1));
  const y = (v: number) => m.top + h - (v / max) * h;
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" class="chart line" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${escapeXml(options.title ?? "line chart")}">`);
  for (let k = 0; k <= 4; k++) {
    const v = (max * k) / 4;
    const yy = y(v).toFixed(1);
    parts.push(`<line x1="${m.left}" x2="${m.left + w}" y1="${yy}" y2="${yy}" stroke="#e0e0e0" stroke-width="1"/>`);
    parts.push(`<text x="${m.left - 6}" y="${yy}" text-anchor="end" dominant-baseline="middle" font-size="11" fill="#555">${escapeXml(formatNumber(v))}</text>`);
  }
  parts.push(`<line x1="${m.left}" x2="${m.left + w}" y1="${m.top + h}" y2="${m.top + h}" stroke="#888"/>`);
  if (points.length > 0) {
    const d = points.map((p, i) => `${i === 0 ? "M" : "L"}${x(i).toFixed(1)},${y(num(p.value)).toFixed(1)}`).join(" ");
    parts.push(`<path d="${d}" fill="none" stroke="${LINE_COLOUR}" stroke-width="3" stroke-linejoin="round"/>`);
    points.forEach((p, i) => {
      parts.push(`<circle cx="${x(i).toFixed(1)}" cy="${y(num(p.value)).toFixed(1)}" r="5" fill="${LINE_COLOUR}"><title>${escapeXml(`${p.label}: ${num(p.value)}`)}</title></circle>`);
    });
    const step = Math.max(1, Math.ceil(points.length / 8));
    points.forEach((p, i) => {
      if (i % step !== 0 && i !== points.length - 1) return;
      parts.push(`<text x="${x(i).toFixed(1)}" y="${m.top + h + 16}" text-anchor="middle" font-size="11" fill="#555">${escapeXml(truncate(p.label, 20))}</text>`);
    });
  } else {
    parts.push(`<text x="${width / 2}" y="${height / 2}" text-anchor="middle" fill="#888">no data</text>`);
  }
  parts.push("</svg>");
  return parts.join("");
}

export function barChart(points: readonly Point[], options: { width?: number; title?: string; maxBars?: number } = {}): string {
  const width = options.width ?? 900;
  const bars = points.slice(0, options.maxBars ?? 20);
  const barH = 22;
  const gap = 6;
  const labelW = 260;
  const m = { top: 10, right: 60, bottom: 10 };
  const height = Math.max(40, m.top + m.bottom + bars.length * (barH + gap));
  const w = width - labelW - m.right;
  const max = Math.max(1, ...bars.map((p) => num(p.value)));
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" class="chart bar" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${escapeXml(options.title ?? "bar chart")}">`);
  bars.forEach((p, i) => {
    const v = num(p.value);
    const yy = m.top + i * (barH + gap);
    const bw = Math.max(1, (v / max) * w);
    parts.push(`<text x="${labelW - 8}" y="${yy + barH / 2}" text-anchor="end" dominant-baseline="middle" font-size="12" fill="#333">${escapeXml(truncate(p.label, 38))}</text>`);
    parts.push(`<rect x="${labelW}" y="${yy}" width="${bw.toFixed(1)}" height="${barH}" fill="${BAR_COLOUR}"><title>${escapeXml(`${p.label}: ${v}`)}</title></rect>`);
    parts.push(`<text x="${(labelW + bw + 6).toFixed(1)}" y="${yy + barH / 2}" dominant-baseline="middle" font-size="12" fill="#333">${escapeXml(formatNumber(v))}</text>`);
  });
  if (bars.length === 0) parts.push(`<text x="${width / 2}" y="25" text-anchor="middle" fill="#888">no data</text>`);
  parts.push("</svg>");
  return parts.join("");
}

function formatNumber(v: number): string {
  return Number.isInteger(v) ? v.toLocaleString("en-US") : v.toFixed(1);
}
