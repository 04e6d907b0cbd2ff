export interface QueryJson {
  query: string;
  columns: string[];
  /** One object per row, keyed by column name. */
  rows: Record<string, unknown>[];
  truncated: boolean;
}

/** The JSON file of one query: rows as objects keyed by column name. */
export function toQueryJson(query: string, columns: readonly string[], rows: readonly (readonly unknown[])[], truncated = false): QueryJson {
  return {
    query,
    columns: [...columns],
    rows: rows.map((row) => Object.fromEntries(columns.map((c, i) => [c, row[i] ?? null]))),
    truncated,
  };
}

export function stringifyJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v), 2) + "\n";
}
