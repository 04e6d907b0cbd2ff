import { postgresDdl } from "./ddl/postgres.js";
import { SCHEMA_VERSION, packedColumn, tables, views, type ColumnType, type MergeRule } from "./schema.js";

const SQLITE: Record<ColumnType, string> = {
  text: "TEXT",
  integer: "INTEGER",
  real: "REAL",
  boolean: "INTEGER (0/1)",
  json: "TEXT (JSON)",
  timestamp: "TEXT (ISO 8601 UTC)",
  serial: "INTEGER (auto)",
};
const PG: Record<ColumnType, string> = {
  text: "text",
  integer: "bigint",
  real: "double precision",
  boolean: "boolean",
  json: "jsonb",
  timestamp: "timestamptz",
  serial: "bigint identity",
};
const MERGE: Record<MergeRule, string> = {
  newer: "latest",
  min: "min",
  max: "max",
  or: "sticky true",
  keep: "first",
  union: "union (rows by key; first wins)",
};

const cell = (s: string) => s.replace(/\|/g, "\\|").replace(/\n/g, " ");

/** Renders docs/schema.md from src/schema.ts (run `pnpm --filter @ujr/plugin-tweet-tidier docs:schema`). */
export function renderSchemaDoc(): string {
  const out: string[] = [];
  out.push("# Tidy database schema");
  out.push("");
  out.push(
    "<!-- GENERATED from src/schema.ts by `pnpm --filter @ujr/plugin-tweet-tidier docs:schema`. Do not edit: a test fails when this file is stale. -->",
  );
  out.push("");
  out.push(`Schema version: **${SCHEMA_VERSION}** (the highest \`version\` in \`schema_migrations\`).`);
  out.push("");
  out.push(
    "The same tables, columns and views exist in SQLite and PostgreSQL. Ids of tweets, users, places, polls and media are text (they exceed 2^53). " +
      "There are no foreign-key constraints (rows arrive in any order); `→` marks which column a value refers to. " +
      "`merge` says what happens when a row with the same key is observed again: `latest` = the value of the observation with the latest `retrieved_at` (a missing value never erases a known one), `min`/`max`, `sticky true` = true once true, `first` = the first insert wins (for tables whose rows never change, every column is `first`). " +
      "A table marked *packed* is a view of that name and columns over a JSON column of its owner's row (`tweets` or `users`): the rows of a tweet or user are stored together, which costs one write instead of one per row; query it as a table (it has no indexes of its own).",
  );
  out.push("");
  out.push("## Tables");
  out.push("");
  for (const t of tables) out.push(`- [\`${t.name}\`](#${t.name.replace(/_/g, "_")}): ${t.doc.split(". ")[0]!.replace(/\.$/, "")}.`);
  for (const v of views) out.push(`- view [\`${v.name}\`](#${v.name}): ${v.doc.split(". ")[0]!.replace(/\.$/, "")}.`);
  out.push("");
  for (const t of tables) {
    out.push(`### ${t.name}`);
    out.push("");
    out.push(t.doc);
    out.push("");
    if (t.packedIn !== undefined)
      out.push(
        `*Packed*: a view over \`${t.packedIn}.${packedColumn(t)}\` (SQLite: \`json_each\`, PostgreSQL: \`jsonb_array_elements\`); its rows are unique by (${t.primaryKey.map((x) => `\`${x}\``).join(", ")}).`,
      );
    else out.push(`Primary key: (${t.primaryKey.map((x) => `\`${x}\``).join(", ")}).`);
    if (t.indexes?.length)
      out.push(
        `Indexes: ${t.indexes.map((i) => `${i.unique ? "unique " : ""}(${i.columns.map((x) => `\`${x}\``).join(", ")})`).join("; ")}.`,
      );
    out.push("");
    out.push("| column | SQLite | PostgreSQL | null | merge | description |");
    out.push("|---|---|---|---|---|---|");
    for (const col of t.columns) {
      const merge = t.kind === "upsert" && !t.primaryKey.includes(col.name) ? MERGE[col.merge ?? "newer"] : "";
      out.push(
        `| \`${col.name}\` | ${SQLITE[col.type]} | ${PG[col.type]} | ${col.notNull ? "no" : "yes"} | ${merge} | ${cell(col.doc)}${col.refs ? ` → \`${col.refs}\`` : ""} |`,
      );
    }
    out.push("");
  }
  out.push("## Views");
  out.push("");
  for (const v of views) {
    out.push(`### ${v.name}`);
    out.push("");
    out.push(v.doc);
    out.push("");
    out.push("| column | description |");
    out.push("|---|---|");
    for (const col of v.columns) out.push(`| \`${col.name}\` | ${cell(col.doc)} |`);
    out.push("");
  }
  out.push("## PostgreSQL DDL");
  out.push("");
  out.push("For reference, the statements that create the current schema on PostgreSQL (SQLite's are equivalent; an existing database gets there by the migrations of src/migrations.ts):");
  out.push("");
  out.push("```sql");
  for (const s of postgresDdl()) out.push(`${s};`);
  out.push("```");
  out.push("");
  return out.join("\n");
}
