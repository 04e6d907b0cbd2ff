import Database from "better-sqlite3";
import { nativeModuleProblem } from "@ujr/core/task";
import { sqliteInsertSql } from "../ddl/sqlite.js";
import { TidyError } from "../errors.js";
import { bytesFromEnv, groupCommitBytes, ingestAll, ingestWith, single, type GroupCommit } from "../ingest.js";
import { NOTHING_LOADED, type LoadedBefore, type LoadedFile, type MtimeToRecord } from "../loaded-before.js";
import { loadedAsSql, loadedMembersSql } from "../ddl/loaded-content.js";
import { migrations } from "../migrations.js";
import { PAGE_TABLES, type PageTable, type ParsedPage, type Row } from "../parse-page.js";
import { SCHEMA_VERSION, table } from "../schema.js";
import { BackgroundCheckpointer } from "./checkpointer.js";
import { DEFERRABLE_INDEXES, DeferredIndexes } from "./deferred-indexes.js";
import { causeOf, diskFullDetail, makeDatabaseFolder, sqliteFailure } from "./sqlite-errors.js";
import type { ClaimResult, FileOutcome, FileStats, FileTxn, IngestOptions, IngestResult, TidyLogger, TidyStore } from "./types.js";

/** What a look-up in `source_files` reads of a loaded file (see LoadedBefore). */
const LOADED_COLUMNS = `SELECT "id", "path", "sha256", "size_bytes" AS "size", "mtime_us", ${NOTHING_LOADED} AS "nothing" FROM "source_files"`;
type LoadedRow = { id: number; path: string; sha256: string; size: number; mtime_us: number | null; nothing: number };

type Stmt = Database.Statement<unknown[]>;

/**
 * The page cache's default size (MiB). 64 measured no faster than 16 or 4, loading the bench's
 * 163 MB into a new database or merging it into one of 138 MB that held the same tweets, and
 * its pages stay with the process after the store closes (malloc keeps what SQLite frees):
 * a continuous job's idle task process 175 MB with 16 against 224 MB with 64, a load's peak
 * 182–201 MB against 234–256 MB (docs/performance.md).
 */
export const SQLITE_CACHE_MB = 16;

export interface SqliteStoreOptions {
  /** How long to wait for another writer (ms). Default 60 000. */
  busyTimeoutMs?: number;
  readonly?: boolean;
  /**
   * SQLite page cache in MiB (default SQLITE_CACHE_MB): bounded, independent of file size.
   * The pages it holds are also in the system's file cache, which serves a miss cheaply.
   */
  cacheMb?: number;
  /**
   * Batches of BACKGROUND_CHECKPOINT_BYTES or more: WAL checkpoints run in a thread of their
   * own, off the writing one (default true; false: SQLite's own checkpoints at commits).
   */
  checkpointInBackground?: boolean;
  /**
   * With checkpoints in the background: the writer starts the WAL over (a checkpoint of its
   * own) after committing this many MiB of raw files since it last did (default 256): the
   * WAL grows to about as much.
   */
  walLimitMb?: number;
  /**
   * The first load of a database (no file loaded before), a batch of DEFER_INDEXES_BYTES or
   * more, drops the secondary indexes of the tables it writes (DEFERRABLE_INDEXES) first and
   * builds them again at its end: less CPU than keeping them up to date row by row (default
   * true). Queries meanwhile run without them: correct, slower. Into a database that holds
   * rows already, building them again over every row cost more than it saved.
   */
  deferIndexes?: boolean;
}

/** Applies pending migrations (one transaction each). */
export function migrateSqlite(db: Database.Database): number {
  db.exec(
    'CREATE TABLE IF NOT EXISTS "schema_migrations" ("version" INTEGER NOT NULL, "name" TEXT NOT NULL, "applied_at" TEXT NOT NULL, PRIMARY KEY ("version"))',
  );
  const run = db.transaction(() => {
    const cur = (db.prepare('SELECT max("version") AS v FROM "schema_migrations"').get() as { v: number | null }).v ?? 0;
    if (cur > SCHEMA_VERSION) throw new TidyError("UJR_TIDY_SCHEMA_TOO_NEW", `schema version ${cur} > ${SCHEMA_VERSION}`);
    for (const m of migrations) {
      if (m.version <= cur) continue;
      for (const sql of m.sqlite()) db.exec(sql);
      db.prepare('INSERT INTO "schema_migrations" ("version", "name", "applied_at") VALUES (?, ?, ?)').run(
        m.version,
        m.name,
        new Date().toISOString(),
      );
    }
    return cur;
  });
  return run.immediate();
}

/**
 * Files of a batch share a commit until they hold this many bytes: a commit writes every
 * page its transaction touched, and the hot pages of the indexes are the same for every
 * small file (measured: ~8 ms a commit for a 0.5 MB file, ~0.3 ms a file when grouped).
 */
export const GROUP_COMMIT_BYTES = 32 << 20;

/**
 * A batch of at least this many bytes has its WAL checkpointed in the background (see
 * BackgroundCheckpointer): it would otherwise pass SQLite's automatic checkpoint size
 * (1000 pages of 16 KiB) and stop the writer for a checkpoint.
 * UJR_TIDY_BACKGROUND_CHECKPOINT_BYTES overrides it (0: every batch).
 */
export const BACKGROUND_CHECKPOINT_BYTES = 16 << 20;

/**
 * A database's first load of at least this many bytes runs without its secondary indexes
 * (see SqliteStoreOptions.deferIndexes). UJR_TIDY_DEFER_INDEXES_BYTES overrides it (0: every batch).
 */
export const DEFER_INDEXES_BYTES = 16 << 20;

export class SqliteTidyStore implements TidyStore {
  readonly backend = "sqlite" as const;
  readonly db: Database.Database;
  private readonly stmts: Record<PageTable, Stmt>;
  private readonly s: {
    findSha: Stmt;
    findMemberSha: Stmt;
    loadedAs: Stmt;
    member: Stmt;
    loadedAtPaths: Stmt;
    sizesLoaded: Stmt;
    loadedWithSha256: Stmt;
    recordMtime: Stmt;
    claim: Stmt;
    finish: Stmt;
    page: Stmt;
    sidecar: Stmt;
    ingestError: Stmt;
    fillByUrl: Stmt;
    fillByExpanded: Stmt;
  };
  private busy = false;
  private checkpointer: BackgroundCheckpointer | undefined;
  /** Raw bytes committed since the WAL was last started over (with the checkpointer). */
  private sinceWalRestart = 0;
  private readonly indexes: DeferredIndexes | undefined;
  /** Tables whose secondary indexes the running batch dropped and has not built again. */
  private readonly unindexed = new Set<string>();
  /** A checkpoint failed and was warned about (UJR_TIDY_CHECKPOINT): once per store, not per commit. */
  private checkpointWarned = false;

  /** How long a write waits for another connection's lock (SqliteStoreOptions.busyTimeoutMs). */
  private readonly busyTimeoutMs: number;

  constructor(
    private readonly file: string,
    private readonly opts: SqliteStoreOptions = {},
  ) {
    this.busyTimeoutMs = opts.busyTimeoutMs ?? 60_000;
    /** What could not be done, by its real cause (a full disk, a folder the user cannot write: see sqliteFailure). */
    const cannotOpen = (e: unknown): unknown => {
      const named = this.failure(e);
      return named !== e ? named : new TidyError("UJR_TIDY_DATABASE", `cannot open SQLite database ${file} (${(e as Error)?.message ?? String(e)})`, { cause: e });
    };
    // its folder, one plain mkdir per level (a recursive one spins for ever under /proc)
    if (file !== ":memory:" && !opts.readonly) makeDatabaseFolder(file, this.busyTimeoutMs);
    try {
      this.db = new Database(file, { readonly: opts.readonly ?? false });
    } catch (e) {
      const native = nativeModuleProblem(e);
      if (native !== undefined) throw new TidyError("UJR_TIDY_SQLITE_DRIVER", `cannot open SQLite database ${file}: ${native.reason}`, { cause: e });
      throw cannotOpen(e);
    }
    this.db.pragma(`busy_timeout = ${this.busyTimeoutMs}`);
    let tables: number;
    try {
      tables = (this.db.prepare("SELECT count(*) AS n FROM sqlite_master").get() as { n: number }).n;
    } catch (e) {
      this.db.close();
      if ((e as { code?: unknown })?.code === "SQLITE_NOTADB") {
        throw new TidyError("UJR_TIDY_DATABASE", `${file} is not a SQLite database (its first bytes are not SQLite's header): point \`database\` at a new file or at a tidy database`, { cause: e });
      }
      throw cannotOpen(e);
    }
    if (!opts.readonly) {
      try {
        // a new database gets 16 KiB pages (fewer b-tree splits for wide tweet rows); only possible before WAL and tables
        const fresh = tables === 0;
        if (fresh && this.db.pragma("journal_mode", { simple: true }) !== "wal") this.db.pragma("page_size = 16384");
        this.db.pragma("journal_mode = WAL");
        this.db.pragma("synchronous = NORMAL");
        this.db.pragma(`cache_size = -${(opts.cacheMb ?? SQLITE_CACHE_MB) * 1024}`);
        // a file's savepoint copies each page it changes first to the statement journal:
        // in memory, not a temp file written page by page (the small files' loads spent
        // ~0.5 s of the writing thread in those writes)
        this.db.pragma("temp_store = MEMORY");
        migrateSqlite(this.db);
        this.indexes = new DeferredIndexes(this.db);
        // a load that stopped before building its indexes again (a crash) left them out
        this.indexes.buildMissing();
      } catch (e) {
        this.db.close();
        throw this.failure(e);
      }
    }
    const p = (sql: string) => this.db.prepare(sql) as Stmt;
    const stmts = {} as Record<PageTable, Stmt>;
    for (const t of PAGE_TABLES) stmts[t] = p(sqliteInsertSql(table(t)));
    this.stmts = stmts;
    this.s = {
      findSha: p(`SELECT "id", "path", "status", ${NOTHING_LOADED} AS "nothing" FROM "source_files" WHERE "sha256" = ?`),
      // a file whose bytes were loaded as an archive's member (see archive_members)
      findMemberSha: p(`SELECT "id", "at" AS "path", 'loaded' AS "status", 0 AS "nothing" FROM (${loadedMembersSql("?")}) LIMIT 1`),
      // where an archive member's bytes were loaded before: as a file, or as a member
      loadedAs: p(loadedAsSql("@sha")),
      member: p(sqliteInsertSql(table("archive_members"))),
      // paths, sizes and hashes as one JSON array: any number of them in one statement, each
      // found by its index (see LoadedBefore)
      loadedAtPaths: p(`${LOADED_COLUMNS} WHERE "path" IN (SELECT "value" FROM json_each(?))`),
      sizesLoaded: p('SELECT DISTINCT "value" AS "size" FROM json_each(?) WHERE EXISTS (SELECT 1 FROM "source_files" WHERE "size_bytes" = "value")'),
      loadedWithSha256: p(`${LOADED_COLUMNS} WHERE "sha256" IN (SELECT "value" FROM json_each(?))`),
      recordMtime: p('UPDATE "source_files" SET "mtime_us" = ? WHERE "id" = ?'),
      claim: p(
        'INSERT INTO "source_files" ("path", "sha256", "size_bytes", "kind", "status", "loaded_at", "mtime_us") VALUES (?, ?, ?, ?, \'partial\', ?, ?)',
      ),
      finish: p(
        'UPDATE "source_files" SET "status" = ?, "lines" = ?, "pages" = ?, "data_tweets" = ?, "included_tweets" = ?, "users" = ?, "resolved_urls" = ?, "api_errors" = ?, "ingest_errors" = ?, "loaded_at" = ? WHERE "id" = ?',
      ),
      page: p(sqliteInsertSql(table("pages"))),
      sidecar: p(sqliteInsertSql(table("resolved_urls"))),
      ingestError: p(sqliteInsertSql(table("ingest_errors"))),
      fillByUrl: p('UPDATE "urls" SET "final_url" = ? WHERE "url" = ? AND "final_url" IS NULL'),
      fillByExpanded: p('UPDATE "urls" SET "final_url" = ? WHERE "expanded_url" = ? AND "final_url" IS NULL'),
    };
  }

  async ingestFile(path: string, opts?: IngestOptions): Promise<IngestResult> {
    return single(await this.ingestFiles([path], opts));
  }

  /** The look-ups of a batch's files in `source_files` (see unchangedSinceLoaded). */
  loadedBefore(): LoadedBefore {
    const rows = (stmt: Stmt, values: readonly (string | number)[]): LoadedFile[] =>
      (stmt.all(JSON.stringify(values)) as LoadedRow[]).map((r) => ({
        fileId: r.id,
        path: r.path,
        sha256: r.sha256,
        sizeBytes: r.size,
        mtimeUs: r.mtime_us,
        nothingLoaded: r.nothing === 1,
      }));
    return {
      atPaths: async (paths) => rows(this.s.loadedAtPaths, paths),
      sizesLoaded: async (sizes) => (this.s.sizesLoaded.all(JSON.stringify(sizes)) as { size: number }[]).map((r) => r.size),
      withSha256: async (sha256s) => rows(this.s.loadedWithSha256, sha256s),
    };
  }

  /** One of this store's failures by its real cause (see sqliteFailure). */
  private failure(e: unknown): unknown {
    return sqliteFailure(e, this.file, this.busyTimeoutMs);
  }

  async ingestFiles(paths: readonly string[], opts: IngestOptions = {}, onFile?: (o: FileOutcome) => void): Promise<FileOutcome[]> {
    if (this.busy) throw new Error("SqliteTidyStore: one load at a time per connection (open another store to load in parallel)");
    this.busy = true;
    try {
      const g = { open: false, bytes: 0 };
      const every = groupCommitBytes(GROUP_COMMIT_BYTES);
      const db = this.db;
      const group: GroupCommit = {
        begin: (bytes) => {
          try {
            this.checkpointInBackground(bytes);
            this.deferIndexes(bytes);
          } catch (e) {
            throw this.failure(e);
          }
        },
        due: () => g.bytes >= every,
        commit: async () => {
          const committed = g.open ? g.bytes : -1;
          if (g.open) db.exec("COMMIT");
          g.open = false;
          g.bytes = 0;
          if (committed >= 0) this.afterCommit(committed, opts.logger);
        },
        abort: async () => {
          if (g.open && db.inTransaction) db.exec("ROLLBACK");
          g.open = false;
          g.bytes = 0;
        },
      };
      const loadedBefore = this.loadedBefore();
      const recordMtimes = async (files: MtimeToRecord[]): Promise<void> =>
        db.transaction(() => {
          for (const f of files) this.s.recordMtime.run(f.mtimeUs, f.fileId);
        })();
      const knownIn = this.file === ":memory:" ? undefined : this.file;
      const failure = (e: unknown) => this.failure(e);
      return await ingestAll(paths, opts, (feed) => ingestWith(this.txn(g), feed, opts), { autoWorker: true, onFile, group, loadedBefore, recordMtimes, knownIn, failure });
    } finally {
      try {
        if (this.unindexed.size > 0) {
          const started = performance.now();
          const built = this.indexes!.buildMissing();
          opts.logger?.debug?.({ indexes: built, ms: Math.round(performance.now() - started) }, "tidy: secondary indexes built after the load");
        }
        this.unindexed.clear();
      } catch (e) {
        // the files are committed; the next store to open the database builds them
        const err = new TidyError("UJR_TIDY_INDEXES", this.file, { cause: e });
        opts.logger?.warn({ code: err.code, cause: (e as Error)?.message ?? String(e) }, err.message);
      }
      this.busy = false;
    }
  }

  /** One file's part of the group's transaction: a savepoint, so that the file is all or nothing. */
  private txn(g: { open: boolean; bytes: number }): FileTxn {
    const db = this.db;
    const s = this.s;
    const stmts = this.stmts;
    let open = false;
    let bytes = 0;
    return {
      claim: async (path, sha256, size, kind, mtimeUs): Promise<ClaimResult> => {
        if (!g.open) {
          // (a lock held past the busy timeout: named by the batch's `failure`)
          db.exec("BEGIN IMMEDIATE");
          g.open = true;
        }
        db.exec('SAVEPOINT "tidy_file"');
        open = true;
        bytes = size;
        const ex = (s.findSha.get(sha256) ?? s.findMemberSha.get(sha256)) as { id: number; path: string; status: string; nothing: number } | undefined;
        if (ex) return { fileId: ex.id, existing: { path: ex.path, status: ex.status, nothingLoaded: ex.nothing === 1 } };
        const r = s.claim.run(path, sha256, size, kind, new Date().toISOString(), mtimeUs);
        return { fileId: Number(r.lastInsertRowid) };
      },
      member: async (fileId, entry, sha256, size) => {
        const at = (s.loadedAs.get({ sha: sha256 }) as { at: string } | undefined)?.at;
        s.member.run(fileId, entry, sha256, size, at === undefined ? "loaded" : "skipped-duplicate", at ?? null);
        return at;
      },
      writePage(p: ParsedPage) {
        s.page.run(p.page);
        const rows = p.rows;
        for (let i = 0; i < PAGE_TABLES.length; i++) {
          const t = PAGE_TABLES[i]!;
          const rs = rows[t];
          if (rs.length === 0) continue;
          const st = stmts[t];
          // positional arguments: better-sqlite3 binds them without an element lookup per value
          for (let k = 0; k < rs.length; k++) st.run(...rs[k]!);
        }
      },
      writeSidecar: (row: Row) => {
        // the UPDATEs below find urls by url: their indexes first, if the batch dropped them
        // (once: asking the database for every row of a sidecar cost a query each; a sidecar
        // file rolled back takes that build with it, and the batch's end builds them)
        if (this.unindexed.has("urls")) {
          this.indexes!.buildMissing(["urls"]);
          this.unindexed.delete("urls");
        }
        s.sidecar.run(row);
        const final = row[2];
        if (final != null) {
          s.fillByUrl.run(final, row[0]);
          s.fillByExpanded.run(final, row[0]);
        }
      },
      writeIngestError(row: Row) {
        s.ingestError.run(row);
      },
      commit: async (fileId: number, status, st: FileStats) => {
        s.finish.run(
          status,
          st.lines,
          st.pages,
          st.dataTweets,
          st.includedTweets,
          st.users,
          st.resolvedUrls,
          st.apiErrors,
          st.ingestErrors,
          new Date().toISOString(),
          fileId,
        );
        db.exec('RELEASE "tidy_file"');
        open = false;
        g.bytes += bytes;
      },
      rollback: async () => {
        if (open && db.inTransaction) db.exec('ROLLBACK TO "tidy_file"; RELEASE "tidy_file"');
        open = false;
      },
    };
  }

  /** Starts checkpointing in the background for a batch of `bytes` (see SqliteStoreOptions.checkpointInBackground). */
  private checkpointInBackground(bytes: number): void {
    const o = this.opts;
    if (this.checkpointer || o.checkpointInBackground === false || o.readonly || this.file === ":memory:" || bytes < bytesFromEnv("UJR_TIDY_BACKGROUND_CHECKPOINT_BYTES", BACKGROUND_CHECKPOINT_BYTES)) return;
    this.checkpointer = BackgroundCheckpointer.start(this.file);
    if (this.checkpointer) this.db.pragma("wal_autocheckpoint = 0");
  }

  /** Drops the secondary indexes for a batch of `bytes`, the database's first load (see SqliteStoreOptions.deferIndexes). */
  private deferIndexes(bytes: number): void {
    if (!this.indexes || this.opts.deferIndexes === false || bytes < bytesFromEnv("UJR_TIDY_DEFER_INDEXES_BYTES", DEFER_INDEXES_BYTES)) return;
    if (this.db.prepare('SELECT 1 FROM "source_files" LIMIT 1').get() !== undefined) return;
    this.indexes.drop();
    for (const ix of DEFERRABLE_INDEXES) this.unindexed.add(ix.table);
  }

  /**
   * After a commit of `bytes` of raw files: a checkpoint in the background; or one here when
   * the WAL is past its bound, or when the checkpointer failed (SQLite's own from then on).
   * Never throws: the files are committed, and a checkpoint that fails (a full disk) leaves
   * their pages in the WAL, which SQLite reads with the database and the next checkpoint
   * copies; failing them would report loaded files as failed (UJR_TIDY_CHECKPOINT instead).
   */
  private afterCommit(bytes: number, logger: TidyLogger | undefined): void {
    const c = this.checkpointer;
    if (!c) return;
    try {
      if (c.failed) {
        this.checkpointer = undefined;
        if (c.error !== undefined) this.checkpointFailed(c.error, logger, "the thread checkpointing in the background failed (the writer checkpoints from now on)", true);
        this.db.pragma("wal_autocheckpoint = 1000");
        this.db.pragma("wal_checkpoint(PASSIVE)");
        return;
      }
      this.sinceWalRestart += bytes;
      if (this.sinceWalRestart < (this.opts.walLimitMb ?? 256) * 2 ** 20) {
        void c.request();
        return;
      }
      // what is left to copy (mostly this commit), without waiting for anyone, as SQLite's
      // automatic checkpoint does: once every frame is copied, the next write starts the
      // WAL over (a reader still on it, or a running checkpoint: tried again at the next commit)
      const [r] = this.db.pragma("wal_checkpoint(PASSIVE)") as { busy: number; log: number; checkpointed: number }[];
      if (r!.busy === 0 && r!.checkpointed === r!.log) this.sinceWalRestart = 0;
    } catch (e) {
      this.checkpointFailed(e, logger, "a checkpoint after a commit failed");
    }
  }

  /**
   * Warns once per store that a checkpoint failed (UJR_TIDY_CHECKPOINT), with its cause named
   * as a load's would be. The background thread's other failures only move its checkpoints to
   * the writer: said at debug level.
   */
  private checkpointFailed(e: unknown, logger: TidyLogger | undefined, what: string, background = false): void {
    if (this.checkpointWarned) return;
    const code = (this.failure(e) as { code?: unknown })?.code;
    const full = code === "UJR_TIDY_DISK_FULL";
    if (background && !full) {
      logger?.debug?.({ cause: causeOf(e) }, `tidy: ${what}`);
      return;
    }
    this.checkpointWarned = true;
    // the disk's state, not the whole of UJR_TIDY_DISK_FULL's advice: this one's says what matters here
    const why = full ? diskFullDetail(this.file, e) : `${this.file}: ${causeOf(e)}`;
    const err = new TidyError("UJR_TIDY_CHECKPOINT", `${what}: ${why}`, { cause: e });
    logger?.warn({ code: err.code, cause: typeof code === "string" ? code : undefined }, err.message);
  }

  async count(name: string, where?: string): Promise<number> {
    const r = this.db.prepare(`SELECT count(*) AS n FROM "${name.replace(/"/g, "")}"${where ? ` WHERE ${where}` : ""}`).get() as {
      n: number;
    };
    return r.n;
  }

  async query<T = Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<T[]> {
    return this.db.prepare(sql).all(...params) as T[];
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
    // closed last, the checkpointer's connection makes the final checkpoint and removes the WAL
    const c = this.checkpointer;
    this.checkpointer = undefined;
    await c?.close();
  }
}
