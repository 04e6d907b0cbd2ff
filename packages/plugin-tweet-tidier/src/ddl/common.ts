import { insertColumns, type ColumnDef, type MergeRule, type TableDef } from "../schema.js";

export type Dialect = "sqlite" | "postgres";

export const q = (name: string): string => `"${name}"`;

/** Merge expression for one column on re-observation (`t` is the stored row, `excluded` the new one). */
function mergeExpr(d: Dialect, t: TableDef, col: ColumnDef): string {
  const n = q(col.name);
  const old = `${q(t.name)}.${n}`;
  const neu = `excluded.${n}`;
  const rule: MergeRule = col.merge ?? "newer";
  switch (rule) {
    case "keep":
      return old;
    case "min":
      return d === "sqlite" ? `COALESCE(min(${neu}, ${old}), ${neu}, ${old})` : `LEAST(${neu}, ${old})`;
    case "max":
      return d === "sqlite" ? `COALESCE(max(${neu}, ${old}), ${neu}, ${old})` : `GREATEST(${neu}, ${old})`;
    case "or":
      return d === "sqlite" ? `max(${neu}, ${old})` : `(${neu} OR ${old})`;
    case "newer": {
      if (!t.columns.some((x) => x.name === "retrieved_at")) return `COALESCE(${neu}, ${old})`;
      const ra = q("retrieved_at");
      const newer = `(${q(t.name)}.${ra} IS NULL OR excluded.${ra} >= ${q(t.name)}.${ra})`;
      return `CASE WHEN ${newer} THEN COALESCE(${neu}, ${old}) ELSE COALESCE(${old}, ${neu}) END`;
    }
  }
}

/** The INSERT statement the loaders use for a table (parameters in insertColumns order). */
export function insertSql(d: Dialect, t: TableDef): string {
  const cols = insertColumns(t);
  const params = cols.map((_, i) => (d === "sqlite" ? "?" : `$${i + 1}`)).join(", ");
  const head = `INSERT INTO ${q(t.name)} (${cols.map((x) => q(x.name)).join(", ")}) VALUES (${params})`;
  if (t.kind === "log") return head;
  const conflict = `ON CONFLICT (${t.primaryKey.map(q).join(", ")})`;
  if (t.kind === "ignore") return `${head} ${conflict} DO NOTHING`;
  const sets = cols
    .filter((x) => !t.primaryKey.includes(x.name))
    .map((x) => `${q(x.name)} = ${mergeExpr(d, t, x)}`)
    .join(", ");
  return `${head} ${conflict} DO UPDATE SET ${sets}`;
}

/** The `ON CONFLICT ...` clause of a table's insert (empty for log tables). */
export function conflictClause(d: Dialect, t: TableDef): string {
  const sql = insertSql(d, t);
  const i = sql.indexOf(" ON CONFLICT ");
  return i === -1 ? "" : sql.slice(i + 1);
}
