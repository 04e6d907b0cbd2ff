import pg from "pg";
import { from as copyFrom } from "pg-copy-streams";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { conflictClause, q } from "../ddl/common.js";
import { postgresInsertSql } from "../ddl/postgres.js";
import { TidyError } from "../errors.js";
import { groupCommitBytes, ingestAll, ingestWith, single, type GroupCommit } from "../ingest.js";
import { localFeed, type FileFeed } from "../parse-in-worker.js";
import { migrations } from "../migrations.js";
import { PAGE_TABLES, type ParsedPage, type Row } from "../parse-page.js";
import { SCHEMA_VERSION, insertColumns, table, type TableDef } from "../schema.js";
import type { ClaimResult, FileOutcome, FileStats, FileTxn, IngestOptions, IngestResult, TidyStore } from "./types.js";

export interface PostgresStoreOptions {
  /** Schema (namespace) holding the tidy tables; default: `schema` query parameter of the URL, else `public`. */
  schema?: string;
  /** Pool size (files loaded in parallel). Default 4. */
  poolSize?: number;
}

const MERGED_TABLES = [...PAGE_TABLES.filter((t) => t !== "api_errors"), "resolved_urls"] as const;
/** Log tables: rows of a new file never conflict, they are copied straight into the table. */
const DIRECT_TABLES = new Set(["pages", "api_errors"]);
/** Upsert tables → positions of their key columns in a row. */
const UPSERT_KEYS = new Map(
  [...PAGE_TABLES, "resolved_urls"]
    .map((t) => table(t))
    .filter((def) => def.kind === "upsert")
    .map((def): [string, number[]] => [def.name, def.primaryKey.map((k) => insertColumns(def).findIndex((col) => col.name === k))]),
);
/** Files of a batch share a commit (a WAL flush) until they hold this many bytes. */
export const PG_GROUP_COMMIT_BYTES = 16 << 20;
/** Rows buffered in this process before they are copied to the staging tables. */
const FLUSH_ROWS = 20_000;

const COPY_SPECIAL = /[\\\n\r\t]/;
const COPY_ESCAPES: Record<string, string> = { "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t" };
/** A value in COPY's text format (`\N` for NULL; backslash, newline, CR and tab escaped). */
function copyValue(v: string | number | null): string {
  if (v === null) return "\\N";
  if (typeof v === "number") return String(v);
  return COPY_SPECIAL.test(v) ? v.replace(/[\\\n\r\t]/g, (ch) => COPY_ESCAPES[ch]!) : v;
}

function splitUrl(url: string): { connectionString: string; schema?: string } {
  try {
    const u = new URL(url);
    const schema = u.searchParams.get("schema") ?? undefined;
    u.searchParams.delete("schema");
    return { connectionString: u.toString(), schema };
  } catch {
    return { connectionString: url };
  }
}

const isRetryable = (e: unknown) => {
  const c = (e as { code?: string }).code;
  return c === "40P01" || c === "40001";
};

/** Applies pending migrations under an advisory lock (safe when several loaders start at once). */
export async function migratePostgres(client: pg.PoolClient | pg.Client, schema: string): Promise<void> {
  await client.query("BEGIN");
  try {
    await client.query("SELECT pg_advisory_xact_lock(hashtext($1))", [`ujr-tidy-migrate:${schema}`]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${q(schema)}`);
    await client.query(`SET LOCAL search_path TO ${q(schema)}`);
    await client.query(
      'CREATE TABLE IF NOT EXISTS "schema_migrations" ("version" bigint NOT NULL PRIMARY KEY, "name" text NOT NULL, "applied_at" timestamptz NOT NULL)',
    );
    const r = await client.query('SELECT max("version") AS v FROM "schema_migrations"');
    const cur = Number(r.rows[0]?.v ?? 0);
    if (cur > SCHEMA_VERSION) throw new TidyError("UJR_TIDY_SCHEMA_TOO_NEW", `schema version ${cur} > ${SCHEMA_VERSION}`);
    for (const m of migrations) {
      if (m.version <= cur) continue;
      for (const sql of m.postgres()) await client.query(sql);
      await client.query('INSERT INTO "schema_migrations" ("version", "name", "applied_at") VALUES ($1, $2, now())', [
        m.version,
        m.name,
      ]);
    }
    await client.query("COMMIT");
  } catch (e) {
    await client.query("ROLLBACK").catch(() => {});
    throw e;
  }
}

export class PostgresTidyStore implements TidyStore {
  readonly backend = "postgres" as const;
  readonly pool: pg.Pool;
  readonly schema: string;
  private ready: Promise<void> | undefined;
  private readonly staged = new WeakSet<pg.PoolClient>();

  constructor(url: string, opts: PostgresStoreOptions = {}) {
    const { connectionString, schema } = splitUrl(url);
    this.schema = opts.schema ?? schema ?? "public";
    this.pool = new pg.Pool({ connectionString, max: opts.poolSize ?? 4 });
    this.pool.on("error", () => {});
    this.pool.on("connect", (c) => {
      c.query(`SET search_path TO ${q(this.schema)}`).catch(() => {});
    });
  }

  /** Creates or upgrades the schema. Called by every method; idempotent. */
  migrate(): Promise<void> {
    this.ready ??= (async () => {
      const c = await this.connect();
      try {
        await migratePostgres(c, this.schema);
      } finally {
        c.release();
      }
    })();
    return this.ready;
  }

  private async connect(): Promise<pg.PoolClient> {
    try {
      return await this.pool.connect();
    } catch (e) {
      throw new TidyError("UJR_TIDY_DATABASE", "cannot connect to PostgreSQL", { cause: e });
    }
  }

  async ingestFile(path: string, opts?: IngestOptions): Promise<IngestResult> {
    return single(await this.ingestFiles([path], opts));
  }

  /**
   * One connection for the batch. Files share a transaction until they hold
   * GROUP_COMMIT_BYTES (each file is all or nothing by its savepoint): a commit is a WAL
   * flush. A file that hits a deadlock or serialization failure is rolled back to its
   * savepoint, the files before it are committed (releasing their locks, so that the other
   * loader can go on), and it is tried again (up to 5 times).
   */
  async ingestFiles(paths: readonly string[], opts: IngestOptions = {}, onFile?: (o: FileOutcome) => void): Promise<FileOutcome[]> {
    await this.migrate();
    const client = await this.connect();
    const g = { open: false, bytes: 0 };
    const every = groupCommitBytes(PG_GROUP_COMMIT_BYTES);
    const group: GroupCommit = {
      due: () => g.bytes >= every,
      commit: async () => {
        if (g.open) await client.query("COMMIT");
        g.open = false;
        g.bytes = 0;
      },
      abort: async () => {
        if (g.open) await client.query("ROLLBACK");
        g.open = false;
        g.bytes = 0;
      },
    };
    try {
      await this.ensureStaging(client);
      const loadOne = async (feed: FileFeed): Promise<IngestResult> => {
        for (let attempt = 1; ; attempt++) {
          try {
            return await ingestWith(this.txn(client, g), attempt === 1 ? feed : localFeed(feed.path), opts);
          } catch (e) {
            if (isRetryable(e) && attempt < 5) {
              opts.logger?.warn({ path: feed.path, attempt }, "tidy: transaction conflict, retrying the file");
              await group.commit();
              continue;
            }
            throw e;
          }
        }
      };
      return await ingestAll(paths, opts, loadOne, false, onFile, group);
    } finally {
      client.release();
    }
  }

  private async ensureStaging(c: pg.PoolClient): Promise<void> {
    if (this.staged.has(c)) return;
    for (const t of MERGED_TABLES)
      await c.query(`CREATE TEMP TABLE IF NOT EXISTS ${q(`stage_${t}`)} (LIKE ${q(t)}, "_seq" bigint) ON COMMIT DELETE ROWS`);
    this.staged.add(c);
  }

  private txn(c: pg.PoolClient, g: { open: boolean; bytes: number }): FileTxn {
    let seq = 0;
    let open = false;
    let bytes = 0;
    const buffers = new Map<string, Row[]>();
    const buffered = { n: 0 };
    /** Staging tables that got rows of this file. */
    const staged = new Set<string>();
    /** Upsert tables: how often each key occurs in this file (the merge needs that many rounds). */
    const keyCounts = new Map<string, Map<string, number>>();
    const rounds = new Map<string, number>();
    const ingestErrSql = postgresInsertSql(table("ingest_errors"));

    // rows go by COPY (text format): no SQL text or parameter list per row; log tables
    // straight to their table, merged tables to their staging table
    const copyRows = async (t: string, rows: Row[]) => {
      const direct = DIRECT_TABLES.has(t);
      const cols = insertColumns(table(t)).map((x) => q(x.name));
      if (!direct) cols.push('"_seq"');
      const copy = c.query(copyFrom(`COPY ${q(direct ? t : `stage_${t}`)} (${cols.join(", ")}) FROM STDIN`));
      const chunks = function* () {
        let buf = "";
        for (const r of rows) {
          for (let i = 0; i < r.length; i++) buf += (i === 0 ? "" : "\t") + copyValue(r[i]!);
          buf += direct ? "\n" : `\t${++seq}\n`;
          if (buf.length >= 1 << 16) {
            yield buf;
            buf = "";
          }
        }
        if (buf.length > 0) yield buf;
      };
      await pipeline(Readable.from(chunks()), copy);
      if (!direct) staged.add(t);
    };
    const flush = async () => {
      for (const [t, rows] of buffers) if (rows.length) await copyRows(t, rows);
      buffers.clear();
      buffered.n = 0;
    };
    const add = (t: string, rows: Row[]) => {
      if (rows.length === 0) return;
      let b = buffers.get(t);
      if (!b) buffers.set(t, (b = []));
      for (const r of rows) b.push(r);
      buffered.n += rows.length;
      const keyCols = UPSERT_KEYS.get(t);
      if (keyCols) {
        let m = keyCounts.get(t);
        if (!m) keyCounts.set(t, (m = new Map()));
        for (const r of rows) {
          const k = keyCols.length === 1 ? String(r[keyCols[0]!]) : keyCols.map((i) => r[i]).join("\u0000");
          const n = (m.get(k) ?? 0) + 1;
          m.set(k, n);
          if (n > (rounds.get(t) ?? 1)) rounds.set(t, n);
        }
      }
    };
    const merge = async (def: TableDef) => {
      const cols = insertColumns(def).map((x) => q(x.name));
      const pk = def.primaryKey.map(q).join(", ");
      const st = q(`stage_${def.name}`);
      const tail = conflictClause("postgres", def);
      const k = def.kind === "ignore" ? 1 : (rounds.get(def.name) ?? 1);
      // one statement may not update a row twice: a key seen k times in the file is merged in k rounds, in file order
      if (k === 1) await c.query(`INSERT INTO ${q(def.name)} (${cols.join(", ")}) SELECT ${cols.join(", ")} FROM ${st} ORDER BY ${pk} ${tail}`);
      else
        for (let i = 1; i <= k; i++) {
          await c.query(
            `INSERT INTO ${q(def.name)} (${cols.join(", ")}) SELECT ${cols.join(", ")} FROM (SELECT *, row_number() OVER (PARTITION BY ${pk} ORDER BY "_seq") AS "_rn" FROM ${st}) s WHERE "_rn" = $1 ORDER BY ${pk} ${tail}`,
            [i],
          );
        }
    };

    return {
      claim: async (path, sha256, size, kind): Promise<ClaimResult> => {
        if (!g.open) {
          await c.query("BEGIN");
          g.open = true;
        }
        await c.query('SAVEPOINT "tidy_file"');
        open = true;
        bytes = size;
        const r = await c.query(
          'INSERT INTO "source_files" ("path", "sha256", "size_bytes", "kind", "status", "loaded_at") VALUES ($1, $2, $3, $4, \'partial\', now()) ON CONFLICT ("sha256") DO NOTHING RETURNING "id"',
          [path, sha256, size, kind],
        );
        if (r.rows.length === 1) return { fileId: Number(r.rows[0].id) };
        const ex = await c.query(
          'SELECT "id", "path", "status", ("ingest_errors" > 0 AND coalesce("pages", 0) = 0 AND coalesce("resolved_urls", 0) = 0) AS "nothing" FROM "source_files" WHERE "sha256" = $1',
          [sha256],
        );
        const row = ex.rows[0];
        return { fileId: Number(row.id), existing: { path: row.path, status: row.status, nothingLoaded: row.nothing === true } };
      },
      writePage: async (p: ParsedPage) => {
        add("pages", [p.page]);
        for (const t of PAGE_TABLES) add(t, p.rows[t]);
        if (buffered.n >= FLUSH_ROWS) await flush();
      },
      writeSidecar: async (row: Row) => {
        add("resolved_urls", [row]);
        if (buffered.n >= FLUSH_ROWS) await flush();
      },
      writeIngestError: async (row: Row) => {
        await c.query({ name: "tidy_ingest_error", text: ingestErrSql, values: row });
      },
      commit: async (fileId, status, st: FileStats) => {
        await flush();
        // a fixed table order: concurrent loaders take row locks in the same order
        for (const t of MERGED_TABLES) if (staged.has(t)) await merge(table(t));
        if (staged.has("resolved_urls"))
          for (const col of ["url", "expanded_url"])
            await c.query(
              `UPDATE "urls" u SET "final_url" = r."final_url" FROM "stage_resolved_urls" r WHERE u.${q(col)} = r."url" AND u."final_url" IS NULL AND r."final_url" IS NOT NULL`,
            );
        await c.query(
          'UPDATE "source_files" SET "status" = $1, "lines" = $2, "pages" = $3, "data_tweets" = $4, "included_tweets" = $5, "users" = $6, "resolved_urls" = $7, "api_errors" = $8, "ingest_errors" = $9, "loaded_at" = now() WHERE "id" = $10',
          [status, st.lines, st.pages, st.dataTweets, st.includedTweets, st.users, st.resolvedUrls, st.apiErrors, st.ingestErrors, fileId],
        );
        // the staging tables empty themselves at COMMIT; files of one group empty them here
        // (DELETE, not TRUNCATE: a TRUNCATE makes new files for each table, ~25 ms a file measured)
        if (staged.size > 0) await c.query([...staged].map((t) => `DELETE FROM ${q(`stage_${t}`)}`).join("; "));
        await c.query('RELEASE SAVEPOINT "tidy_file"');
        open = false;
        g.bytes += bytes;
      },
      rollback: async () => {
        if (open) await c.query('ROLLBACK TO SAVEPOINT "tidy_file"; RELEASE SAVEPOINT "tidy_file"');
        open = false;
      },
    };
  }

  private sql(s: string): string {
    let i = 0;
    return s.replace(/\?/g, () => `$${++i}`);
  }

  async count(name: string, where?: string): Promise<number> {
    await this.migrate();
    const r = await this.pool.query(`SELECT count(*)::bigint AS n FROM ${q(name.replace(/"/g, ""))}${where ? ` WHERE ${where}` : ""}`);
    return Number(r.rows[0].n);
  }

  async query<T = Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<T[]> {
    await this.migrate();
    const r = await this.pool.query(this.sql(sql), params);
    return r.rows as T[];
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
