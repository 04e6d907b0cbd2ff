/**
 * RFC 4180 CSV (CRLF line ends, fields quoted when needed), UTF-8 with a header row.
 *
 * Formula injection: a spreadsheet opening the file runs a cell that starts with `=`, `+`,
 * `-` or `@` (tab and CR too, for some) as a formula, and tweet texts, URLs and user
 * names are anyone's text. Such text cells get a leading `'` (shown as text, not run).
 * Numbers are not text cells and stay as they are (-3 remains -3).
 */
const FORMULA_START = /^[=+\-@\t\r]/;

export function csvField(value: unknown): string {
  if (value === null || value === undefined) return "";
  let s = typeof value === "object" ? JSON.stringify(value) : String(value);
  if (typeof value === "string" && FORMULA_START.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) || /^\s|\s$/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

export function toCsv(columns: readonly string[], rows: readonly (readonly unknown[])[]): string {
  const lines = [columns.map(csvField).join(",")];
  for (const row of rows) lines.push(row.map(csvField).join(","));
  return lines.join("\r\n") + "\r\n";
}
