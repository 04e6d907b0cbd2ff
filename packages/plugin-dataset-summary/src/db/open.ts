import path from "node:path";
import { openPostgres } from "./postgres.js";
import { openSqlite } from "./sqlite.js";
import type { ReadOnlyDatabase } from "./types.js";
import { isPostgresUrl } from "../internal/database-url.js";

/** Opens `database` (a SQLite file path, `sqlite:` path, or a `postgres://` URL) read-only. */
export function openReadOnly(database: string, baseDir: string): Promise<ReadOnlyDatabase> {
  if (isPostgresUrl(database)) return openPostgres(database);
  const file = database.replace(/^sqlite:(\/\/)?/i, "");
  return openSqlite(path.resolve(baseDir, file));
}
