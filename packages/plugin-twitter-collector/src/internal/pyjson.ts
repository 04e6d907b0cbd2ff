/**
 * JSON as Python's `json.dumps` writes it by default (what twarc2 writes): `", "` and
 * `": "` separators and `ensure_ascii` (every character outside printable ASCII escaped
 * as a lowercase `\uXXXX`), so our raw lines have twarc2's bytes.
 */
const NON_ASCII = /[\u007f-\uffff]/g;
const HAS_NON_ASCII = /[\u007f-\uffff]/;

function escapeChar(char: string): string {
  return `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`;
}

/** Printable ASCII without `"` and `\`: written as is (the common case: keys, ids, most text). */
const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

function dumpString(value: string): string {
  if (PLAIN.test(value)) return `"${value}"`;
  const json = JSON.stringify(value);
  return HAS_NON_ASCII.test(json) ? json.replace(NON_ASCII, escapeChar) : json;
}

export function pyDumps(value: unknown): string {
  if (value === null || value === undefined) return "null";
  switch (typeof value) {
    case "string":
      return dumpString(value);
    case "number":
      return Number.isFinite(value) ? JSON.stringify(value) : "null";
    case "boolean":
      return value ? "true" : "false";
    case "object": {
      if (Array.isArray(value)) {
        if (value.length === 0) return "[]";
        let out = "[";
        for (let i = 0; i < value.length; i++) out += (i ? ", " : "") + pyDumps(value[i]);
        return `${out}]`;
      }
      let out = "{";
      let first = true;
      for (const key in value) {
        const inner = (value as Record<string, unknown>)[key];
        if (inner === undefined || typeof inner === "function") continue;
        out += (first ? "" : ", ") + dumpString(key) + ": " + pyDumps(inner);
        first = false;
      }
      return `${out}}`;
    }
    default:
      return "null";
  }
}
