import { tables, views, type ColumnType, type TableDef } from "../schema.js";
import { insertSql, q } from "./common.js";

const TYPES: Record<ColumnType, string> = {
  text: "TEXT",
  integer: "INTEGER",
  real: "REAL",
  boolean: "INTEGER",
  json: "TEXT",
  timestamp: "TEXT",
  serial: "INTEGER",
};

export function createTableSql(t: TableDef): string {
  const serialPk = t.primaryKey.length === 1 && t.columns.find((x) => x.name === t.primaryKey[0])?.type === "serial";
  const cols = t.columns.map((x) => {
    if (serialPk && x.name === t.primaryKey[0]) return `  ${q(x.name)} INTEGER PRIMARY KEY`;
    let s = `  ${q(x.name)} ${TYPES[x.type]}`;
    if (x.notNull) s += " NOT NULL";
    if (x.type === "boolean") s += ` CHECK (${q(x.name)} IN (0, 1))`;
    return s;
  });
  if (!serialPk) cols.push(`  PRIMARY KEY (${t.primaryKey.map(q).join(", ")})`);
  // link and entity tables: small rows, composite keys -> one b-tree instead of two
  const withoutRowid = !serialPk && t.kind === "ignore" ? " WITHOUT ROWID" : "";
  return `CREATE TABLE IF NOT EXISTS ${q(t.name)} (\n${cols.join(",\n")}\n)${withoutRowid}`;
}

/** Every statement that creates schema version 1 on SQLite. */
export function sqliteDdl(): string[] {
  const out: string[] = [];
  for (const t of tables) {
    out.push(createTableSql(t));
    for (const ix of t.indexes ?? [])
      out.push(
        `CREATE ${ix.unique ? "UNIQUE " : ""}INDEX IF NOT EXISTS ${q(ix.name)} ON ${q(t.name)} (${ix.columns.map(q).join(", ")})`,
      );
  }
  for (const v of views) out.push(`CREATE VIEW IF NOT EXISTS ${q(v.name)} AS ${v.sql.sqlite}`);
  return out;
}

export const sqliteInsertSql = (t: TableDef): string => insertSql("sqlite", t);
