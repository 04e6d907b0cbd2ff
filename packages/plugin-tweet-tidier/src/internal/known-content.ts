import { createRequire } from "node:module";
import type Database from "better-sqlite3";
import { loadedAsSql } from "../ddl/loaded-content.js";

// loaded on the first look-up: a parse thread of plain files (every bench and most loads)
// does not pay for the driver
const requireHere = createRequire(import.meta.url);


/**
 * What a parse thread may read of a SQLite database to pass over, unparsed, an archive member
 * whose bytes it holds already (a collector's archive of raw files a tidier loaded). It sees
 * only what is committed, never more than the loader's transaction sees, and the loader's
 * own check decides (see ingest.ts): a member found here is one the loader skips too. Any
 * failure (no such file yet, a schema without archive_members) means "not known": the
 * member is parsed, as without this.
 */
export class KnownContent {
  private file: string | undefined;
  private db: Database.Database | undefined;
  private loaded: Database.Statement<[{ sha: string }]> | undefined;

  /** The batch's database, or none (PostgreSQL, a database in memory). Opened on the first look-up, closed by `close` (after each file). */
  use(file: string | undefined): void {
    if (file === this.file) return;
    this.close();
    this.file = file;
  }

  has(sha256: string): boolean {
    if (this.file === undefined) return false;
    try {
      if (this.loaded === undefined) {
        // read-only, autocommit look-ups: no read transaction is held between them, so the
        // writer's checkpoints are not held back
        const Driver = requireHere("better-sqlite3") as typeof Database;
        this.db = new Driver(this.file, { readonly: true, fileMustExist: true });
        this.loaded = this.db.prepare(loadedAsSql("@sha"));
      }
      return this.loaded.get({ sha: sha256 }) !== undefined;
    } catch {
      this.close();
      this.file = undefined; // not asked again in this batch
      return false;
    }
  }

  close(): void {
    try {
      this.db?.close();
    } catch {
      /* closing a read-only connection has nothing to lose */
    }
    this.db = undefined;
    this.loaded = undefined;
  }
}
