// Tweet tidier benchmark: the user path (`ujr run` of a config with a `tidy` job in once
// mode, from process start to exit) against tidy_tweet on the same files, in the same run.
//   node bench/tidy.mjs [--mb 160] [--rounds 3] [--shapes small,big] [--repeats 1] [--no-pg] [--no-ceiling] [--no-big-page] [--no-trace] [--variants] [--keep]
//
// Corpus: the fixtures brexit + withheld + timeline-observatoryteam (fixtures/twitter/),
// copied until >= --mb MB with every id rewritten per copy (so rows are distinct), written
// as two shapes of the same bytes: "small" (files of ~0.55 MB, what the collector writes)
// and "big" (5 files of ~33 MB). With --repeats N the copies share their ids N-fold, each
// share collected again at a later day: every tweet and user is observed ~N times (the merge
// of re-observations is measured, as a long-running collection's repeated searches make it).
// Each round runs, for each shape, in an order that rotates per round:
//   - ujr run -> SQLite (a fresh file),
//   - ujr run -> PostgreSQL (a fresh schema; DATABASE_URL, default postgres://postgres@127.0.0.1:5432/test),
//   - tidy_tweet 0.4 (the anchor; its folder from UJR_TIDY_TWEET_DIR, default <repo>/../shared/anchors/tidy_tweet,
//     run with PYTHONPATH=<folder>/src python3 -m tidy_tweet, which is what its `run` script does; python from
//     UJR_TIDY_TWEET_PYTHON, default python3; it needs click: Debian python3-click).
// Each process is timed from its start to its exit with its peak RSS taken from its resource
// usage as /usr/bin/time does (wait4: the largest process of its tree), through a small
// python3 wrapper; without python3 the time is taken here and RSS is not measured.
// A ratio is the median over the rounds of (tidy_tweet time / ujr time) of one round: each
// compares runs that saw the same machine (other work may share it: look at the spread).
// Each round also runs `ujr run` over an empty folder and tidy_tweet with no file: what every
// run pays to start and stop; and `ujr run` into SQLite a second time over the files it has
// just loaded (nothing new: what a run from cron or a restarted runner pays for a collection).
// The ceiling (measured in this process, same run): parsing + building the rows of every
// page in a thread of its own (each line parsed from the file's bytes and let go, as a
// loader's parse thread parses: bench/tidy-lines.mjs), and the
// plain inserts of the same rows alone (secondary indexes built after them, as a first load
// does): no loader writing these rows through one SQLite connection beats the inserts alone,
// nor the sum of both spread over the cores, counted as the cores measured doing both at once
// (a parse thread beside the inserts: two cores of a VM are not always twice one). Beside it,
// the bound of the loader as built: its parse threads and its writer, plus what every run
// pays to start and stop.
// The traced run (one more `ujr run` a shape with debug logs) shows where a run's time goes,
// and with the timed runs' CPU the bound of the run's own work: its CPU less what its start,
// index build and close use, over the cores, plus its time outside the loading.
// Last, each target of the tidier's performance issue with this run's figure, met or not; one
// not met with the bounds above that decide whether any loader could meet it on this machine.
// UJR_BENCH_TIDIER_DIR=<folder of another build of the plugin> measures that build instead.
// --variants also measures the inserts of the same rows with the loader's upsert statements,
// without the secondary indexes, and with the upsert tables WITHOUT ROWID.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { createRequire } from "node:module";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import { eachPage, lineParser } from "./tidy-lines.mjs";
import { mkdtempSync } from "node:fs";

const here = fileURLToPath(new URL(".", import.meta.url));
const repo = join(here, "..");
// UJR_BENCH_TIDIER_DIR: measure another build of the plugin (a folder with dist/ and node_modules/), to compare versions interleaved
const pkgDir = process.env.UJR_BENCH_TIDIER_DIR ?? join(repo, "packages", "plugin-tweet-tidier");
const cli = join(repo, "apps", "cli", "dist", "bin.js");
const requireFromPkg = createRequire(join(pkgDir, "package.json"));
const Database = requireFromPkg("better-sqlite3");
const pg = requireFromPkg("pg");
const tidier = await import(join(pkgDir, "dist", "index.js"));
const parseLine = await lineParser(pathToFileURL(join(pkgDir, "dist", "index.js")).href);
const { sqliteInsertSql } = await import(join(pkgDir, "dist", "ddl", "sqlite.js"));
// the floor formats rows as the loader does, into its buffers (CopyText): this repository's build of it, whichever plugin
// build is measured (the format is PostgreSQL's COPY text, not the plugin's)
const { copyLine, CopyText } = await import(join(repo, "packages", "plugin-tweet-tidier", "dist", "store", "copy-text.js"));
// the ceiling builds after its inserts the indexes a first load builds after its own
const { DEFERRABLE_INDEXES } = await import(join(repo, "packages", "plugin-tweet-tidier", "dist", "store", "deferred-indexes.js"));
// the loader's own choice of parse threads, for its bound
const { parseThreads } = await import(join(pkgDir, "dist", "parse-in-worker.js"));
const DEFERRABLE_SQL = new Set(DEFERRABLE_INDEXES.map((ix) => ix.sql));
const { from: copyFrom } = requireFromPkg("pg-copy-streams");

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? dflt : process.argv[i + 1];
};
const flag = (name) => process.argv.includes(`--${name}`);
/** A whole-number option from `min` to `max`; anything else stops the bench with what it takes. */
function wholeArg(name, dflt, min, max, what) {
  const v = Number(arg(name, dflt));
  if (Number.isInteger(v) && v >= min && v <= max) return v;
  console.error(`--${name} takes a whole number from ${min} to ${max} (${what}), not ${arg(name)}`);
  process.exit(2);
}
const targetMb = wholeArg("mb", "160", 1, 4096, "MB of raw files per shape");
// each share of ids collected again on a later day of one month
const repeats = wholeArg("repeats", "1", 1, 28, "how often each tweet is observed");
const rounds = wholeArg("rounds", "3", 1, 100, "rounds of every run");
const shapes = arg("shapes", "small,big").split(",");
const unknownShape = shapes.find((s) => s !== "small" && s !== "big");
if (unknownShape !== undefined) {
  console.error(`--shapes takes small, big or small,big, not ${arg("shapes")}`);
  process.exit(2);
}
const keep = flag("keep");
const fixtures = process.env.UJR_FIXTURES_DIR ?? join(repo, "fixtures", "twitter");
const anchorDir = process.env.UJR_TIDY_TWEET_DIR ?? join(repo, "..", "shared", "anchors", "tidy_tweet");
const python = process.env.UJR_TIDY_TWEET_PYTHON ?? "python3";
const pgBase = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";

// ---- corpus ------------------------------------------------------------------------
const lines = [];
for (const f of ["brexit.jsonl", "withheld.jsonl", "timeline-observatoryteam.jsonl"]) {
  for (const l of readFileSync(join(fixtures, f), "utf8").split("\n")) {
    if (!l.trim()) continue;
    try {
      JSON.parse(l);
      lines.push(l);
    } catch {
      /* a fixture's deliberately truncated line */
    }
  }
}
const baseBytes = lines.reduce((a, l) => a + Buffer.byteLength(l) + 1, 0);
const copies = Math.ceil((targetMb * 1e6) / baseBytes);
const ID = /(?<=["_])(\d{6,20})(?=")/g;
// --repeats N: the copies share N-fold their id sets, each set collected again N times at later
// days (its pages' retrieved_at), as repeated searches over a collection's months do: every
// tweet and user is observed ~N times, and the loaders merge what they observed before
const idSets = Math.ceil(copies / repeats);
const RETRIEVED_AT = /"retrieved_at":\s*"\d{4}-\d\d-\d\dT/;
const all = [];
for (let k = 0; k < copies; k++) {
  const prefix = String((k % idSets) + 1).padStart(4, "0");
  const again = Math.floor(k / idSets);
  const collected = (l) => (repeats === 1 ? l : l.replace(RETRIEVED_AT, `"retrieved_at":"2024-01-${String(1 + again).padStart(2, "0")}T`));
  for (const l of lines) all.push(collected(l.replace(ID, (m) => prefix + m)));
}
let dataTweets = 0;
for (const l of lines) {
  const d = JSON.parse(l).data;
  dataTweets += Array.isArray(d) ? d.length : d ? 1 : 0;
}
dataTweets *= copies;
const dir = mkdtempSync(join(tmpdir(), "ujr-bench-tidy-"));
const totalBytes = all.reduce((a, l) => a + Buffer.byteLength(l) + 1, 0);
const SHAPES = {
  small: { files: Math.max(1, Math.round(totalBytes / 0.55e6)) },
  big: { files: 5 },
};
const corpus = {};
for (const shape of shapes) {
  const n = SHAPES[shape].files;
  const folder = join(dir, shape);
  mkdirSync(folder, { recursive: true });
  const per = Math.ceil(all.length / n);
  const files = [];
  for (let i = 0; i * per < all.length; i++) {
    const p = join(folder, `raw-${String(i).padStart(4, "0")}.jsonl`);
    writeFileSync(p, all.slice(i * per, (i + 1) * per).join("\n") + "\n");
    files.push(p);
  }
  corpus[shape] = { folder, files, largest: Math.max(...files.map((f) => statSync(f).size)) };
  SHAPES[shape].label = `${files.length} files of ~${(totalBytes / files.length / 1e6).toFixed(2)} MB`;
}
const MB = totalBytes / 1e6;
console.log(
  `corpus: ${MB.toFixed(1)} MB per shape (${copies} copies of ${lines.length} fixture pages, ${repeats === 1 ? "ids rewritten per copy" : `${idSets} sets of ids, each collected ~${(copies / idSets).toFixed(1)} times (--repeats ${repeats})`}), ${dataTweets} data tweets; ` +
    shapes.map((s) => `${s}: ${corpus[s].files.length} files (largest ${(corpus[s].largest / 1e6).toFixed(2)} MB)`).join("; "),
);
const cores = availableParallelism();
console.log(`machine: ${cores} cores, load average ${loadavg().map((x) => x.toFixed(2)).join(" ")}; ${rounds} round(s), ujr and tidy_tweet interleaved`);

// ---- timing a process: wall time and peak RSS (wait4, as /usr/bin/time) ------------------
const WRAPPER = `
import json, os, sys, time
started = time.time()
t = time.monotonic()
pid = os.posix_spawnp(sys.argv[1], sys.argv[1:], dict(os.environ))
_, status, ru = os.wait4(pid, 0)
print(json.dumps({"seconds": time.monotonic() - t, "startedAt": started, "maxRssKb": ru.ru_maxrss, "cpu": ru.ru_utime + ru.ru_stime, "code": os.waitstatus_to_exitcode(status)}))
`;
const havePython = spawnSync(python, ["-c", "import os; os.posix_spawnp; os.wait4"], { stdio: "ignore" }).status === 0;
if (!havePython) console.log(`note: ${python} not found: times are taken from this process and peak RSS is not measured`);

async function timed(cmd, args, env = {}, logFile) {
  const out = logFile ?? join(dir, "last.log");
  if (havePython) {
    const r = spawnSync(python, ["-c", WRAPPER, cmd, ...args], {
      env: { ...process.env, ...env },
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
      maxBuffer: 1 << 28,
    });
    const last = r.stdout.trimEnd().split("\n").pop();
    writeFileSync(out, r.stdout + r.stderr);
    const m = JSON.parse(last);
    return { seconds: m.seconds, startedAt: m.startedAt * 1000, rss: m.maxRssKb * 1024, cpu: m.cpu, code: m.code, log: out };
  }
  const startedAt = Date.now();
  const t = performance.now();
  const code = await new Promise((resolve) => {
    const p = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ["ignore", "ignore", "ignore"] });
    p.on("exit", (c) => resolve(c));
  });
  return { seconds: (performance.now() - t) / 1000, startedAt, rss: NaN, cpu: NaN, code, log: out };
}

// ---- ujr run ------------------------------------------------------------------------
// as a user runs it: the config watched for hot reload (its folder also holds the SQLite
// databases, as a config beside its database does); no terminal, so no live view
const UJR_FLAGS = ["--no-tty"];

function writeConfig(shape, database, folder = corpus[shape].folder) {
  const p = join(dir, `ujr-${shape}-${database.startsWith("postgres") ? "pg" : "sqlite"}.yaml`);
  // the plugin named by its package folder: resolvable wherever the bench runs
  writeFileSync(
    p,
    [
      "runner:",
      "  logLevel: warn",
      "jobs:",
      "  tidy:",
      `    plugin: ${JSON.stringify(pkgDir)}`,
      "    type: tidy",
      "    config:",
      `      inputs: [${JSON.stringify(folder)}]`,
      `      database: ${JSON.stringify(database)}`,
      "      mode: once",
      "      settleTime: 0",
      "",
    ].join("\n"),
  );
  return p;
}

/** The SQLite file `name`.sqlite of the bench's folder, none of it left from an earlier run. */
function freshSqlite(name) {
  const db = join(dir, `${name}.sqlite`);
  for (const s of ["", "-wal", "-shm"]) rmSync(db + s, { force: true });
  return db;
}

async function ujrSqlite(shape) {
  const db = freshSqlite(`ujr-${shape}`);
  const r = await timed(process.execPath, [cli, "run", writeConfig(shape, db), ...UJR_FLAGS]);
  if (r.code !== 0) throw new Error(`ujr run (SQLite, ${shape}) exited ${r.code}: see ${r.log}\n${readFileSync(r.log, "utf8").slice(-2000)}`);
  const d = new Database(db, { readonly: true });
  const f = d.prepare("SELECT count(*) AS n, sum(data_tweets) AS t FROM source_files").get();
  const tweets = d.prepare("SELECT count(*) AS n FROM tweets").get().n;
  d.close();
  if (f.n !== corpus[shape].files.length || f.t !== dataTweets) throw new Error(`ujr (SQLite, ${shape}) loaded ${f.n} files / ${f.t} data tweets`);
  // the same run again over the loaded collection, as a run from cron or a restarted runner
  // makes it: nothing new to load, every file recognised
  const again = await timed(process.execPath, [cli, "run", writeConfig(shape, db), ...UJR_FLAGS]);
  if (again.code !== 0) throw new Error(`ujr run again (SQLite, ${shape}) exited ${again.code}: see ${again.log}`);
  const d2 = new Database(db, { readonly: true });
  const n2 = d2.prepare("SELECT count(*) AS n FROM source_files").get().n;
  d2.close();
  if (n2 !== f.n) throw new Error(`ujr run again (SQLite, ${shape}) changed source_files: ${f.n} -> ${n2} rows`);
  return { ...r, tweets, again };
}

// what every run pays to start and stop: `ujr run` of the same job over an empty folder
// (the CLI and its task process start, the job checks its inputs, finds nothing, ends)
async function ujrNothing() {
  const empty = join(dir, "empty");
  mkdirSync(empty, { recursive: true });
  const r = await timed(process.execPath, [cli, "run", writeConfig("empty", join(dir, "ujr-empty.sqlite"), empty), ...UJR_FLAGS]);
  if (r.code !== 0) throw new Error(`ujr run (nothing to load) exited ${r.code}: see ${r.log}`);
  return r;
}

let pgWhy;
async function pgClient() {
  const c = new pg.Client({ connectionString: pgBase, connectionTimeoutMillis: 3000 });
  await c.connect();
  return c;
}
if (flag("no-pg")) pgWhy = "--no-pg";
else {
  try {
    const c = await pgClient();
    await c.end();
  } catch (e) {
    pgWhy = `PostgreSQL does not answer at ${pgBase.replace(/\/\/[^@]*@/, "//")} (${e.message}); set DATABASE_URL`;
  }
}
const pgSchema = `ujr_bench_tidy_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
const dropSchema = async () => {
  const c = await pgClient();
  try {
    await c.query(`DROP SCHEMA IF EXISTS "${pgSchema}" CASCADE`);
  } finally {
    await c.end();
  }
};
/** CPU seconds used so far by the PostgreSQL server's processes, when it runs on this machine (Linux /proc); else NaN. */
function serverCpu() {
  let ticks = 0;
  let found = false;
  try {
    for (const pid of readdirSync("/proc")) {
      if (!/^\d+$/.test(pid)) continue;
      let stat;
      try {
        stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      } catch {
        continue;
      }
      const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      if (comm !== "postgres") continue;
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      ticks += Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]); // utime stime cutime cstime
      found = true;
    }
  } catch {
    return NaN;
  }
  return found ? ticks / 100 : NaN;
}
async function ujrPostgres(shape) {
  await dropSchema();
  const u = new URL(pgBase);
  u.searchParams.set("schema", pgSchema);
  const before = serverCpu();
  const r = await timed(process.execPath, [cli, "run", writeConfig(shape, u.toString()), ...UJR_FLAGS]);
  r.serverCpu = serverCpu() - before;
  if (r.code !== 0) throw new Error(`ujr run (PostgreSQL, ${shape}) exited ${r.code}: see ${r.log}\n${readFileSync(r.log, "utf8").slice(-2000)}`);
  const c = await pgClient();
  try {
    const f = (await c.query(`SELECT count(*)::int AS n, sum(data_tweets)::int AS t FROM "${pgSchema}".source_files`)).rows[0];
    const tweets = Number((await c.query(`SELECT count(*) AS n FROM "${pgSchema}".tweets`)).rows[0].n);
    if (f.n !== corpus[shape].files.length || f.t !== dataTweets) throw new Error(`ujr (PostgreSQL, ${shape}) loaded ${f.n} files / ${f.t} data tweets`);
    return { ...r, tweets };
  } finally {
    await c.end();
  }
}

// ---- tidy_tweet (the anchor) -----------------------------------------------------------
let anchorWhy;
if (!existsSync(join(anchorDir, "src", "tidy_tweet"))) anchorWhy = `no tidy_tweet at ${anchorDir} (set UJR_TIDY_TWEET_DIR)`;
else {
  const r = spawnSync(python, ["-c", "import click"], { encoding: "utf8" });
  if (r.error) anchorWhy = `${python} not found (set UJR_TIDY_TWEET_PYTHON)`;
  else if (r.status !== 0) anchorWhy = `${python} cannot import click (Debian: apt-get install python3-click)`;
}
async function anchor(shape) {
  const db = join(dir, `tidy_tweet-${shape}.db`);
  rmSync(db, { force: true });
  const r = await timed(python, ["-m", "tidy_tweet", db, ...corpus[shape].files], { PYTHONPATH: join(anchorDir, "src") });
  if (r.code !== 0) throw new Error(`tidy_tweet (${shape}) exited ${r.code}: see ${r.log}`);
  const d = new Database(db, { readonly: true });
  const tweets = d.prepare("SELECT count(*) AS n FROM tweet").get().n;
  const rows = d
    .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
    .all()
    .reduce((a, { name }) => a + d.prepare(`SELECT count(*) AS n FROM "${name}"`).get().n, 0);
  d.close();
  return { ...r, tweets, rows };
}

// tidy_tweet's own start and stop: no file (it creates its database and ends)
async function anchorNothing() {
  const db = join(dir, "tidy_tweet-empty.db");
  rmSync(db, { force: true });
  const r = await timed(python, ["-m", "tidy_tweet", db], { PYTHONPATH: join(anchorDir, "src") });
  if (r.code !== 0) throw new Error(`tidy_tweet (no file) exited ${r.code}: see ${r.log}`);
  return r;
}

// ---- the ceiling and the cost of an insert per table -------------------------------------
// The ceiling's inserts are plain INSERT OR IGNOREs into the tables without their secondary
// indexes, which are built after the last insert (and timed with the inserts): what a first
// load does (SqliteStoreOptions.deferIndexes). Variants of the physical form, for
// --variants: the indexes kept up to date row by row, the loader's own statements
// (upserts), no secondary indexes at all, and the upsert tables WITHOUT ROWID.
const UPSERT_TABLES = new Set(tidier.tables.filter((x) => x.kind === "upsert").map((x) => x.name));
/** A new SQLite file `name`.sqlite with the tables of `variant` and a statement to insert into each. */
function ceilingDb(name, variant) {
  const d = new Database(freshSqlite(name));
  // the secondary indexes a first load builds after its inserts
  const later = [];
  d.pragma("page_size = 16384");
  d.pragma("journal_mode = WAL");
  d.pragma("synchronous = NORMAL");
  d.pragma("cache_size = -65536");
  for (let sql of tidier.sqliteDdl()) {
    const secondary = DEFERRABLE_SQL.has(sql);
    if (secondary && variant === "secondary indexes built after") later.push(sql);
    if (secondary && (variant === "no secondary indexes" || variant === "secondary indexes built after")) continue;
    const m = /^CREATE TABLE IF NOT EXISTS "([a-z_]+)"/.exec(sql);
    if (variant === "upsert tables WITHOUT ROWID" && m && UPSERT_TABLES.has(m[1])) sql += " WITHOUT ROWID";
    d.exec(sql);
  }
  const insert = {};
  for (const t of ["pages", ...tidier.PAGE_TABLES]) {
    const def = tidier.tables.find((x) => x.name === t);
    const cols = def.columns.filter((c) => c.type !== "serial");
    insert[t] = d.prepare(
      variant === "the loader's upserts"
        ? sqliteInsertSql(def)
        : `INSERT OR IGNORE INTO "${t}" (${cols.map((c) => `"${c.name}"`).join(", ")}) VALUES (${cols.map(() => "?").join(", ")})`,
    );
  }
  return { name, d, insert, later };
}

/**
 * Inserts every page of `built` into `db` (ceilingDb; a commit every 50 files), builds the
 * indexes left for after, closes and removes the file: its seconds. `tally`: each table's
 * time and rows, added up.
 */
function insertPages(db, built, tally) {
  const { d, insert, later } = db;
  const t0 = performance.now();
  let group = 0;
  let t = 0;
  d.exec("BEGIN");
  for (const pages of built) {
    for (const p of pages) {
      if (tally) t = performance.now();
      insert.pages.run(...p.page);
      if (tally) {
        tally.cost.pages += performance.now() - t;
        tally.count.pages++;
      }
      for (const name of tidier.PAGE_TABLES) {
        const rs = p.rows[name];
        if (rs.length === 0) continue;
        const st = insert[name];
        if (tally) t = performance.now();
        for (const r of rs) st.run(...r);
        if (tally) {
          tally.cost[name] += performance.now() - t;
          tally.count[name] += rs.length;
        }
      }
    }
    if (++group % 50 === 0) d.exec("COMMIT; BEGIN");
  }
  d.exec("COMMIT");
  for (const sql of later) d.exec(sql);
  d.close();
  const seconds = (performance.now() - t0) / 1000;
  freshSqlite(db.name);
  return seconds;
}

function ceiling(variant = "secondary indexes built after") {
  const files = corpus[shapes[0]].files;
  // every page kept for the inserts (the parsing is timed by overlapped(), as a loader parses:
  // timing this pass counted the collection of an ever-growing heap)
  const built = files.map((f, fi) => {
    const ps = [];
    eachPage(tidier, parseLine, f, fi, (p) => ps.push(p));
    return ps;
  });
  const db = ceilingDb("ceiling", variant);
  const tables = ["pages", ...tidier.PAGE_TABLES];
  const tally = { cost: Object.fromEntries(tables.map((t) => [t, 0])), count: Object.fromEntries(tables.map((t) => [t, 0])) };
  const cpu0 = process.cpuUsage();
  const inserts = insertPages(db, built, tally);
  const cpu = process.cpuUsage(cpu0);
  return { inserts, cpu: (cpu.user + cpu.system) / 1e6, cost: tally.cost, count: tally.count, built };
}

// ---- what two cores do at once -----------------------------------------------------------
// The ceiling spreads the parsing and the inserts over the cores as if each core ran as fast
// beside the other as alone. Measured instead, with the same code each time: a parse thread
// parsing every page (as a loader parses), this thread inserting them (as the ceiling's
// inserts), each alone, then both started together. While both ran, the two cores did (parse
// alone + inserts alone - the part one of them ran alone after the other finished) in the
// time of the shorter: that many cores' work at once, the effective cores the bounds below
// divide by.
async function overlapped(built) {
  const go = new Int32Array(new SharedArrayBuffer(4));
  const index = pathToFileURL(join(pkgDir, "dist", "index.js")).href;
  const w = new Worker(new URL("./tidy-lines.mjs", import.meta.url), { workerData: { index, files: corpus[shapes[0]].files, go: go.buffer } });
  const next = () =>
    new Promise((resolve, reject) => {
      w.once("message", resolve);
      w.once("error", reject);
    });
  const parseThread = () => {
    const done = next();
    Atomics.add(go, 0, 1);
    Atomics.notify(go, 0);
    return done;
  };
  // the file opened and the statements prepared before the timing starts
  const insertAll = () => {
    const db = ceilingDb("ceiling-overlap", "secondary indexes built after");
    return () => insertPages(db, built);
  };
  try {
    await next();
    const inserts = insertAll()();
    const parse = await parseThread();
    const run = insertAll();
    const parsed = parseThread();
    const insertsAtOnce = run();
    const parseAtOnce = await parsed;
    const cores = (parse + inserts - Math.abs(parseAtOnce - insertsAtOnce)) / Math.min(parseAtOnce, insertsAtOnce);
    return { parse, inserts, parseAtOnce, insertsAtOnce, cores };
  } finally {
    await w.terminate();
  }
}

// ---- the PostgreSQL floor --------------------------------------------------------------------
// The least work any loader of these rows into PostgreSQL does: the first observation of each
// key (repeats dropped: no merging, no staging tables), copied straight into the documented
// tables with their indexes, in one transaction, with the loader's own COPY text format. Its
// client CPU and the server's CPU, with the parsing, share the machine's cores.
async function pgFloor(built) {
  const schema = `${pgSchema}_floor`;
  const c = await pgClient();
  try {
    await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE; CREATE SCHEMA "${schema}"; SET search_path TO "${schema}"`);
    for (const sql of tidier.postgresDdl()) await c.query(sql);
    const firsts = new Map();
    const seen = new Map();
    for (const pages of built)
      for (const p of pages)
        for (const [name, rs] of [["pages", [p.page]], ...tidier.PAGE_TABLES.map((n) => [n, p.rows[n]])]) {
          const def = tidier.tables.find((x) => x.name === name);
          const cols = def.columns.filter((x) => x.type !== "serial").map((x) => x.name);
          const key = def.kind === "log" ? null : def.primaryKey.map((k) => cols.indexOf(k));
          if (!seen.has(name)) seen.set(name, new Set());
          if (!firsts.has(name)) firsts.set(name, []);
          for (const r of rs) {
            if (key) {
              const k = key.map((i) => r[i]).join("\u0000");
              if (seen.get(name).has(k)) continue;
              seen.get(name).add(k);
            }
            firsts.get(name).push(r);
          }
        }
    const server0 = serverCpu();
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    let rows = 0;
    /** Per table: its rows, the loader's and the server's CPU seconds for its COPY. */
    const perTable = {};
    await c.query("BEGIN");
    for (const [name, rs] of firsts) {
      if (rs.length === 0) continue;
      const tableServer0 = serverCpu();
      const tableCpu0 = process.cpuUsage();
      const cols = tidier.tables.find((x) => x.name === name).columns.filter((x) => x.type !== "serial");
      const copy = c.query(copyFrom(`COPY "${name}" (${cols.map((x) => `"${x.name}"`).join(", ")}) FROM STDIN`));
      // formatted while the server reads the previous chunk, each line written as UTF-8 into
      // the loader's own buffers (CopyText): the least the loader's side costs
      await pipeline(
        Readable.from(
          (function* () {
            const text = new CopyText();
            for (const r of rs) {
              text.append(copyLine(r));
              if (text.chars >= 1 << 16) yield* text.take().text;
            }
            yield* text.take().text;
          })(),
        ),
        copy,
      );
      rows += rs.length;
      const tableCpu = process.cpuUsage(tableCpu0);
      perTable[name] = { rows: rs.length, client: (tableCpu.user + tableCpu.system) / 1e6, server: serverCpu() - tableServer0 };
    }
    await c.query("COMMIT");
    const cpu = process.cpuUsage(cpu0);
    return { rows, perTable, seconds: (performance.now() - t0) / 1000, client: (cpu.user + cpu.system) / 1e6, server: serverCpu() - server0 };
  } finally {
    await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => {});
    await c.end();
  }
}

// ---- rounds ----------------------------------------------------------------------------
const res = {};
for (const s of shapes) res[s] = { sqlite: [], pg: [], anchor: [] };
const ceilings = [];
const nothing = [];
const anchorNothingRuns = [];
const kinds = ["sqlite", "anchor", "pg"];
if (anchorWhy) console.log(`anchor not run: ${anchorWhy}`);
if (pgWhy) console.log(`PostgreSQL not run: ${pgWhy}`);
for (let r = 0; r < rounds; r++) {
  for (const s of shapes) {
    // rotate the order each round: no kind always runs first (or after the same one)
    const order = kinds.map((_, i) => kinds[(i + r) % kinds.length]);
    const got = {};
    for (const k of order) {
      if (k === "anchor" && anchorWhy) continue;
      if (k === "pg" && pgWhy) continue;
      got[k] = k === "sqlite" ? await ujrSqlite(s) : k === "pg" ? await ujrPostgres(s) : await anchor(s);
      res[s][k].push(got[k]);
    }
    const show = (k) => (got[k] ? `${k} ${got[k].seconds.toFixed(2)} s` : "");
    console.log(`round ${r + 1} ${s}: ${order.map(show).filter(Boolean).join(", ")}  (load ${loadavg()[0].toFixed(2)})`);
  }
  nothing.push(await ujrNothing());
  if (!anchorWhy) anchorNothingRuns.push(await anchorNothing());
  if (!flag("no-ceiling")) {
    const c = ceiling();
    c.overlap = await overlapped(c.built);
    if (!pgWhy) c.pg = await pgFloor(c.built);
    delete c.built;
    ceilings.push(c);
  }
}
if (!pgWhy) await dropSchema();

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const fmt = (n) => Math.round(n).toLocaleString("en-US");
const rssOf = (xs) => (xs.some((x) => Number.isNaN(x.rss)) ? "not measured" : `${(Math.max(...xs.map((x) => x.rss)) / 1e6).toFixed(0)} MB`);
const secs = (xs) => xs.map((x) => x.seconds);
/** "median 1.23 s (1.20, 1.23, 1.31)": the median of runs and each run's time. */
const medianOf = (xs) => `median ${median(secs(xs)).toFixed(2)} s (${secs(xs).map((x) => x.toFixed(2)).join(", ")})`;
const perRound = (a, b) => a.map((x, i) => b[i].seconds / x.seconds); // b / a per round
// what this run measured of each target of the tidier's issue, and the bounds measured beside
// them; printed last, each target with its figure and, when it is not met, whether any
// loader could meet it on this machine
const judged = Object.fromEntries(shapes.map((s) => [s, {}]));

console.log("");
for (const s of shapes) {
  const { sqlite, pg: pgr, anchor: an } = res[s];
  console.log(`${s} (${SHAPES[s].label}, ${MB.toFixed(1)} MB):`);
  const line = (label, xs) =>
    `  ${label}: ${medianOf(xs)}, ${fmt(dataTweets / median(secs(xs)))} data tweets/s, ${(MB / median(secs(xs))).toFixed(1)} MB/s, peak RSS ${rssOf(xs)}`;
  console.log(line("ujr run -> SQLite    ", sqlite));
  const again = sqlite.map((x) => x.again);
  console.log(
    `  ujr run again (SQLite, the same files: nothing new, each recognised): ${medianOf(again)}, ${median(again.map((x) => x.cpu)).toFixed(2)} s CPU, peak RSS ${rssOf(again)}`,
  );
  if (pgr.length) console.log(line("ujr run -> PostgreSQL", pgr));
  // CPU: with 2 cores, no run can take less wall time than its CPU seconds / cores
  const cpu = (xs) => median(xs.map((x) => x.cpu));
  const cpuLine = [`ujr SQLite ${cpu(sqlite).toFixed(2)} s`];
  if (pgr.length) {
    const srv = median(pgr.map((x) => x.serverCpu));
    cpuLine.push(`ujr PostgreSQL ${cpu(pgr).toFixed(2)} s + server ${Number.isNaN(srv) ? "not measured (not on this machine)" : `${srv.toFixed(2)} s (every postgres process of this machine: other clients included)`}`);
    if (!Number.isNaN(srv)) cpuLine.push(`so PostgreSQL needs >= ${((cpu(pgr) + srv) / cores).toFixed(2)} s of wall time on ${cores} cores`);
  }
  if (an.length) cpuLine.push(`tidy_tweet ${cpu(an).toFixed(2)} s`);
  console.log(`  CPU time (user + system, medians): ${cpuLine.join(", ")}`);
  if (an.length) {
    console.log(line(`tidy_tweet 0.4       `, an) + ` (writes ${fmt(an[0].rows)} rows in its tables)`);
    judged[s].sqliteRatio = median(perRound(sqlite, an));
    console.log(`  ratio ujr SQLite / tidy_tweet: ${judged[s].sqliteRatio.toFixed(2)}x (median of the rounds' ratios; target >= 2, stretch 3)`);
    if (pgr.length) {
      judged[s].pgRatio = median(perRound(pgr, an));
      console.log(`  ratio ujr PostgreSQL / tidy_tweet: ${judged[s].pgRatio.toFixed(2)}x (target >= 2)`);
    }
  } else console.log(`  anchor not run: ${anchorWhy}`);
  if (pgr.length) {
    judged[s].pgVsSqlite = median(perRound(pgr, sqlite));
    console.log(`  PostgreSQL / SQLite speed: ${judged[s].pgVsSqlite.toFixed(2)} (target >= 1)`);
  }
  console.log(`  distinct tweets: SQLite ${sqlite[0].tweets}${pgr.length ? `, PostgreSQL ${pgr[0].tweets}` : ""}${an.length ? `, tidy_tweet ${an[0].tweets}` : ""}`);
}

const fixed = median(secs(nothing));
console.log(
  `\nujr run with nothing to load (an empty folder: the CLI and its task process start, the job finds no file, both stop): ${medianOf(nothing)}, ${median(nothing.map((x) => x.cpu)).toFixed(2)} s CPU: every run's fixed cost` +
    (anchorNothingRuns.length
      ? `; tidy_tweet with no file (it creates its database): ${median(secs(anchorNothingRuns)).toFixed(2)} s, ${median(anchorNothingRuns.map((x) => x.cpu)).toFixed(2)} s CPU`
      : ""),
);

// ---- where one run's time goes: one more run a shape with the tidier's debug logs -------
// The start and the end of a load leave a core mostly idle (one thread at work): the
// CLI and its task process starting, then, after the last file, the secondary indexes built
// after a first load and the close (SQLite's final checkpoint copies the WAL into the
// database and removes it). Read from the log lines' times, in a run of its own.
async function traced(shape) {
  const r = await timed(process.execPath, [cli, "run", writeConfig(shape, freshSqlite(`ujr-${shape}`)), ...UJR_FLAGS, "--log-level", "debug"], {}, join(dir, `traced-${shape}.log`));
  if (r.code !== 0 || r.startedAt === undefined) return undefined;
  const logs = readFileSync(r.log, "utf8")
    .split("\n")
    .flatMap((l) => {
      try {
        const j = JSON.parse(l);
        return typeof j.time === "string" ? [{ ...j, at: Date.parse(j.time) }] : [];
      } catch {
        return [];
      }
    });
  const first = (pred) => logs.find(pred);
  const last = (pred) => logs.findLast(pred);
  const firstTask = first((l) => l.msg === "task started");
  const batch = first((l) => l.msg === "task started" && String(l.task).endsWith("#tidyBatch"));
  const lastFile = last((l) => l.msg?.startsWith("tidy: file loaded"));
  const built = first((l) => l.msg === "tidy: secondary indexes built after the load");
  const closed = first((l) => l.msg === "tidy: database closed");
  const done = last((l) => l.msg === "task done" && String(l.task).endsWith("#tidyBatch"));
  if (!firstTask || !batch || !lastFile || !closed || !done) return undefined;
  const end = r.startedAt + r.seconds * 1000;
  return {
    total: r.seconds,
    start: (firstTask.at - r.startedAt) / 1000,
    check: (batch.at - firstTask.at) / 1000,
    load: (lastFile.at - batch.at) / 1000,
    build: built ? built.ms / 1000 : 0,
    close: closed.ms / 1000,
    exit: (end - done.at) / 1000,
  };
}

if (!flag("no-trace")) {
  console.log("\nwhere one run's time goes (one more `ujr run` a shape into a new SQLite file, --log-level debug, timed from its log lines):");
  for (const s of shapes) {
    const t = await traced(s);
    if (!t) {
      console.log(`  ${s}: not traced (see ${join(dir, `traced-${s}.log`)})`);
      continue;
    }
    const rest = t.total - t.start - t.check - t.load - t.build - t.close;
    const serial = t.total - t.load;
    console.log(
      `  ${s}: ${t.total.toFixed(2)} s = start to the first task ${t.start.toFixed(2)} s + the check for files ${t.check.toFixed(2)} s + loading, to the last file committed, ${t.load.toFixed(2)} s + the secondary indexes built after it ${t.build.toFixed(2)} s + closing the database (the final checkpoint) ${t.close.toFixed(2)} s + the rest to exit ${rest.toFixed(2)} s (after the last task ${t.exit.toFixed(2)} s); outside the loading (mostly one thread at work; the two processes' start overlaps in part): ${serial.toFixed(2)} s, ${((serial / t.total) * 100).toFixed(0)}%`,
    );
    // the build's own work as a bound: the loading shares the cores with nothing else of
    // the run, so it takes no less than its CPU over the cores; what is outside it takes
    // its wall time (its CPU: the empty run's start and stop, the indexes and the close on one thread)
    const runCpu = median(res[s].sqlite.map((x) => x.cpu));
    const outsideCpu = median(nothing.map((x) => x.cpu)) + t.build + t.close;
    if (!Number.isNaN(runCpu)) {
      const own = serial + Math.max(0, runCpu - outsideCpu) / cores;
      judged[s].own = own;
      const an = res[s].anchor;
      const need = an.length ? median(secs(an)) / 2 : undefined;
      console.log(
        `    its own work: ${runCpu.toFixed(2)} s of CPU (median of the timed runs), of which about ${outsideCpu.toFixed(2)} s outside the loading; the rest over ${cores} cores plus the ${serial.toFixed(2)} s outside it: no less than about ${own.toFixed(2)} s however the loading is scheduled` +
          (need === undefined
            ? ""
            : own > need
              ? `; 2x tidy_tweet needs ${need.toFixed(2)} s: about ${((own - need) * cores).toFixed(2)} s less CPU in the loading, or less time outside it`
              : `; 2x tidy_tweet needs ${need.toFixed(2)} s: within this bound`),
      );
    }
  }
}

if (res.small && res.big) {
  // the same bytes in many files and in few: what a file costs above its bytes
  const perFileMs = (k) =>
    median(res.small[k].map((x, i) => (x.seconds - res.big[k][i].seconds) / (corpus.small.files.length - corpus.big.files.length))) * 1000;
  const ms = { sqlite: perFileMs("sqlite"), pg: res.small.pg.length ? perFileMs("pg") : undefined, anchor: res.small.anchor.length ? perFileMs("anchor") : undefined };
  judged.perFileMs = Math.max(ms.sqlite, ms.pg ?? -Infinity);
  console.log(
    `\nper-file cost above the bytes ((small - big) / extra files, median of the rounds): ujr SQLite ${ms.sqlite.toFixed(1)} ms` +
      (ms.pg !== undefined ? `, ujr PostgreSQL ${ms.pg.toFixed(1)} ms` : "") +
      (ms.anchor !== undefined ? `, tidy_tweet ${ms.anchor.toFixed(1)} ms` : "") +
      " (target <= 2 ms for ujr)",
  );
}

if (ceilings.length) {
  // the parse thread's and the inserts' times alone from the measurement of two cores at
  // once: the same code as there, in a settled heap (the ceiling's own inserts run right
  // after it built every page, and its times include that heap's collection)
  const parse = median(ceilings.map((c) => c.overlap.parse));
  const inserts = median(ceilings.map((c) => c.overlap.inserts));
  const c0 = ceilings[0];
  const rows = Object.values(c0.count).reduce((a, b) => a + b, 0);
  // one writer (SQLite): its inserts are one thread's work; the parsing can be split over
  // threads, but all of it shares the machine's cores with the inserts
  // spread over the cores as fast as they measured at once (not as fast as each alone)
  const eff = Math.min(cores, Math.max(1, median(ceilings.map((c) => c.overlap.cores))));
  const effText = eff.toFixed(2);
  const ceil = Math.max(inserts, (parse + inserts) / eff);
  // the bound of the loader as it is: the parse threads it takes for this corpus (one on two
  // cores, where a split of the parsing measured no faster) and its writer, plus what every
  // run pays to start and stop
  const threads = parseThreads(totalBytes);
  const asBuilt = Math.max(parse / threads, inserts, (parse + inserts) / eff) + fixed;
  judged.ceiling = ceil;
  judged.asBuilt = asBuilt;
  console.log("");
  const ov = ceilings[0].overlap;
  console.log(
    `two cores at once: a parse thread parsing every page while this thread inserts them, started together, against each alone (first round): parse ${ov.parseAtOnce.toFixed(2)} s (alone ${ov.parse.toFixed(2)} s), inserts ${ov.insertsAtOnce.toFixed(2)} s (alone ${ov.inserts.toFixed(2)} s): ` +
      `the ${cores} cores did the work of ${effText} cores at once (median of ${ceilings.length}: ${ceilings.map((c) => c.overlap.cores.toFixed(2)).join(", ")}); the bounds below divide by that`,
  );
  console.log(
    `ceiling for these rows on ${cores} cores: ${ceil.toFixed(2)} s, ${fmt(dataTweets / ceil)} data tweets/s = max(plain inserts of the same ${fmt(rows)} rows alone, secondary indexes built after them, ${inserts.toFixed(2)} s (one writer), (parse + build rows ${parse.toFixed(2)} s + inserts) / ${effText} effective cores) — any split of the parsing over threads, perfectly overlapped, no other cost; median of ${ceilings.length}`,
  );
  console.log(
    `the loader as built, ${threads} parse thread${threads > 1 ? "s" : ""} on ${cores} cores: no less than ${asBuilt.toFixed(2)} s = max(parse${threads > 1 ? ` / ${threads}` : ""}, inserts, (parse + inserts) / ${effText} effective cores) + the ${fixed.toFixed(2)} s every run pays to start and stop`,
  );
  for (const s of shapes) {
    const an = res[s].anchor;
    const ours = median(res[s].sqlite.map((x) => x.seconds));
    console.log(
      `  ${s}: ujr SQLite reaches ${(ceil / ours).toFixed(2)} of the ceiling, ${(ceil / (ours - fixed)).toFixed(2)} without the ${fixed.toFixed(2)} s every run pays to start and stop, and ${(asBuilt / ours).toFixed(2)} of the loader's bound (the rest: the parse thread's start, discovery, hashing, the copy of the rows between threads, commits and checkpoints)` +
        (an.length
          ? `; tidy_tweet / ceiling = ${(median(secs(an)) / ceil).toFixed(2)}x: the most a loader of these rows with this parse cost and one writer could reach on this machine; tidy_tweet / the loader's bound = ${(median(secs(an)) / asBuilt).toFixed(2)}x`
          : ""),
    );
  }
  console.log("  insert cost per table (plain INSERT, one thread; first round):");
  const order = Object.keys(c0.cost).sort((a, b) => c0.cost[b] - c0.cost[a]);
  for (const t of order)
    if (c0.count[t] > 0)
      console.log(`    ${t.padEnd(20)} ${(c0.cost[t] / 1000).toFixed(3)} s  ${String(c0.count[t]).padStart(8)} rows  ${((c0.cost[t] * 1000) / c0.count[t]).toFixed(2)} us/row`);

  const floors = ceilings.filter((c) => c.pg).map((c) => c.pg);
  if (floors.length && floors.some((f) => Number.isNaN(f.server)))
    console.log("\nPostgreSQL floor: not computed (the server's CPU time cannot be read: it does not run on this machine)");
  else if (floors.length) {
    const client = median(floors.map((f) => f.client));
    const server = median(floors.map((f) => f.server));
    // CPU times, slowed already where the loader and the server ran at once: over every core
    const floor = (parse + client + server) / cores;
    judged.floor = floor;
    console.log("");
    console.log(
      `PostgreSQL floor for these rows on ${cores} cores: ${floor.toFixed(2)} s = (parse + build rows ${parse.toFixed(2)} s + COPY of the first observation of each key (${fmt(floors[0].rows)} rows: no merging, no staging tables) straight into the indexed tables, one transaction: loader ${client.toFixed(2)} s CPU + server ${server.toFixed(2)} s CPU) / ${cores} cores — any PostgreSQL loader, perfectly overlapped; median of ${floors.length}`,
    );
    console.log(
      `  PostgreSQL floor / SQLite ceiling = ${(floor / ceil).toFixed(2)}: ` +
        (floor > ceil
          ? "the least any PostgreSQL loader needs is more than the most SQLite's one writer needs, so with the same other costs (start, hashing, commits) PostgreSQL cannot match SQLite on this machine"
          : "a PostgreSQL loader could match SQLite here"),
    );
    // where the floor's CPU goes: the server's /proc ticks are 10 ms, so small tables show ~0
    const per = floors[0].perTable;
    console.log("  COPY cost per table (the floor's first observations straight into the indexed table; first round; CPU, server in 10 ms ticks):");
    for (const t of Object.keys(per).sort((a, b) => per[b].client + per[b].server - (per[a].client + per[a].server))) {
      const x = per[t];
      console.log(
        `    ${t.padEnd(20)} loader ${x.client.toFixed(3)} s + server ${x.server.toFixed(2)} s  ${String(x.rows).padStart(8)} rows  ${(((x.client + x.server) * 1e6) / x.rows).toFixed(2)} us/row` +
          (c0.count[t] > 0 ? ` (SQLite's plain INSERT above: ${((c0.cost[t] * 1000) / c0.count[t]).toFixed(2)} us/row)` : ""),
      );
    }
    for (const s of shapes) {
      const pgr = res[s].pg;
      if (!pgr.length) continue;
      const lite = median(secs(res[s].sqlite));
      const an = res[s].anchor;
      console.log(
        `  ${s}: ujr PostgreSQL reaches ${(floor / median(secs(pgr))).toFixed(2)} of the floor; ujr SQLite took ${lite.toFixed(2)} s: ` +
          (lite < floor ? `less than the floor, so no PostgreSQL loader matches it on this machine` : `not less than the floor`) +
          (an.length ? `; tidy_tweet / floor = ${(median(secs(an)) / floor).toFixed(2)}x: the most a PostgreSQL loader of these rows could reach here` : ""),
      );
    }
  }
}

// ---- --variants: what an insert costs in other physical forms (same rows, alternating) -----
if (flag("variants")) {
  const variants = ["indexes kept up to date", "the loader's upserts", "no secondary indexes", "secondary indexes built after", "upsert tables WITHOUT ROWID"];
  const got = Object.fromEntries(variants.map((v) => [v, []]));
  for (let r = 0; r < rounds; r++)
    for (const v of variants) {
      const { built, ...c } = ceiling(v); // the parsed pages are dropped: every variant parses them again
      got[v].push(c);
    }
  console.log("\ninserts of the same rows in other physical forms (CPU of the insert phase; each of " + rounds + " rounds, alternating):");
  for (const v of variants)
    console.log(`  ${v.padEnd(30)} CPU ${got[v].map((x) => x.cpu.toFixed(2)).join(", ")} s; wall median ${median(got[v].map((x) => x.inserts)).toFixed(2)} s`);
}

// ---- a 50 MB single-line page ---------------------------------------------------------
if (!flag("no-big-page")) {
  const page = JSON.parse(lines[0]);
  const bp = join(dir, "big-page");
  mkdirSync(bp, { recursive: true });
  const data = [];
  const users = [];
  const pageText = JSON.stringify({ data: page.data, includes: { users: page.includes?.users ?? [] } });
  for (let k = 0, size = 0; size < 50.5e6; k++) {
    const c = JSON.parse(pageText.replace(ID, (m) => `9${String(k).padStart(4, "0")}${m}`));
    data.push(...c.data);
    users.push(...c.includes.users);
    size += pageText.length;
  }
  const text = JSON.stringify({ ...page, data, includes: { ...page.includes, users } });
  writeFileSync(join(bp, "one-page.jsonl"), text + "\n");
  corpus.bigPage = { folder: bp, files: [join(bp, "one-page.jsonl")] };
  const db = join(dir, "big-page.sqlite");
  const r = await timed(process.execPath, [cli, "run", writeConfig("bigPage", db), ...UJR_FLAGS]);
  let loaded = "";
  if (r.code === 0) {
    const d = new Database(db, { readonly: true });
    loaded = `, ${d.prepare("SELECT count(*) AS n FROM tweets").get().n} tweets loaded`;
    d.close();
  }
  judged.bigPageExit = r.code;
  console.log(
    `\na ${(Buffer.byteLength(text) / 1e6).toFixed(1)} MB single-line page (${data.length} data tweets): ujr run -> SQLite exit ${r.code} in ${r.seconds.toFixed(2)} s, peak RSS ${Number.isNaN(r.rss) ? "not measured" : `${(r.rss / 1e6).toFixed(0)} MB`}${loaded}`,
  );
}
printTargets();
console.log(`load average after: ${loadavg().map((x) => x.toFixed(2)).join(" ")}`);

/**
 * The issue's targets, each with this run's figure; one not met says what bounds it in the
 * same run: the loader as built (its threads and every run's start and stop), the ceiling of
 * any SQLite loader of these rows, the floor of any PostgreSQL loader.
 */
function printTargets() {
  const x = (v) => `${v.toFixed(2)}x`;
  /** A bound as a ratio to tidy_tweet (then `after`), with `below2` when 2x is beyond it. */
  const upTo = (ratio, below2, after = "") => `${x(ratio)}${after}${ratio < 2 ? ` (${below2})` : ""}`;
  const out = [];
  const say = (target, figure, met, why = "") => out.push(`  ${met ? "met    " : "not met"}  ${target}: ${figure}${met ? "" : why}`);
  for (const s of shapes) {
    const j = judged[s];
    const an = res[s].anchor;
    if (j.sqliteRatio === undefined) {
      out.push(`  -        SQLite >= 2x tidy_tweet, ${s} files: anchor not run (${anchorWhy})`);
      continue;
    }
    const anchor = median(secs(an));
    const bounds = [];
    if (j.own !== undefined) bounds.push(`this run's own work (its CPU over the cores, plus its time outside the loading) allows ${x(anchor / j.own)}`);
    if (judged.asBuilt !== undefined) bounds.push(`the loader as built ${upTo(anchor / judged.asBuilt, "out of this loader's reach")}`);
    if (judged.ceiling !== undefined)
      bounds.push(`any loader of these rows with one writer ${upTo(anchor / judged.ceiling, "out of reach on this machine")}`);
    say(`SQLite >= 2x tidy_tweet, ${s} files`, x(j.sqliteRatio), j.sqliteRatio >= 2, bounds.length ? `; at most: ${bounds.join(", ")}` : "");
    if (j.pgRatio !== undefined) {
      const reach = judged.floor === undefined ? "" : `; at most ${upTo(anchor / judged.floor, "out of reach on this machine", " for any PostgreSQL loader")}`;
      say(`PostgreSQL >= 2x tidy_tweet, ${s} files`, x(j.pgRatio), j.pgRatio >= 2, reach);
    }
  }
  for (const s of shapes) {
    const j = judged[s];
    if (j.pgVsSqlite === undefined) continue;
    const lite = median(secs(res[s].sqlite));
    const why =
      judged.floor === undefined
        ? ""
        : `; any PostgreSQL loader needs ${judged.floor.toFixed(2)} s, SQLite took ${lite.toFixed(2)} s` +
          (judged.ceiling !== undefined && judged.floor > judged.ceiling ? ` and a SQLite loader could take ${judged.ceiling.toFixed(2)} s (PostgreSQL cannot match that here)` : "");
    say(`PostgreSQL at least as fast as SQLite, ${s} files`, `${j.pgVsSqlite.toFixed(2)} of its speed`, j.pgVsSqlite >= 1, why);
  }
  if (judged.perFileMs !== undefined) say("a file costs <= 2 ms above its bytes", `${judged.perFileMs.toFixed(1)} ms at most`, judged.perFileMs <= 2);
  const rss = shapes.flatMap((s) => [...res[s].sqlite, ...res[s].pg].map((x) => x.rss));
  if (rss.length && !rss.some(Number.isNaN)) say(`peak RSS <= 300 MB (${shapes.join(" and ")} files, ${pgWhy ? "SQLite" : "both backends"})`, `${(Math.max(...rss) / 1e6).toFixed(0)} MB at most`, Math.max(...rss) <= 300e6);
  if (judged.bigPageExit !== undefined) say("a 50 MB single-line page loads", `exit ${judged.bigPageExit}`, judged.bigPageExit === 0);
  console.log(`\ntargets (this run; where one is not met, what bounds it, measured in this run):\n${out.join("\n")}`);
}
if (!keep) rmSync(dir, { recursive: true, force: true });
else console.log(`kept ${dir}`);
