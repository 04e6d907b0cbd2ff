// The SQLite store's failures named by their real cause: a full disk, a database its user
// cannot write, a checkpoint that fails after a commit.
import Database from "better-sqlite3";
import { execFile } from "node:child_process";
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, readFileSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { toTaskFailure } from "@ujr/core/task";
import { capturingLogger } from "@ujr/core/testing";
import { afterAll, describe, expect, it } from "vitest";
import { fixture, tempDir, withIds } from "../__fixtures__/helpers.js";
import { TIDY_ERRORS } from "../errors.js";
import { SqliteTidyStore } from "./sqlite.js";
import { DISK_FULL_BELOW_BYTES, diskFullDetail, sqliteFailure } from "./sqlite-errors.js";

const run = promisify(execFile);
const tmp = tempDir();
// children of another user must reach the databases below it
chmodSync(tmp.dir, 0o755);
afterAll(() => tmp.cleanup());

/** `text` matched literally in a RegExp. */
const lit = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** A raw file of the fixture's pages with ids made distinct by `prefix` (content of its own). */
function raw(dir: string, name: string, prefix: number, fixtures = ["two_tweets.jsonl"]): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, name);
  writeFileSync(path, withIds(prefix, fixtures.map((f) => readFileSync(fixture(f), "utf8")).join("")));
  return path;
}

describe("SQLite: a full disk", () => {
  it("stops the batch at the first file, names the database, the disk and what to do, without a stack; the next try loads every file", async () => {
    const dir = join(tmp.dir, "full");
    const file = join(dir, "tidy.sqlite");
    const [first, ...rest] = [1, 2, 3, 4].map((k) => raw(join(dir, "raw"), `${k}.jsonl`, k, ["two_tweets.jsonl", "brexit.jsonl"]));
    const store = new SqliteTidyStore(file);
    try {
      expect(await store.ingestFile(first!)).toMatchObject({ status: "loaded" });
      // no page more than the database has: its next page fails as a full disk does (SQLITE_FULL)
      store.db.pragma(`max_page_count = ${store.db.pragma("page_count", { simple: true }) as number}`);
      const { logger, logs } = capturingLogger("info");
      const outcomes = await store.ingestFiles(rest, { logger });

      // the first file failed; the two after it were not tried (they would fail the same way)
      expect(outcomes.map((o) => o.path)).toEqual([rest[0]]);
      const err = outcomes[0]!.error as { code: string; message: string; retryable?: boolean; stack?: string };
      expect(err.code).toBe("UJR_TIDY_DISK_FULL");
      expect(err.message).toMatch(new RegExp(`^${lit(file)}: SQLite found no room to write \\(SQLITE_FULL: database or disk is full\\), though [0-9.]+ [MG]B are free on the filesystem of ${lit(dir)} now: `));
      expect(err.message).toContain("or of the database (max_page_count); the database takes ");
      expect(err.message).toContain(`: ${TIDY_ERRORS.UJR_TIDY_DISK_FULL}`);
      expect(TIDY_ERRORS.UJR_TIDY_DISK_FULL).toContain("the files loaded so far are kept, and the next try goes on from where this one stopped. Free space on that disk, or move the database");
      // the user's environment, not a bug: no stack for the runner to log, and not retried at once
      expect(err.retryable).toBe(false);
      expect(err.stack).toBeUndefined();
      expect(toTaskFailure(err)).toEqual({ name: "TidyError", code: "UJR_TIDY_DISK_FULL", message: err.message, retryable: false });
      expect(logs.filter((l) => l.level === 40).map((l) => [l.msg, l.code, l.notTried])).toEqual([
        [`tidy: the batch stopped at ${rest[0]} (UJR_TIDY_DISK_FULL): 2 other file(s) of it were not loaded, as they would fail the same way; the next try loads them`, "UJR_TIDY_DISK_FULL", 2],
      ]);
      // nothing of the failed file was written
      expect(await store.count("source_files")).toBe(1);

      // room again: the next try loads them all, the first one is not loaded twice
      store.db.pragma("max_page_count = 4294967294");
      const again = await store.ingestFiles([first!, ...rest]);
      expect(again.map((o) => o.result?.status)).toEqual(["already-loaded", "loaded", "loaded", "loaded"]);
      expect(await store.count("source_files", "status = 'loaded'")).toBe(4);
    } finally {
      await store.close();
    }
  });

  it("says the disk is full, how much is free and what the database and its WAL take, when there is no room", () => {
    const file = join(tmp.dir, "detail", "tidy.sqlite");
    mkdirSync(join(tmp.dir, "detail"));
    // sizes, not bytes written (sparse files)
    for (const [path, bytes] of [[file, 2_500_000], [`${file}-wal`, 31_000_000]] as const) {
      writeFileSync(path, "");
      truncateSync(path, bytes);
    }
    const cause = Object.assign(new Error("database or disk is full"), { code: "SQLITE_FULL" });
    expect(diskFullDetail(file, cause, 12_288)).toBe(
      `${file}: the disk is full (SQLITE_FULL: database or disk is full; 12 KB free on the filesystem of ${join(tmp.dir, "detail")}, where the database takes 2.4 MB and its WAL 30 MB)`,
    );
  });

  it("names ENOSPC (creating its folder) a full disk; an I/O error with room on the disk stays what it is", () => {
    const file = join(tmp.dir, "enospc", "tidy.sqlite");
    const enospc = Object.assign(new Error("ENOSPC: no space left on device, mkdir '/x'"), { code: "ENOSPC" });
    expect(sqliteFailure(enospc, file, 60_000)).toMatchObject({ code: "UJR_TIDY_DISK_FULL", retryable: false });
    // plenty of room where the tests run: an I/O error is not taken for a full disk
    const ioerr = Object.assign(new Error("disk I/O error"), { code: "SQLITE_IOERR_WRITE" });
    expect(sqliteFailure(ioerr, join(tmp.dir, "tidy.sqlite"), 60_000)).toBe(ioerr);
    expect(DISK_FULL_BELOW_BYTES).toBe(4 << 20);
  });
});

describe("SQLite: a database opened read-only", () => {
  it("a write says the database cannot be written (SQLITE_READONLY), with what to do, not that it cannot be read", async () => {
    const file = join(tmp.dir, "readonly", "tidy.sqlite");
    const input = raw(join(tmp.dir, "readonly"), "1.jsonl", 11);
    const rw = new SqliteTidyStore(file);
    await rw.close();
    const ro = new SqliteTidyStore(file, { readonly: true });
    try {
      const err = await ro.ingestFile(input).then(
        () => expect.unreachable("a read-only connection cannot load"),
        (e: unknown) => e as { code: string; message: string; retryable?: boolean; stack?: string },
      );
      // (as root, every file is writable: what is left is SQLite's own read-only connection)
      expect(err).toMatchObject({ code: "UJR_TIDY_DATABASE_READ_ONLY", retryable: false });
      expect(err.message).toBe(`cannot write SQLite database ${file} (SQLITE_READONLY: attempt to write a readonly database): ${TIDY_ERRORS.UJR_TIDY_DATABASE_READ_ONLY}`);
      expect(err.message).not.toContain("cannot read");
      expect(err.message).not.toContain("server");
      expect(err.stack).toBeUndefined();
    } finally {
      await ro.close();
    }
  });
});

// The children run the compiled store (dist/), as the runner's workers do.
const built = existsSync(fileURLToPath(new URL("../../dist/store/sqlite-errors.js", import.meta.url)));
if (!built) console.warn("the tidier is not built: skipping the store's tests in child processes (run `pnpm build`; under CI=true they run and fail).");
const CHILD = fileURLToPath(new URL("../__fixtures__/store-child.mjs", import.meta.url));
const onPath = (cmd: string) => (process.env.PATH ?? "").split(":").some((d) => d !== "" && existsSync(join(d, cmd)));

interface ChildError {
  code: string;
  message: string;
  retryable?: boolean;
  stack: string;
}
interface StepResult {
  thrown?: ChildError;
  outcomes?: { path: string; status?: string; error?: ChildError }[];
  logs: { code?: string; cause?: string; msg: string }[];
}

/** Runs the store's steps in a child process (`prefix`: what runs it, e.g. as another user). */
async function child(prefix: string[], steps: object[], env: Record<string, string> = {}): Promise<StepResult[]> {
  const [cmd, ...args] = [...prefix, process.execPath, CHILD, JSON.stringify({ steps })];
  const { stdout } = await run(cmd!, args, { env: { ...process.env, ...env } });
  return JSON.parse(stdout) as StepResult[];
}

// Root may write anything: the check runs as uid 65534 (nobody), which owns nothing here.
// Another user than root runs it as itself (folders made read-only for their owner too).
const root = process.getuid?.() === 0;
const asUser = root ? ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] : [];
const childUid = root ? 65534 : process.getuid?.();
const giveToChild = (path: string) => {
  if (root) chownSync(path, 65534, 65534);
};

describe.skipIf((!built || (root && !onPath("setpriv"))) && process.env.CI !== "true")("SQLite: a database its user cannot write", () => {
  it("names the folder or file that is not writable, by whom, and that SQLite needs its -wal and -shm beside it; no stack, not retryable", async () => {
    const base = join(tmp.dir, "perm");
    mkdirSync(base, { recursive: true });
    const input = raw(join(base, "raw"), "1.jsonl", 21);
    // a tidy database (WAL mode, closed: no -wal or -shm) in a folder its user cannot write, as in the trial
    const lockedDir = join(base, "locked");
    const inLocked = join(lockedDir, "tidy.sqlite");
    const s = new SqliteTidyStore(inLocked);
    await s.ingestFile(input);
    await s.close();
    giveToChild(inLocked);
    chmodSync(lockedDir, 0o555);
    // a file its user cannot write, in a folder it can
    const openDir = join(base, "open");
    const readOnlyFile = join(openDir, "tidy.sqlite");
    await new SqliteTidyStore(readOnlyFile).close();
    chmodSync(openDir, 0o777);
    chmodSync(readOnlyFile, 0o444);

    let results: StepResult[];
    try {
      results = await child(asUser, [
        { database: inLocked, files: [input] },
        { database: join(lockedDir, "new.sqlite"), files: [input] },
        { database: join(lockedDir, "sub", "tidy.sqlite"), files: [input] },
        { database: readOnlyFile, files: [input] },
      ]);
    } finally {
      // (the folders' owner can clean them up again)
      chmodSync(lockedDir, 0o755);
    }
    const who = ` (uid ${childUid}), the user the runner runs as`;
    // the open fails where SQLite must create files; a file it can open read-only fails at the first write (the file's claim)
    const [existing, fresh, nested] = results.slice(0, 3).map((r) => r.thrown!);
    expect(results[3]!.outcomes).toMatchObject([{ path: input }]);
    const file = results[3]!.outcomes![0]!.error;
    for (const e of [existing, fresh, nested, file]) {
      expect(e).toMatchObject({ code: "UJR_TIDY_DATABASE_READ_ONLY", retryable: false, stack: "undefined" });
      expect(e!.message).toContain(who);
      expect(e!.message).toContain(`: ${TIDY_ERRORS.UJR_TIDY_DATABASE_READ_ONLY}`);
      expect(e!.message).not.toContain("cannot read");
      expect(e!.message).not.toContain("server");
    }
    const user = ".* \\(uid \\d+\\), the user the runner runs as";
    expect(existing!.message).toMatch(
      new RegExp(
        `^${lit(`cannot write SQLite database ${inLocked}: its folder ${lockedDir} is not writable by `)}${user}${lit(" (SQLite creates tidy.sqlite-wal and tidy.sqlite-shm there) (SQLITE_READONLY_DIRECTORY: attempt to write a readonly database): ")}`,
      ),
    );
    expect(fresh!.message).toMatch(
      new RegExp(`^${lit(`cannot write SQLite database ${join(lockedDir, "new.sqlite")}: its folder ${lockedDir} is not writable by `)}${user}${lit(" (SQLite creates new.sqlite-wal and new.sqlite-shm there) (SQLITE_CANTOPEN: unable to open database file): ")}`),
    );
    expect(nested!.message).toMatch(
      new RegExp(`^${lit(`cannot write SQLite database ${join(lockedDir, "sub", "tidy.sqlite")}: its folder ${join(lockedDir, "sub")} cannot be created: ${lockedDir} is not writable by `)}${user}${lit(" (EACCES: permission denied, mkdir ")}`),
    );
    expect(file!.message).toMatch(new RegExp(`^${lit(`cannot write SQLite database ${readOnlyFile}: ${readOnlyFile} is not writable by `)}${user}${lit(" (SQLITE_READONLY: attempt to write a readonly database): ")}`));
    // nothing was changed: the loaded file is still the only one
    const db = new Database(inLocked, { readonly: true });
    try {
      expect(db.prepare("SELECT count(*) AS n FROM source_files").get()).toEqual({ n: 1 });
    } finally {
      db.close();
    }
  });

  it("a tidy job whose database cannot be written is not made: said before any task (ujr validate, the start of ujr run)", async () => {
    const lockedDir = join(tmp.dir, "perm-job", "locked");
    mkdirSync(lockedDir, { recursive: true });
    chmodSync(lockedDir, 0o555);
    const ownDir = join(tmp.dir, "perm-job", "own");
    mkdirSync(ownDir);
    giveToChild(ownDir);
    let results: StepResult[];
    try {
      results = await child(asUser, [
        { createJob: true, database: join(lockedDir, "tidy.sqlite") },
        { createJob: true, database: join(ownDir, "sub", "deeper", "tidy.sqlite") },
        { createJob: true, database: join(lockedDir, "sub", "tidy.sqlite") },
      ]);
    } finally {
      chmodSync(lockedDir, 0o755);
    }
    expect(results[0]!.thrown).toMatchObject({ code: "UJR_TIDY_DATABASE_READ_ONLY", retryable: false, stack: "undefined" });
    expect(results[0]!.thrown!.message).toMatch(
      new RegExp(`^${lit(`cannot write SQLite database ${join(lockedDir, "tidy.sqlite")}: its folder ${lockedDir} is not writable by `)}.* \\(uid \\d+\\), the user the runner runs as`),
    );
    // a folder the job may create is fine (made when the first batch opens the store); the
    // check makes it and removes it again: \`ujr validate\` leaves nothing behind
    expect(results[1]).toMatchObject({ created: true });
    expect(existsSync(join(ownDir, "sub"))).toBe(false);
    // a folder it may not create: said by the mkdir that was refused
    expect(results[2]!.thrown).toMatchObject({ code: "UJR_TIDY_DATABASE_READ_ONLY", retryable: false, stack: "undefined" });
    expect(results[2]!.thrown!.message).toMatch(
      new RegExp(`^${lit(`cannot write SQLite database ${join(lockedDir, "sub", "tidy.sqlite")}: its folder ${join(lockedDir, "sub")} cannot be created: ${lockedDir} is not writable by `)}.* \\(uid \\d+\\), the user the runner runs as ${lit("(EACCES: permission denied, mkdir ")}`),
    );
  });
});

describe.skipIf((!built || !onPath("prlimit")) && process.env.CI !== "true")("SQLite: a checkpoint that fails after the commit", () => {
  it("is a warning (UJR_TIDY_CHECKPOINT): the committed file is loaded, its rows are in the WAL, and the next open has them", async () => {
    const dir = join(tmp.dir, "checkpoint");
    const [first, second] = [1, 2].map((k) => raw(join(dir, "raw"), `${k}.jsonl`, k + 30, ["brexit.jsonl", "withheld.jsonl", "timeline-observatoryteam.jsonl"]));
    // a database holding the first file; the second file's commit must fit under a size limit
    // that the database, once the WAL is copied into it, does not: the checkpoint then fails
    const before = join(dir, "before.sqlite");
    let s = new SqliteTidyStore(before);
    await s.ingestFile(first!);
    await s.close();
    const reference = join(dir, "reference.sqlite");
    copyFileSync(before, reference);
    s = new SqliteTidyStore(reference, { checkpointInBackground: false });
    await s.ingestFile(second!);
    const wal = statSync(`${reference}-wal`).size;
    const tweets = await s.count("tweets");
    await s.close();
    const grown = statSync(reference).size;
    const limit = Math.ceil((Math.max(wal, statSync(before).size) + grown) / 2);
    expect(wal).toBeLessThan(limit);
    expect(grown).toBeGreaterThan(limit);

    const file = join(dir, "tidy.sqlite");
    copyFileSync(before, file);
    // the writer checkpoints after every commit (walLimitMb 0), with a checkpointer (every batch has one)
    const [r] = await child(["prlimit", `--fsize=${limit}`], [{ database: file, files: [second], opts: { walLimitMb: 0 } }], { UJR_TIDY_BACKGROUND_CHECKPOINT_BYTES: "0" });
    expect(r!.outcomes).toEqual([{ path: second, status: "loaded" }]);
    expect(r!.logs).toEqual([
      {
        code: "UJR_TIDY_CHECKPOINT",
        cause: "SQLITE_IOERR_WRITE",
        msg: `a checkpoint after a commit failed: ${file}: SQLITE_IOERR_WRITE: disk I/O error: ${TIDY_ERRORS.UJR_TIDY_CHECKPOINT}`,
      },
    ]);
    // the close could not copy the WAL either: the rows are there, in the WAL
    expect(statSync(`${file}-wal`).size).toBeGreaterThan(0);
    s = new SqliteTidyStore(file);
    try {
      expect(await s.count("tweets")).toBe(tweets);
      expect(await s.query("SELECT path, status FROM source_files ORDER BY id")).toEqual([
        { path: first, status: "loaded" },
        { path: second, status: "loaded" },
      ]);
      expect(await s.query("PRAGMA integrity_check")).toEqual([{ integrity_check: "ok" }]);
      expect(await s.ingestFile(second!)).toMatchObject({ status: "already-loaded" });
    } finally {
      await s.close();
    }
  });
});
