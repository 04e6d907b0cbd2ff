import pg from "pg";
import { from as copyFrom } from "pg-copy-streams";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { conflictClause, q } from "../ddl/common.js";
import { postgresInsertSql } from "../ddl/postgres.js";
import { TidyError } from "../errors.js";
import { ingestAll, ingestWith, single } from "../ingest.js";
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

  /** One connection for the batch; a file whose transaction hit a deadlock or serialization failure is retried (up to 5 times). */
  async ingestFiles(paths: readonly string[], opts: IngestOptions = {}, onFile?: (o: FileOutcome) => void): Promise<FileOutcome[]> {
    await this.migrate();
    const client = await this.connect();
    try {
      await this.ensureStaging(client);
      const loadOne = async (feed: FileFeed): Promise<IngestResult> => {
        for (let attempt = 1; ; attempt++) {
          try {
            return await ingestWith(this.txn(client), attempt === 1 ? feed : localFeed(feed.path), opts);
          } catch (e) {
            if (isRetryable(e) && attempt < 5) {
              opts.logger?.warn({ path: feed.path, attempt }, "tidy: transaction conflict, retrying the file");
              continue;
            }
            throw e;
          }
        }
      };
      return await ingestAll(paths, opts, loadOne, false, onFile);
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

  private txn(c: pg.PoolClient): FileTxn {
    let seq = 0;
    let open = false;
    const buffers = new Map<string, Row[]>();
    const buffered = { n: 0 };
    const pageSql = postgresInsertSql(table("pages"));
    const errSql = postgresInsertSql(table("api_errors"));
    const ingestErrSql = postgresInsertSql(table("ingest_errors"));

    // rows go to the staging tables by COPY (text format): no SQL text or parameter list per row
    const flushTable = async (t: string, rows: Row[]) => {
      const cols = [...insertColumns(table(t)).map((x) => q(x.name)), '"_seq"'];
      const copy = c.query(copyFrom(`COPY ${q(`stage_${t}`)} (${cols.join(", ")}) FROM STDIN`));
      const chunks = function* () {
        let buf = "";
        for (const r of rows) {
          for (let i = 0; i < r.length; i++) buf += copyValue(r[i]!) + "\t";
          buf += `${++seq}\n`;
          if (buf.length >= 1 << 16) {
            yield buf;
            buf = "";
          }
        }
        if (buf.length > 0) yield buf;
      };
      await pipeline(Readable.from(chunks()), copy);
    };
    const flush = async () => {
      for (const t of MERGED_TABLES) {
        const rows = buffers.get(t);
        if (rows && rows.length) await flushTable(t, rows);
      }
      buffers.clear();
      buffered.n = 0;
    };
    const add = (t: string, rows: Row[]) => {
      if (rows.length === 0) return;
      let b = buffers.get(t);
      if (!b) buffers.set(t, (b = []));
      for (const r of rows) b.push(r);
      buffered.n += rows.length;
    };
    const merge = async (def: TableDef) => {
      const cols = insertColumns(def).map((x) => q(x.name));
      const pk = def.primaryKey.map(q).join(", ");
      const st = q(`stage_${def.name}`);
      const tail = conflictClause("postgres", def);
      if (def.kind === "ignore") {
        await c.query(`INSERT INTO ${q(def.name)} (${cols.join(", ")}) SELECT ${cols.join(", ")} FROM ${st} ORDER BY ${pk} ${tail}`);
        return;
      }
      const r = await c.query(`SELECT coalesce(max(n), 0) AS k FROM (SELECT count(*) AS n FROM ${st} GROUP BY ${pk}) x`);
      const k = Number(r.rows[0].k);
      for (let i = 1; i <= k; i++) {
        await c.query(
          `INSERT INTO ${q(def.name)} (${cols.join(", ")}) SELECT ${cols.join(", ")} FROM (SELECT *, row_number() OVER (PARTITION BY ${pk} ORDER BY "_seq") AS "_rn" FROM ${st}) s WHERE "_rn" = $1 ORDER BY ${pk} ${tail}`,
          [i],
        );
      }
    };

    return {
      claim: async (path, sha256, size, kind): Promise<ClaimResult> => {
        await c.query("BEGIN");
        open = true;
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
        await c.query({ name: "tidy_page", text: pageSql, values: p.page });
        for (const e of p.rows.api_errors) await c.query({ name: "tidy_api_error", text: errSql, values: e });
        for (const t of PAGE_TABLES) if (t !== "api_errors") add(t, p.rows[t]);
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
        for (const t of MERGED_TABLES) await merge(table(t));
        for (const col of ["url", "expanded_url"])
          await c.query(
            `UPDATE "urls" u SET "final_url" = r."final_url" FROM "stage_resolved_urls" r WHERE u.${q(col)} = r."url" AND u."final_url" IS NULL AND r."final_url" IS NOT NULL`,
          );
        await c.query(
          'UPDATE "source_files" SET "status" = $1, "lines" = $2, "pages" = $3, "data_tweets" = $4, "included_tweets" = $5, "users" = $6, "resolved_urls" = $7, "api_errors" = $8, "ingest_errors" = $9, "loaded_at" = now() WHERE "id" = $10',
          [status, st.lines, st.pages, st.dataTweets, st.includedTweets, st.users, st.resolvedUrls, st.apiErrors, st.ingestErrors, fileId],
        );
        await c.query("COMMIT");
        open = false;
      },
      rollback: async () => {
        if (open) await c.query("ROLLBACK");
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
