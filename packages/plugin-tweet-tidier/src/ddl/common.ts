import { insertColumns, packedColumn, packedKey, packedTables, table, tables, views, type ColumnDef, type ColumnType, type IndexDef, type MergeRule, type TableDef } from "../schema.js";

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
    case "union":
      return unionExpr(d, old, neu, packedKey(table(col.packs!)));
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

/**
 * Merge of two packed columns (JSON arrays of rows): the old rows, then the new rows whose
 * key is not among the old ones; as INSERT OR IGNORE into a table of these rows would do.
 * Re-observations of a tweet mostly carry the same rows: then nothing is unpacked.
 */
function unionExpr(d: Dialect, old: string, neu: string, key: number[]): string {
  const v = d === "sqlite" ? "value" : "v";
  const same = key.map((k) => `o.${v}->${k} = n.${v}->${k}`).join(" AND ");
  const merged =
    d === "sqlite"
      ? `(SELECT json_group_array(json(m.v)) FROM (SELECT 0 AS s, o.key AS k, o.value AS v FROM json_each(${old}) o UNION ALL SELECT 1, n.key, n.value FROM json_each(${neu}) n WHERE NOT EXISTS (SELECT 1 FROM json_each(${old}) o WHERE ${same}) ORDER BY 1, 2) m)`
      : `(SELECT jsonb_agg(m.v ORDER BY m.s, m.k) FROM (SELECT 0 AS s, o.k, o.v FROM jsonb_array_elements(${old}) WITH ORDINALITY o(v, k) UNION ALL SELECT 1, n.k, n.v FROM jsonb_array_elements(${neu}) WITH ORDINALITY n(v, k) WHERE NOT EXISTS (SELECT 1 FROM jsonb_array_elements(${old}) o(v) WHERE ${same})) m)`;
  return `CASE WHEN ${neu} IS NULL OR ${neu} = ${old} THEN ${old} WHEN ${old} IS NULL THEN ${neu} ELSE ${merged} END`;
}

/** The view that unpacks a packed table (TableDef.packedIn) under its name and columns. */
export function packedViewSql(d: Dialect, t: TableDef): string {
  const owner = table(t.packedIn!);
  const ownerKey = owner.primaryKey[0]!;
  const cols = t.columns.slice(1).map((col, i) => {
    if (d === "sqlite") return `e.value->>${i} AS ${q(col.name)}`;
    const cast = col.type === "integer" ? "::bigint" : col.type === "real" ? "::double precision" : col.type === "boolean" ? "::boolean" : "";
    return `${cast ? `(e.v->>${i})${cast}` : `e.v->>${i}`} AS ${q(col.name)}`;
  });
  const from =
    d === "sqlite"
      ? `FROM ${q(owner.name)} o, json_each(o.${q(packedColumn(t))}) e`
      : `FROM ${q(owner.name)} o CROSS JOIN LATERAL jsonb_array_elements(o.${q(packedColumn(t))}) e(v)`;
  return `SELECT o.${q(ownerKey)} AS ${q(t.columns[0]!.name)}, ${cols.join(", ")} ${from}`;
}

export interface DdlParts {
  dialect: Dialect;
  createTable: (t: TableDef) => string;
  /** A column type as the backend writes it (without constraints). */
  columnType: (type: ColumnType) => string;
  viewSql: (v: { sql: { sqlite: string; postgres: string } }) => string;
}

/** `CREATE INDEX IF NOT EXISTS` of one index of `t` (the same text in both dialects). */
export const createIndexSql = (t: TableDef, ix: IndexDef): string =>
  `CREATE ${ix.unique ? "UNIQUE " : ""}INDEX IF NOT EXISTS ${q(ix.name)} ON ${q(t.name)} (${ix.columns.map(q).join(", ")})`;

const createIndexes = (t: TableDef): string[] => (t.indexes ?? []).map((ix) => createIndexSql(t, ix));

const createView = (d: Dialect, name: string, sql: string) =>
  d === "sqlite" ? `CREATE VIEW IF NOT EXISTS ${q(name)} AS ${sql}` : `CREATE OR REPLACE VIEW ${q(name)} AS ${sql}`;

/** Every statement that creates the current schema (tables, indexes, the views of packed tables, views). */
export function currentDdl(p: DdlParts): string[] {
  const out: string[] = [];
  for (const t of tables) if (t.packedIn === undefined) out.push(p.createTable(t), ...createIndexes(t));
  for (const t of packedTables()) out.push(createView(p.dialect, t.name, packedViewSql(p.dialect, t)));
  for (const v of views) out.push(createView(p.dialect, v.name, p.viewSql(v)));
  return out;
}

/** Migration 1: the schema before packed tables (version 1: every table of src/schema.ts a table). */
export function version1Ddl(p: DdlParts): string[] {
  const out: string[] = [];
  for (const t of tables) {
    if ((t.since ?? 1) > 1) continue;
    const v1 = {
      ...t,
      packedIn: undefined,
      columns: t.columns.filter((col) => col.packs === undefined && (col.since ?? 1) === 1),
      indexes: t.indexes?.filter((ix) => (ix.since ?? 1) === 1),
    };
    out.push(p.createTable(v1), ...createIndexes(v1));
    if (t.name === "hashtags") out.push(`CREATE INDEX IF NOT EXISTS "hashtags_tag_lower" ON "hashtags" ("tag_lower")`);
  }
  for (const v of views) out.push(createView(p.dialect, v.name, p.viewSql(v)));
  return out;
}

/** A later migration's new tables, columns and indexes (`since` = `version`). */
export function addedInVersionDdl(p: DdlParts, version: number): string[] {
  return tables.flatMap((t) =>
    t.since === version
      ? [p.createTable(t), ...createIndexes(t)]
      : [
          ...t.columns.filter((col) => col.since === version).map((col) => `ALTER TABLE ${q(t.name)} ADD COLUMN ${q(col.name)} ${p.columnType(col.type)}`),
          ...(t.indexes ?? []).filter((ix) => ix.since === version).map((ix) => createIndexSql(t, ix)),
        ],
  );
}

/**
 * Migration 2: the tables of many small rows per tweet or user (hashtags, mentions,
 * annotations, ...) move into a packed column of their owner's row, with a view of the
 * same name and columns (their inserts were ~30% of a load's). Existing rows are packed
 * in their key order.
 */
export function packTablesDdl(p: DdlParts): string[] {
  const d = p.dialect;
  const out: string[] = [];
  // PostgreSQL expands `t.*` when a view is created: recreated below with the new columns
  for (const v of views) out.push(`DROP VIEW IF EXISTS ${q(v.name)}`);
  for (const t of packedTables()) {
    const owner = table(t.packedIn!);
    const col = q(packedColumn(t));
    const ownerCol = q(t.columns[0]!.name);
    const vals = t.columns.slice(1).map((x) => `x.${q(x.name)}`).join(", ");
    const order = t.primaryKey.slice(1).map((k) => `x.${q(k)}`).join(", ");
    out.push(`ALTER TABLE ${q(owner.name)} ADD COLUMN ${col} ${d === "sqlite" ? "TEXT" : "jsonb"}`);
    out.push(
      d === "sqlite"
        ? `UPDATE ${q(owner.name)} SET ${col} = (SELECT json_group_array(json(x.r)) FROM (SELECT json_array(${vals}) AS r FROM ${q(t.name)} x WHERE x.${ownerCol} = ${q(owner.name)}."id" ORDER BY ${order}) x) WHERE "id" IN (SELECT ${ownerCol} FROM ${q(t.name)})`
        : `UPDATE ${q(owner.name)} o SET ${col} = s.p FROM (SELECT x.${ownerCol} AS id, jsonb_agg(jsonb_build_array(${vals}) ORDER BY ${order}) AS p FROM ${q(t.name)} x GROUP BY x.${ownerCol}) s WHERE o."id" = s.id`,
    );
    out.push(`DROP TABLE ${q(t.name)}`);
    out.push(createView(d, t.name, packedViewSql(d, t)));
  }
  for (const v of views) out.push(createView(d, v.name, p.viewSql(v)));
  return out;
}
