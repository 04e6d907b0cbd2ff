import { postgresArchiveMembers, postgresDdlV1, postgresFileMtime, postgresPackTables } from "./ddl/postgres.js";
import { sqliteArchiveMembers, sqliteDdlV1, sqliteFileMtime, sqlitePackTables } from "./ddl/sqlite.js";
import { SCHEMA_VERSION } from "./schema.js";

export interface Migration {
  version: number;
  name: string;
  sqlite: () => string[];
  postgres: () => string[];
}

/**
 * Ordered migrations; a new database runs them all. Version 1 creates the schema of
 * src/schema.ts as it was then (every table a table); version 2 packs the tables of many
 * small rows into their owner's row (TableDef.packedIn); version 3 adds source_files.mtime_us
 * and an index by size; version 4 the table archive_members (`since`: a table, column or
 * index a migration adds is left out of version 1). A later table, column or index is added
 * there with `since` AND a migration here (addedInVersionDdl), and SCHEMA_VERSION bumped.
 */
export const migrations: Migration[] = [
  { version: 1, name: "initial tidy schema", sqlite: sqliteDdlV1, postgres: postgresDdlV1 },
  { version: 2, name: "entities and annotations packed into their tweet or user", sqlite: sqlitePackTables, postgres: postgresPackTables },
  { version: 3, name: "source files' modification time, index by size", sqlite: sqliteFileMtime, postgres: postgresFileMtime },
  { version: 4, name: "archive members by SHA-256", sqlite: sqliteArchiveMembers, postgres: postgresArchiveMembers },
];

if (migrations[migrations.length - 1]!.version !== SCHEMA_VERSION) {
  throw new Error("migrations and SCHEMA_VERSION disagree");
}

export const MIGRATIONS_TABLE_SQL =
  'CREATE TABLE IF NOT EXISTS "schema_migrations" ("version" INTEGER NOT NULL PRIMARY KEY, "name" TEXT NOT NULL, "applied_at" TEXT NOT NULL)';
