import type { ColumnType, TableDef } from "../schema.js";
import { addedInVersionDdl, currentDdl, insertSql, packTablesDdl, q, version1Ddl, type DdlParts } from "./common.js";

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

const parts: DdlParts = { dialect: "sqlite", createTable: createTableSql, columnType: (type) => TYPES[type], viewSql: (v) => v.sql.sqlite };

/** Every statement that creates the current schema on SQLite. */
export const sqliteDdl = (): string[] => currentDdl(parts);
/** Migration 1 on SQLite. */
export const sqliteDdlV1 = (): string[] => version1Ddl(parts);
/** Migration 2 on SQLite. */
export const sqlitePackTables = (): string[] => packTablesDdl(parts);
/** Migration 3 on SQLite. */
export const sqliteFileMtime = (): string[] => addedInVersionDdl(parts, 3);
/** Migration 4 on SQLite. */
export const sqliteArchiveMembers = (): string[] => addedInVersionDdl(parts, 4);

export const sqliteInsertSql = (t: TableDef): string => insertSql("sqlite", t);
