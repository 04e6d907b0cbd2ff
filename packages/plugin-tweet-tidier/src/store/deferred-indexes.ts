import type Database from "better-sqlite3";
import { createIndexSql } from "../ddl/common.js";
import { PAGE_TABLES } from "../parse-page.js";
import { table } from "../schema.js";

/**
 * The secondary indexes of the tables a load writes (tweets by author and conversation,
 * users by username, urls by url, ...): they serve queries, not the load — its upserts
 * find rows by primary key. Unique indexes are constraints and are never dropped.
 */
export const DEFERRABLE_INDEXES: readonly { name: string; table: string; sql: string }[] = PAGE_TABLES.flatMap((name) => {
  const t = table(name);
  return (t.indexes ?? []).filter((ix) => !ix.unique).map((ix) => ({ name: ix.name, table: name, sql: createIndexSql(t, ix) }));
});

/**
 * A bulk load's secondary indexes, dropped before it and built again after it: building an
 * index from the finished table (one sort) costs less than keeping it up to date row by
 * row (one b-tree insert at a random place per row and index). A database left without
 * them (a crash during the load) gets them back when a store next opens it (`buildMissing`).
 */
export class DeferredIndexes {
  private readonly present: Database.Statement<[], { name: string }>;

  constructor(private readonly db: Database.Database) {
    this.present = db.prepare(
      `SELECT "name" FROM "sqlite_master" WHERE "type" = 'index' AND "name" IN (${DEFERRABLE_INDEXES.map(() => "?").join(", ")})`,
    ).bind(...DEFERRABLE_INDEXES.map((ix) => ix.name)) as Database.Statement<[], { name: string }>;
  }

  /** Drops every deferrable index, in a transaction of its own. */
  drop(): void {
    this.db
      .transaction(() => {
        for (const ix of DEFERRABLE_INDEXES) this.db.exec(`DROP INDEX IF EXISTS "${ix.name}"`);
      })
      .immediate();
  }

  /**
   * Builds the deferrable indexes the database does not have now (of `tables` only, when
   * given): within the open transaction if there is one, else in one of their own. Returns
   * how many it built.
   */
  buildMissing(tables?: readonly string[]): number {
    const have = new Set(this.present.all().map((r) => r.name));
    const todo = DEFERRABLE_INDEXES.filter((ix) => !have.has(ix.name) && (tables === undefined || tables.includes(ix.table)));
    if (todo.length === 0) return 0;
    // inside an open transaction: a savepoint of its own (better-sqlite3 nests transactions so)
    this.db
      .transaction(() => {
        for (const ix of todo) this.db.exec(ix.sql);
      })
      .immediate();
    return todo.length;
  }
}
