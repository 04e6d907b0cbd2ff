import type { PostgresStoreOptions } from "./postgres.js";
import { SqliteTidyStore, type SqliteStoreOptions } from "./sqlite.js";
import type { TidyStore } from "./types.js";

export const isPostgresUrl = (database: string): boolean => /^postgres(ql)?:\/\//i.test(database);

/** Opens the tidy database: PostgreSQL for a `postgres://` URL, else a SQLite file path. */
export async function openStore(database: string, opts: PostgresStoreOptions & SqliteStoreOptions = {}): Promise<TidyStore> {
  if (isPostgresUrl(database)) {
    // loaded on first use: a worker tidying into SQLite does not pay for the pg driver
    const { PostgresTidyStore } = await import("./postgres.js");
    const s = new PostgresTidyStore(database, opts);
    await s.migrate();
    return s;
  }
  return new SqliteTidyStore(database, opts);
}
