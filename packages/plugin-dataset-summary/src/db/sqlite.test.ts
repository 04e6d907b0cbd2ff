import { spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { mapSqliteError, openSqlite } from "./sqlite.js";

describe("a failed SQLite query, as the user reads it", () => {
  it("names a driver whose native module was never built, and the command that builds it", () => {
    // what the query thread posts when better-sqlite3's install script never ran
    const error = mapSqliteError(
      { ok: false, kind: "error", message: "Could not locate the bindings file. Tried:\n → /app/node_modules/better-sqlite3/build/better_sqlite3.node" },
      "top_hashtags",
    );
    expect(error).toMatchObject({ code: "UJR_SUMMARY_DB_OPEN" });
    expect(error.message).toContain("the database could not be opened: better-sqlite3's native module was never built");
    expect(error.message).toContain("npm rebuild better-sqlite3");
    expect(error.message).not.toContain("Tried:");
  });

  it("a WAL database whose folder cannot be written is said as that, not as a query that wrote", () => {
    // what SQLite answers a reader when it cannot create tidy.sqlite-wal and -shm
    const error = mapSqliteError({ ok: false, kind: "error", code: "SQLITE_READONLY_DIRECTORY", message: "attempt to write a readonly database" }, "(schema)", "/data/db/tidy.sqlite");
    expect(error.code).toBe("UJR_SUMMARY_DB_OPEN");
    expect(error.message).toBe(
      'SQLite database "/data/db/tidy.sqlite" cannot be read: it is in WAL mode, where SQLite needs its side files "tidy.sqlite-wal" and "tidy.sqlite-shm" in "/data/db" even to read, and the folder is not writable for this user (SQLITE_READONLY_DIRECTORY). ' +
        "Make that folder (and any -wal and -shm file in it) writable for the user that runs ujr; on a read-only disk, copy the database to a writable one. See https://www.sqlite.org/wal.html#readonly.",
    );
    const cantInit = mapSqliteError({ ok: false, kind: "error", code: "SQLITE_READONLY_CANTINIT", message: "attempt to write a readonly database" }, "q", "/d/t.sqlite");
    expect(cantInit).toMatchObject({ code: "UJR_SUMMARY_DB_OPEN", message: expect.stringContaining("its -shm file exists but is read-only for this user (SQLITE_READONLY_CANTINIT)") });
    const cantOpen = mapSqliteError({ ok: false, kind: "error", code: "SQLITE_CANTOPEN", message: "unable to open database file" }, "q", "/d/t.sqlite");
    expect(cantOpen).toMatchObject({ code: "UJR_SUMMARY_DB_OPEN", message: expect.stringContaining('and SQLite could not open them ("unable to open database file") (SQLITE_CANTOPEN)') });
  });

  it("keeps its other causes apart", () => {
    expect(mapSqliteError({ ok: false, kind: "readonly", message: "attempt to write a readonly database" }, "q")).toMatchObject({ code: "UJR_SUMMARY_READ_ONLY" });
    // INSERT ... RETURNING passes the reader check; SQLite refuses it on the read-only connection
    expect(mapSqliteError({ ok: false, kind: "error", code: "SQLITE_READONLY", message: "attempt to write a readonly database" }, "q")).toMatchObject({ code: "UJR_SUMMARY_READ_ONLY" });
    expect(mapSqliteError({ ok: false, kind: "error", code: "SQLITE_NOTADB", message: "file is not a database" }, "q")).toMatchObject({ code: "UJR_SUMMARY_DB_OPEN" });
    expect(mapSqliteError({ ok: false, kind: "error", message: "no such table: tweets" }, "q").message).toBe('query "q" failed: no such table: tweets');
  });
});

describe("the SQLite queries of a summary run", () => {
  const made: string[] = [];
  afterEach(() => {
    for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  function database(): string {
    const dir = mkdtempSync(join(tmpdir(), "ujr-summary-sqlite-"));
    made.push(dir);
    const file = join(dir, "t.sqlite");
    const db = new Database(file);
    db.exec("CREATE TABLE t (n INTEGER); INSERT INTO t VALUES (1), (2), (3);");
    db.close();
    return file;
  }

  /**
   * What reading the tables of `file` fails with (null: it works), as a user who may not
   * write the database's folder. Root may write any folder, so as root the reader runs in a
   * child process as uid 65534 (util-linux's setpriv), from the built module.
   */
  async function tablesAsOrdinaryUser(file: string): Promise<{ code?: string; message?: string } | null> {
    if (process.getuid?.() !== 0) {
      try {
        const ro = await openSqlite(file);
        try {
          await ro.tables();
        } finally {
          await ro.close();
        }
        return null;
      } catch (error) {
        return { code: (error as { code?: string }).code, message: (error as Error).message };
      }
    }
    const built = new URL("../../dist/db/sqlite.js", import.meta.url).href;
    const script = `const { openSqlite } = await import(${JSON.stringify(built)}); let out = null; try { const ro = await openSqlite(${JSON.stringify(file)}); try { await ro.tables(); } finally { await ro.close(); } } catch (e) { out = { code: e.code, message: e.message }; } console.log(JSON.stringify(out));`;
    const child = spawnSync("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", process.execPath, "--input-type=module", "-e", script], { encoding: "utf8" });
    if (child.error || child.status !== 0) throw new Error(`could not read as uid 65534 (is the summary built, and setpriv installed?): ${child.error?.message ?? child.stderr}`);
    return JSON.parse(child.stdout) as { code?: string; message?: string } | null;
  }

  it("a database that is not there, or that this user may not read, is said as which (UJR_SUMMARY_DB_OPEN)", async () => {
    const file = database();
    const absent = join(dirname(file), "tidy.sqlite");
    await expect(openSqlite(absent)).rejects.toMatchObject({
      code: "UJR_SUMMARY_DB_OPEN",
      message: `SQLite database "${absent}" does not exist: check the job's "database" setting (relative paths are resolved from the config file's folder).`,
    });
    chmodSync(dirname(file), 0o755); // the folder may be entered; the file may not be read
    chmodSync(file, 0o600);
    expect(await tablesAsOrdinaryUser(file)).toEqual({
      code: "UJR_SUMMARY_DB_OPEN",
      message: `SQLite database "${file}" cannot be read by this user (EACCES): make it readable for the user that runs ujr, or check the job's "database" setting.`,
    });
  });

  it("a WAL database in a folder this user cannot write fails with UJR_SUMMARY_DB_OPEN naming the folder", async () => {
    const file = database();
    const db = new Database(file);
    db.pragma("journal_mode = WAL");
    db.close(); // the last connection removes -wal and -shm: a reader would have to create them
    const folder = dirname(file);
    chmodSync(folder, 0o555);
    try {
      expect(await tablesAsOrdinaryUser(file)).toMatchObject({ code: "UJR_SUMMARY_DB_OPEN", message: expect.stringContaining(`in "${folder}" even to read, and the folder is not writable for this user (SQLITE_READONLY_DIRECTORY)`) });
    } finally {
      chmodSync(folder, 0o755);
    }
  });

  it("a query stuck inside SQLite past its timeout is stopped, and the next queries run", async () => {
    const db = await openSqlite(database());
    try {
      expect((await db.query("SELECT sum(n) AS s FROM t", {}, { queryName: "before", timeoutMs: 30_000, maxRows: 10 })).rows).toEqual([[6]]);
      // an endless count yields no row to check the deadline at: its thread is ended
      const stuck = db.query("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c", {}, { queryName: "endless", timeoutMs: 300, maxRows: 10 });
      await expect(stuck).rejects.toMatchObject({ code: "UJR_SUMMARY_QUERY_TIMEOUT" });
      expect((await db.query("SELECT count(*) AS c FROM t WHERE n > :min", { min: 1 }, { queryName: "after", timeoutMs: 30_000, maxRows: 10 })).rows).toEqual([[2]]);
      expect([...(await db.tables()).keys()]).toEqual(["t"]);
    } finally {
      await db.close();
    }
  });

  it("a wall clock that jumps forward during a query (a laptop waking from sleep, an NTP step) times no query out", async () => {
    const db = await openSqlite(database());
    const saved = process.env.NODE_OPTIONS;
    try {
      // the query process (started by the first query) sees its wall clock an hour ahead of ours
      process.env.NODE_OPTIONS = `${saved ?? ""} --import=data:text/javascript,const%20d=Date.now.bind(Date);Date.now=()=>d()%2B3600000;`.trim();
      const rows = db.query("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 20000) SELECT x FROM c", {}, { queryName: "rows", timeoutMs: 30_000, maxRows: 100_000 });
      if (saved === undefined) delete process.env.NODE_OPTIONS;
      else process.env.NODE_OPTIONS = saved;
      const result = await rows;
      expect(result.rows).toHaveLength(20_000);
      expect(result.rows.at(-1)).toEqual([20_000]);
    } finally {
      if (saved === undefined) delete process.env.NODE_OPTIONS;
      else process.env.NODE_OPTIONS = saved;
      await db.close();
    }
  });

  it("a query that yields rows past its timeout is still stopped, and the connection kept for the next query", async () => {
    const db = await openSqlite(database());
    try {
      const endless = db.query("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x FROM c", {}, { queryName: "endless rows", timeoutMs: 300, maxRows: 1e12 });
      await expect(endless).rejects.toMatchObject({ code: "UJR_SUMMARY_QUERY_TIMEOUT", message: expect.stringContaining('query "endless rows" ran longer than 300 ms and was stopped') });
      expect((await db.query("SELECT count(*) AS c FROM t", {}, { queryName: "after", timeoutMs: 30_000, maxRows: 10 })).rows).toEqual([[3]]);
    } finally {
      await db.close();
    }
  });

  it("nothing keeps running once a query stuck inside SQLite timed out, and an idle database does not hold the process", async () => {
    const file = database();
    const moduleUrl = new URL("../../dist/db/sqlite.js", import.meta.url).href;
    // an endless count (it yields no row where a deadline could be checked) times out; the
    // database is never closed: the process must still end on its own, nothing left computing
    const script = `
      const { openSqlite } = await import(${JSON.stringify(moduleUrl)});
      const db = await openSqlite(${JSON.stringify(file)});
      const endless = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c";
      const code = await db.query(endless, {}, { queryName: "endless", timeoutMs: 300, maxRows: 1 }).then(() => "finished", (e) => e.code);
      const r = await db.query("SELECT count(*) FROM t", {}, { queryName: "q", timeoutMs: 30000, maxRows: 1 });
      console.log(JSON.stringify([code, r.rows]));`;
    const child = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (chunk) => (out += chunk));
    const [code] = (await once(child, "exit")) as [number | null];
    expect({ code, out: out.trim() }).toEqual({ code: 0, out: JSON.stringify(["UJR_SUMMARY_QUERY_TIMEOUT", [[3]]]) });
  });
});
