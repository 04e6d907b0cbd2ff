import { postgresDdl } from "./ddl/postgres.js";
import { sqliteDdl } from "./ddl/sqlite.js";
import { SCHEMA_VERSION } from "./schema.js";

export interface Migration {
  version: number;
  name: string;
  sqlite: () => string[];
  postgres: () => string[];
}

/**
 * Ordered migrations. Version 1 creates the schema of src/schema.ts. A later change to
 * the schema adds a table/column there AND a migration here (ALTER TABLE ... ADD COLUMN),
 * and bumps SCHEMA_VERSION.
 */
export const migrations: Migration[] = [{ version: 1, name: "initial tidy schema", sqlite: sqliteDdl, postgres: postgresDdl }];

if (migrations[migrations.length - 1]!.version !== SCHEMA_VERSION) {
  throw new Error("migrations and SCHEMA_VERSION disagree");
}

export const MIGRATIONS_TABLE_SQL =
  'CREATE TABLE IF NOT EXISTS "schema_migrations" ("version" INTEGER NOT NULL PRIMARY KEY, "name" TEXT NOT NULL, "applied_at" TEXT NOT NULL)';
