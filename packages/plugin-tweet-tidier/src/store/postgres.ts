import { createRequire } from "node:module";
import type pg from "pg";
import type { from as CopyFrom } from "pg-copy-streams";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { conflictClause, q } from "../ddl/common.js";
import { postgresInsertSql } from "../ddl/postgres.js";
import { TidyError } from "../errors.js";
import { COPY_START, CopyText, copyLine, type CopyMark } from "./copy-text.js";
import { groupCommitBytes, ingestAll, ingestWith, single, type GroupCommit } from "../ingest.js";
import { NOTHING_LOADED, type LoadedBefore, type LoadedFile, type MtimeToRecord } from "../loaded-before.js";
import { loadedAsSql, loadedMembersSql } from "../ddl/loaded-content.js";
import { localFeed, type FileFeed } from "../parse-in-worker.js";
import { migrations } from "../migrations.js";
import { PAGE_TABLES, type ParsedPage, type Row } from "../parse-page.js";
import { SCHEMA_VERSION, insertColumns, table, type TableDef } from "../schema.js";
import type { ClaimResult, FileOutcome, FileStats, FileTxn, IngestOptions, IngestResult, TidyStore } from "./types.js";

// The driver loads with the first PostgreSQL store, not with the package: the runner imports
// the plugin's entry to list its jobs, and a SQLite run (or `ujr plugins`) would load pg for
// nothing (80 ms to import alone; ~25 ms of CPU in a whole `ujr run`).
const requireHere = createRequire(import.meta.url);
let driver: { pg: typeof pg; copyFrom: typeof CopyFrom } | undefined;
const pgDriver = () =>
  (driver ??= { pg: requireHere("pg") as typeof pg, copyFrom: (requireHere("pg-copy-streams") as { from: typeof CopyFrom }).from });

export interface PostgresStoreOptions {
  /** Schema (namespace) holding the tidy tables; default: `schema` query parameter of the URL, else `public`. */
  schema?: string;
  /** Pool size (files loaded in parallel). Default 4. */
  poolSize?: number;
  /** COPY text (characters) a loader buffers before sending it to the staging tables. Default 8 Mi. */
  flushChars?: number;
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
/** Buffer of an upsert table's later observations (2nd, 3rd, ... of a key within a group). */
const LATER = "#later";
/**
 * COPY text (characters) buffered in this process before it is copied to the tables: ~20,000
 * rows. Sent in smaller pieces, each table's COPY costs a round trip more often (buffering
 * 2,000 rows instead of 20,000 made a 163 MB load 1.1 s slower).
 */
const FLUSH_CHARS = 8 << 20;

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

/** A string as an SQL literal (for statements sent together, which take no parameters). */
const literal = (v: string): string => pgDriver().pg.escapeLiteral(v);
/** A count or id as SQL text; anything else is a bug, not something to send. */
function integer(v: number): string {
  if (!Number.isSafeInteger(v)) throw new TypeError(`not an integer: ${v}`);
  return String(v);
}

/** A connection string as an error message may show it: no password, no query parameters. */
function described(connectionString: string): string {
  try {
    const u = new URL(connectionString);
    return `${u.protocol}//${u.username ? `${decodeURIComponent(u.username)}@` : ""}${u.host}${u.pathname}`;
  } catch {
    return "the configured server";
  }
}

/**
 * The lock of a content (SHA-256) until the transaction ends: a file's claim and an archive
 * member's check take it, so that two loaders never both load the same bytes, one as a file
 * and one as a member (no unique index spans the two tables). A collision of the 32-bit
 * keys only makes a loader wait.
 */
const contentLock = (sha256: string): string => `SELECT pg_advisory_xact_lock(hashtext(${literal(`ujr-tidy-content:${sha256}`)}))`;

const isRetryable = (e: unknown) => {
  const c = (e as { code?: string }).code;
  return c === "40P01" || c === "40001";
};

/** The look-ups of a batch's files in `source_files` on a connection (see LoadedBefore), each by its index. */
export function pgLoadedBefore(client: Pick<pg.ClientBase, "query">): LoadedBefore {
  const columns = `SELECT "id", "path", "sha256", "size_bytes", "mtime_us", ${NOTHING_LOADED} AS "nothing" FROM "source_files"`;
  const rows = async (where: string, values: unknown): Promise<LoadedFile[]> =>
    (await client.query(`${columns} WHERE ${where}`, [values])).rows.map((r) => ({
      fileId: Number(r.id),
      path: r.path,
      sha256: r.sha256,
      sizeBytes: Number(r.size_bytes),
      mtimeUs: r.mtime_us === null ? null : Number(r.mtime_us),
      nothingLoaded: r.nothing === true,
    }));
  return {
    atPaths: (paths) => rows('"path" = ANY($1::text[])', paths),
    sizesLoaded: async (sizes) =>
      (await client.query('SELECT DISTINCT s AS "size" FROM unnest($1::bigint[]) AS s WHERE EXISTS (SELECT 1 FROM "source_files" WHERE "size_bytes" = s)', [sizes])).rows.map((r) => Number(r.size)),
    withSha256: (sha256s) => rows('"sha256" = ANY($1::text[])', sha256s),
  };
}

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
  private readonly flushChars: number;
  /** The server as messages name it: user, host, port and database, without the password. */
  private readonly where: string;

  constructor(url: string, opts: PostgresStoreOptions = {}) {
    const { connectionString, schema } = splitUrl(url);
    this.schema = opts.schema ?? schema ?? "public";
    this.where = described(connectionString);
    this.flushChars = opts.flushChars ?? FLUSH_CHARS;
    // idle connections do not keep the process alive (a worker keeps its store between tasks)
    this.pool = new (pgDriver().pg.Pool)({ connectionString, max: opts.poolSize ?? 4, allowExitOnIdle: true });
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
      // the server and the driver's reason (refused, no such database, authentication failed), never the password
      throw new TidyError(
        "UJR_TIDY_DATABASE",
        `cannot connect to PostgreSQL at ${this.where} (${(e as Error)?.message ?? String(e)}); check that the server is running and reachable from here, and the user, password and database name`,
        { cause: e },
      );
    }
  }

  async ingestFile(path: string, opts?: IngestOptions): Promise<IngestResult> {
    return single(await this.ingestFiles([path], opts));
  }

  /**
   * One connection for the batch. Files share a transaction until they hold
   * PG_GROUP_COMMIT_BYTES, and their rows are merged once for the group, at its commit:
   * a file costs one round trip (its savepoint and `source_files` row, with the last file's
   * counts and release: see PgGroup.finished). Each file is
   * still all or nothing (its savepoint; its rows not yet sent are dropped). A group whose
   * merge or commit fails (a deadlock, say) is rolled back as a whole: its files are
   * reported failed and the job tries them again.
   */
  async ingestFiles(paths: readonly string[], opts: IngestOptions = {}, onFile?: (o: FileOutcome) => void): Promise<FileOutcome[]> {
    await this.migrate();
    const client = await this.connect();
    const g = new PgGroup(client, this.flushChars);
    const every = groupCommitBytes(PG_GROUP_COMMIT_BYTES);
    const group: GroupCommit = { due: () => g.bytes >= every, commit: () => g.commit(), abort: () => g.abort() };
    try {
      await this.ensureStaging(client);
      const loadOne = async (feed: FileFeed): Promise<IngestResult> => {
        for (let attempt = 1; ; attempt++) {
          try {
            return await ingestWith(g.txn(), attempt === 1 ? feed : localFeed(feed.path), opts);
          } catch (e) {
            if (isRetryable(e) && attempt < 5) {
              opts.logger?.warn({ path: feed.path, attempt }, "tidy: transaction conflict, retrying the file");
              continue;
            }
            throw e;
          }
        }
      };
      const loadedBefore = pgLoadedBefore(client);
      const recordMtimes = async (files: MtimeToRecord[]): Promise<void> => {
        await client.query('UPDATE "source_files" s SET "mtime_us" = v.m FROM unnest($1::bigint[], $2::bigint[]) AS v(id, m) WHERE s."id" = v.id', [
          files.map((f) => f.fileId),
          files.map((f) => f.mtimeUs),
        ]);
      };
      return await ingestAll(paths, opts, loadOne, { autoWorker: false, onFile, group, loadedBefore, recordMtimes });
    } finally {
      client.release();
    }
  }

  private async ensureStaging(c: pg.PoolClient): Promise<void> {
    if (this.staged.has(c)) return;
    for (const t of MERGED_TABLES) {
      await c.query(`CREATE TEMP TABLE IF NOT EXISTS ${q(`stage_${t}`)} (LIKE ${q(t)}, "_seq" bigint) ON COMMIT DELETE ROWS`);
      if (UPSERT_KEYS.has(t))
        await c.query(`CREATE TEMP TABLE IF NOT EXISTS ${q(`stage_later_${t}`)} (LIKE ${q(t)}, "_rn" integer) ON COMMIT DELETE ROWS`);
    }
    this.staged.add(c);
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

/**
 * The open transaction of a batch's files on one connection: rows buffered here, sent by
 * COPY (log tables straight to their table, the others to staging tables), and merged into
 * the tables once for the group, at its commit.
 */
class PgGroup {
  open = false;
  bytes = 0;
  private seq = 0;
  /** COPY text waiting to be sent, by target (a table, or an upsert table's LATER buffer). */
  private readonly buffers = new Map<string, CopyText>();
  private buffered = 0;
  /** Staging tables holding rows of this group. */
  private readonly staged = new Set<string>();
  /** Upsert tables: how often each key occurs in the group (the merge needs that many rounds). */
  private readonly keyCounts = new Map<string, Map<string, number>>();
  private readonly rounds = new Map<string, number>();
  /**
   * The last loaded file's end (its `source_files` counts, its savepoint released), not sent
   * yet: it goes with the next file's claim or the group's commit, so that a file costs one
   * round trip, not four (two loaders on two cores waited 3.7–3.9 ms a file on them, 2.1
   * ms on the one; 1,000 one-page files through one loader: 2.3–2.8 ms a file against
   * 2.7–3.5 ms).
   */
  private finished = "";
  /** Files begun on this connection: each file's savepoint has a name of its own. */
  private files = 0;
  /** The current file: where each buffer stood at its start, and earlier files' rows sent during it. */
  private inFile = false;
  private readonly mark = new Map<string, CopyMark>();
  private readonly carried = new Map<string, CopyText>();
  private readonly ingestErrSql = postgresInsertSql(table("ingest_errors"));

  constructor(
    private readonly c: pg.PoolClient,
    private readonly flushChars: number,
  ) {}

  private buffer(t: string): CopyText {
    let b = this.buffers.get(t);
    if (!b) this.buffers.set(t, (b = new CopyText()));
    return b;
  }

  private push(t: string, line: string): void {
    this.buffer(t).append(line);
    this.buffered += line.length;
  }

  /**
   * Buffers rows as COPY text. An upsert table's first observation of a key in the group
   * goes to its staging table (with its sequence number); a later one (rare: a user of many
   * pages) to its "later" staging table with its round number, so that each merge round
   * reads only the rows it merges.
   */
  private add(t: string, rows: Row[]): void {
    if (rows.length === 0) return;
    if (DIRECT_TABLES.has(t)) {
      for (const r of rows) this.push(t, copyLine(r));
      return;
    }
    const keyCols = UPSERT_KEYS.get(t);
    if (!keyCols) {
      for (const r of rows) this.push(t, copyLine(r, ++this.seq));
      return;
    }
    let m = this.keyCounts.get(t);
    if (!m) this.keyCounts.set(t, (m = new Map()));
    for (const r of rows) {
      const k = keyCols.length === 1 ? String(r[keyCols[0]!]) : keyCols.map((i) => r[i]).join("\u0000");
      const n = (m.get(k) ?? 0) + 1;
      m.set(k, n);
      if (n === 1) this.push(t, copyLine(r, ++this.seq));
      else {
        this.push(t + LATER, copyLine(r, n));
        if (n > (this.rounds.get(t) ?? 1)) this.rounds.set(t, n);
      }
    }
  }

  /** Sends the buffered rows. Earlier files' rows sent inside the current file's savepoint are kept, to send again should it roll back. */
  private async flush(): Promise<void> {
    for (const [t, buf] of this.buffers) {
      if (buf.rows === 0) continue;
      const m = this.inFile ? (this.mark.get(t) ?? COPY_START) : COPY_START;
      if (m.rows > 0) {
        let c = this.carried.get(t);
        if (!c) this.carried.set(t, (c = new CopyText()));
        c.appendChunks(buf.before(m), m.rows, m.chars);
      }
      this.mark.set(t, COPY_START);
      await this.copy(t, buf.take().text);
    }
    this.buffered = 0;
  }

  // COPY in text format: no SQL text or parameter list per row
  private async copy(t: string, text: Buffer[]): Promise<void> {
    const later = t.endsWith(LATER);
    const base = later ? t.slice(0, -LATER.length) : t;
    const direct = DIRECT_TABLES.has(t);
    const cols = insertColumns(table(base)).map((x) => q(x.name));
    // log tables: straight into the table; a later observation carries its round (last value)
    const target = direct ? t : later ? `stage_later_${base}` : `stage_${t}`;
    if (later) cols.push('"_rn"');
    else if (!direct) cols.push('"_seq"');
    const copy = this.c.query(pgDriver().copyFrom(`COPY ${q(target)} (${cols.join(", ")}) FROM STDIN`));
    await pipeline(Readable.from(text), copy);
    if (!direct) this.staged.add(t);
  }

  private async merge(def: TableDef): Promise<void> {
    const cols = insertColumns(def).map((x) => q(x.name)).join(", ");
    const pk = def.primaryKey.map(q).join(", ");
    const into = `INSERT INTO ${q(def.name)} (${cols}) SELECT ${cols}`;
    const tail = conflictClause("postgres", def);
    // one statement may not update a row twice: first observations, then the later ones
    // round by round, in the order observed; ignore tables: the first observation wins
    if (this.staged.has(def.name)) await this.c.query(`${into} FROM ${q(`stage_${def.name}`)} ORDER BY ${pk}, "_seq" ${tail}`);
    if (!this.staged.has(def.name + LATER)) return;
    const rounds = this.rounds.get(def.name) ?? 1;
    for (let i = 2; i <= rounds; i++)
      await this.c.query(`${into} FROM ${q(`stage_later_${def.name}`)} WHERE "_rn" = $1 ORDER BY ${pk} ${tail}`, [i]);
  }

  private reset(): void {
    this.open = false;
    this.bytes = 0;
    this.finished = "";
    this.buffers.clear();
    this.buffered = 0;
    this.staged.clear();
    this.keyCounts.clear();
    this.rounds.clear();
    this.inFile = false;
    this.mark.clear();
    this.carried.clear();
  }

  /** Merges the group's rows (a fixed table order, each sorted by key: concurrent loaders lock rows in the same order) and commits. */
  async commit(): Promise<void> {
    if (!this.open) return;
    await this.flush();
    for (const t of MERGED_TABLES) if (this.staged.has(t) || this.staged.has(t + LATER)) await this.merge(table(t));
    if (this.staged.has("resolved_urls") || this.staged.has("resolved_urls" + LATER))
      for (const col of ["url", "expanded_url"])
        await this.c.query(
          `UPDATE "urls" u SET "final_url" = r."final_url" FROM (SELECT "url", "final_url" FROM "stage_resolved_urls" UNION ALL SELECT "url", "final_url" FROM "stage_later_resolved_urls") r WHERE u.${q(col)} = r."url" AND u."final_url" IS NULL AND r."final_url" IS NOT NULL`,
        );
    // the staging tables empty themselves (ON COMMIT DELETE ROWS)
    await this.c.query(`${this.finished}COMMIT`);
    this.reset();
  }

  async abort(): Promise<void> {
    if (this.open) await this.c.query("ROLLBACK");
    this.reset();
  }

  /** One file's part of the group: a savepoint, its source_files row, its rows buffered. */
  txn(): FileTxn {
    const c = this.c;
    const savepoint = `"tidy_file_${++this.files}"`;
    let open = false;
    let bytes = 0;
    return {
      claim: async (path, sha256, size, kind, mtimeUs): Promise<ClaimResult> => {
        // one round trip: the transaction's start or the last file's end, this file's
        // savepoint and its source_files row (values as literals: several statements in one
        // query take no parameters)
        const begin = this.open ? this.finished : "BEGIN; ";
        this.open = true;
        this.finished = "";
        bytes = size;
        this.inFile = true;
        this.mark.clear();
        for (const [t, buf] of this.buffers) this.mark.set(t, buf.mark());
        this.carried.clear();
        let results: unknown;
        try {
          // the content's lock (contentLock): a loader with an archive member of these bytes
          // waits for this file's group to end, or this claim for that member's
          results = await c.query(
            `${begin}SAVEPOINT ${savepoint}; ${contentLock(sha256)}; INSERT INTO "source_files" ("path", "sha256", "size_bytes", "kind", "status", "loaded_at", "mtime_us") SELECT ${literal(path)}, ${literal(sha256)}, ${integer(size)}, ${literal(kind)}, 'partial', now(), ${mtimeUs === null ? "NULL" : integer(mtimeUs)} WHERE NOT EXISTS (${loadedMembersSql(literal(sha256))}) ON CONFLICT ("sha256") DO NOTHING RETURNING "id"`,
          );
        } catch (e) {
          // failed after its savepoint (the row: a conflict with another loader, say): the file
          // rolls back to it and may be tried again; failed before it, the group's
          // transaction has failed and its commit will say so (savepoints are named per file,
          // so that this never rolls back the last file's)
          open = await c.query(`ROLLBACK TO SAVEPOINT ${savepoint}`).then(
            () => true,
            () => false,
          );
          throw e;
        }
        open = true;
        const r = (Array.isArray(results) ? results.at(-1) : results) as pg.QueryResult;
        if (r.rows.length === 1) return { fileId: Number(r.rows[0].id) };
        const ex = await c.query(
          `SELECT "id", "path", "status", ${NOTHING_LOADED} AS "nothing" FROM "source_files" WHERE "sha256" = $1 UNION ALL SELECT "id", "at", 'loaded', false FROM (${loadedMembersSql("$1")}) AS "members" LIMIT 1`,
          [sha256],
        );
        const row = ex.rows[0];
        return { fileId: Number(row.id), existing: { path: row.path, status: row.status, nothingLoaded: row.nothing === true } };
      },
      writePage: async (p: ParsedPage) => {
        this.add("pages", [p.page]);
        for (const t of PAGE_TABLES) this.add(t, p.rows[t]);
        if (this.buffered >= this.flushChars) await this.flush();
      },
      writeSidecar: async (row: Row) => {
        this.add("resolved_urls", [row]);
        if (this.buffered >= this.flushChars) await this.flush();
      },
      member: async (fileId, entry, sha256, size) => {
        // one round trip: the content's lock, then where these bytes were loaded before (as a
        // file, or as another member) and the member's row saying so
        const sha = literal(sha256);
        const results = await c.query(
          `${contentLock(sha256)}; WITH "prior" AS (${loadedAsSql(sha)}) INSERT INTO "archive_members" ("source_file_id", "entry", "sha256", "size_bytes", "status", "loaded_as") SELECT ${integer(fileId)}, ${literal(entry)}, ${sha}, ${integer(size)}, CASE WHEN p."at" IS NULL THEN 'loaded' ELSE 'skipped-duplicate' END, p."at" FROM (SELECT 1) AS one LEFT JOIN "prior" p ON true RETURNING "loaded_as"`,
        );
        const r = (Array.isArray(results) ? results.at(-1) : results) as pg.QueryResult;
        return (r.rows[0]?.loaded_as as string | null | undefined) ?? undefined;
      },
      writeIngestError: async (row: Row) => {
        await c.query({ name: "tidy_ingest_error", text: this.ingestErrSql, values: row });
      },
      commit: async (fileId, status, st: FileStats) => {
        // sent with the next file's claim or the group's commit; the file is reported loaded
        // only once the group is committed
        const n = integer;
        this.finished = `UPDATE "source_files" SET "status" = ${literal(status)}, "lines" = ${n(st.lines)}, "pages" = ${n(st.pages)}, "data_tweets" = ${n(st.dataTweets)}, "included_tweets" = ${n(st.includedTweets)}, "users" = ${n(st.users)}, "resolved_urls" = ${n(st.resolvedUrls)}, "api_errors" = ${n(st.apiErrors)}, "ingest_errors" = ${n(st.ingestErrors)}, "loaded_at" = now() WHERE "id" = ${n(fileId)}; RELEASE SAVEPOINT ${savepoint}; `;
        open = false;
        this.inFile = false;
        this.carried.clear();
        this.bytes += bytes;
      },
      rollback: async () => {
        if (!open) return;
        open = false;
        this.inFile = false;
        // drop the file's rows not sent yet; what was sent inside its savepoint is rolled
        // back, so earlier files' rows sent during it are buffered again
        for (const [t, buf] of this.buffers) buf.cutTo(this.mark.get(t) ?? COPY_START);
        for (const [t, text] of this.carried) this.buffer(t).prepend(text);
        this.buffered = [...this.buffers.values()].reduce((a, b) => a + b.chars, 0);
        this.carried.clear();
        await c.query(`ROLLBACK TO SAVEPOINT ${savepoint}; RELEASE SAVEPOINT ${savepoint}`);
      },
    };
  }
}
