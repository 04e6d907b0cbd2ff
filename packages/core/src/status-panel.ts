/**
 * A job's own status summary: small, plain, JSON-safe data that the dashboard, `ujr status`
 * and `/status` render the same way. It is what the job knows about its domain (tweets
 * collected, files pending, the last report) and what no general job runner can show.
 *
 * `statusPanel()` is called on the runner's thread whenever a snapshot is taken (each
 * `/status` request, each dashboard update): return what the job already holds in memory,
 * never read files or the network there.
 */
export interface StatusPanel {
  /** Heading, e.g. "Collection". Default: the job type. */
  title?: string | undefined;
  /** Key facts in the order shown. */
  fields: StatusPanelField[];
  /** An optional short list (recent files, last errors): at most a few entries. */
  list?: { title: string; items: StatusPanelListItem[] } | undefined;
}

export interface StatusPanelField {
  label: string;
  /** null shows as "—" (not known yet). */
  value: string | number | boolean | null;
  /** Unit after a number, e.g. "tweets", "ms", "req". */
  unit?: string | undefined;
  /** A link: an http(s) URL, or a path the dashboard serves. Files are shown as text. */
  href?: string | undefined;
  /** How the value reads: a timestamp (ISO string or epoch ms) is shown as a time. */
  format?: "number" | "time" | "text" | undefined;
  /** Draws attention: a warning or an error (also written as a word, never by colour alone). */
  tone?: "ok" | "warning" | "error" | undefined;
}

export interface StatusPanelListItem {
  text: string;
  detail?: string | undefined;
  href?: string | undefined;
  tone?: "ok" | "warning" | "error" | undefined;
}

/** Largest panel rendered: more fields or items are cut (and the cut is said). */
export const STATUS_PANEL_LIMITS = { fields: 24, items: 20, text: 300 } as const;

const cut = (text: string): string => (text.length > STATUS_PANEL_LIMITS.text ? `${text.slice(0, STATUS_PANEL_LIMITS.text - 1)}…` : text);
const tones = new Set(["ok", "warning", "error"]);
const formats = new Set(["number", "time", "text"]);

function fieldValue(value: unknown): string | number | boolean | null {
  if (value === null || value === undefined) return null;
  if (typeof value === "number") return Number.isFinite(value) ? value : null;
  if (typeof value === "boolean") return value;
  if (value instanceof Date) return value.toISOString();
  return cut(String(value));
}

function optionalText(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? cut(value) : undefined;
}

/**
 * Makes a panel safe to send and render whatever a job returned: plain values only, text
 * cut to a bounded length, at most `STATUS_PANEL_LIMITS` entries. Returns undefined for
 * anything that is not a panel.
 */
export function normalizeStatusPanel(input: unknown): StatusPanel | undefined {
  if (input === null || typeof input !== "object") return undefined;
  const raw = input as { title?: unknown; fields?: unknown; list?: unknown };
  if (!Array.isArray(raw.fields)) return undefined;
  const fields: StatusPanelField[] = [];
  for (const entry of raw.fields.slice(0, STATUS_PANEL_LIMITS.fields) as Array<Record<string, unknown> | null>) {
    if (entry === null || typeof entry !== "object" || typeof entry.label !== "string") continue;
    const field: StatusPanelField = { label: cut(entry.label), value: fieldValue(entry.value) };
    const unit = optionalText(entry.unit);
    if (unit) field.unit = unit;
    const href = optionalText(entry.href);
    if (href) field.href = href;
    if (typeof entry.format === "string" && formats.has(entry.format)) field.format = entry.format as StatusPanelField["format"];
    if (typeof entry.tone === "string" && tones.has(entry.tone)) field.tone = entry.tone as StatusPanelField["tone"];
    fields.push(field);
  }
  if (raw.fields.length > STATUS_PANEL_LIMITS.fields) fields.push({ label: "more", value: `${raw.fields.length - STATUS_PANEL_LIMITS.fields} field(s) not shown` });
  const panel: StatusPanel = { fields };
  const title = optionalText(raw.title);
  if (title) panel.title = title;
  const list = raw.list as { title?: unknown; items?: unknown } | undefined;
  if (list && typeof list === "object" && Array.isArray(list.items)) {
    const items: StatusPanelListItem[] = [];
    for (const entry of list.items.slice(0, STATUS_PANEL_LIMITS.items) as Array<Record<string, unknown> | null>) {
      if (entry === null || typeof entry !== "object") continue;
      const item: StatusPanelListItem = { text: cut(String(entry.text ?? "")) };
      const detail = optionalText(entry.detail);
      if (detail) item.detail = detail;
      const href = optionalText(entry.href);
      if (href) item.href = href;
      if (typeof entry.tone === "string" && tones.has(entry.tone)) item.tone = entry.tone as StatusPanelListItem["tone"];
      items.push(item);
    }
    panel.list = { title: typeof list.title === "string" ? cut(list.title) : "", items };
  }
  return panel;
}

/** A panel as plain text lines (`ujr status`, logs): "label: value unit". */
export function statusPanelLines(panel: StatusPanel): string[] {
  const lines = panel.fields.map((field) => {
    const value = field.value === null ? "—" : field.format === "time" ? formatPanelTime(field.value) : String(field.value);
    const tone = field.tone === "warning" ? " (warning)" : field.tone === "error" ? " (error)" : "";
    return `${field.label}: ${value}${field.unit && field.value !== null ? ` ${field.unit}` : ""}${tone}`;
  });
  if (panel.list && panel.list.items.length > 0) {
    lines.push(`${panel.list.title || "list"}:`);
    for (const item of panel.list.items) lines.push(`  - ${item.text}${item.detail ? ` (${item.detail})` : ""}${item.tone === "error" ? " [error]" : item.tone === "warning" ? " [warning]" : ""}`);
  }
  return lines;
}

function formatPanelTime(value: string | number | boolean): string {
  const date = new Date(typeof value === "number" ? value : String(value));
  return Number.isNaN(date.getTime()) ? String(value) : date.toISOString().replace(/\.\d{3}Z$/, "Z");
}
