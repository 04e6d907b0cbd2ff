import { availableParallelism } from "node:os";
import type { PostgresStoreOptions } from "./postgres.js";
import { SqliteTidyStore, type SqliteStoreOptions } from "./sqlite.js";
import type { TidyStore } from "./types.js";

/**
 * PostgreSQL loaders at once when not set: the machine's cores, at most 4. A loader parses
 * in its own thread, so more loaders than cores only compete for them (2 cores: 4 loaders
 * took 7.07 s for what 2 loaded in 6.31–6.55 s, with more server CPU).
 */
export const defaultLoaders = (): number => Math.max(1, Math.min(4, availableParallelism()));

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
