// Tweet tidier benchmark: our loader vs. the physical limit, in the same run.
//   node bench/tidy.mjs [--mb 60] [--files 6] [--keep]
// Builds a corpus of >= 50 MB from the real fixtures (ids rewritten so every copy is
// Knob: UJR_TIDY_BENCH_WORKER=1 parses in a worker thread (parseInWorker), =0 forces the main thread.
// distinct) in a temp dir, tidies it into a fresh SQLite file with
// @ujr/plugin-tweet-tidier, then measures JSON.parse of the same bytes plus a plain
// prepared-statement insert of (id, text, author_id) of the data tweets into a bare table.
import { createReadStream, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const here = fileURLToPath(new URL(".", import.meta.url));
const pkgDir = join(here, "..", "packages", "plugin-tweet-tidier");
const requireFromPkg = createRequire(join(pkgDir, "package.json"));
const Database = requireFromPkg("better-sqlite3");
const { SqliteTidyStore } = await import(join(pkgDir, "dist", "index.js"));

// child mode: `node bench/tidy.mjs --child <db> <files...>` loads with our loader and reports its own peak RSS
if (process.argv[2] === "--child") {
  const [, , , db, ...paths] = process.argv;
  const t = performance.now();
  const store = new SqliteTidyStore(db);
  let tweets = 0;
  for (const f of paths) {
    const r = await store.ingestFile(f, process.env.UJR_TIDY_BENCH_WORKER ? { parseInWorker: process.env.UJR_TIDY_BENCH_WORKER === "1" } : {});
    if (r.status !== "loaded") throw new Error(`${f}: ${r.status}`);
    tweets += r.tweets;
  }
  const seconds = (performance.now() - t) / 1000;
  const counts = { tweets: store.db.prepare("SELECT count(*) n FROM tweets").get().n, users: store.db.prepare("SELECT count(*) n FROM users").get().n };
  await store.close();
  process.stdout.write(JSON.stringify({ seconds, tweets, counts, maxRssKb: process.resourceUsage().maxRSS }));
  process.exit(0);
}
const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? dflt : process.argv[i + 1];
};
const targetMb = Number(arg("mb", "60"));
const nFiles = Number(arg("files", "6"));
const keep = process.argv.includes("--keep");
const fixtures = process.env.UJR_FIXTURES_DIR ?? join(here, "..", "..", "shared", "fixtures", "twitter");

// ---- corpus ------------------------------------------------------------------------
const lines = [];
for (const f of readdirSync(fixtures).filter((x) => x.endsWith(".jsonl")).sort()) {
  for (const l of readFileSync(join(fixtures, f), "utf8").split("\n")) {
    if (!l.trim()) continue;
    try {
      JSON.parse(l);
      lines.push(l);
    } catch {
      /* the fixture's deliberately truncated line */
    }
  }
}
const baseBytes = lines.reduce((a, l) => a + Buffer.byteLength(l) + 1, 0);
const copies = Math.ceil((targetMb * 1e6) / baseBytes);
const ID = /(?<=["_])(\d{6,20})(?=")/g;
const dir = mkdtempSync(join(tmpdir(), "ujr-bench-tidy-"));
const files = [];
let dataTweets = 0;
let totalBytes = 0;
const perFile = Math.ceil(copies / nFiles);
for (let fi = 0; fi < nFiles; fi++) {
  const parts = [];
  for (let k = fi * perFile; k < Math.min(copies, (fi + 1) * perFile); k++) {
    const prefix = String(k + 1).padStart(4, "0");
    for (const l of lines) parts.push(l.replace(ID, (m) => prefix + m));
  }
  if (!parts.length) break;
  const p = join(dir, `raw-${String(fi).padStart(3, "0")}.jsonl`);
  const text = parts.join("\n") + "\n";
  writeFileSync(p, text);
  files.push(p);
  totalBytes += Buffer.byteLength(text);
}
for (const l of lines) {
  const d = JSON.parse(l).data;
  dataTweets += Array.isArray(d) ? d.length : d ? 1 : 0;
}
dataTweets *= copies;
const MB = totalBytes / 1e6;
console.log(`corpus: ${files.length} files, ${MB.toFixed(1)} MB, ${copies} copies of ${lines.length} fixture pages, ${dataTweets} data tweets (${dir})`);


// ---- ours (in a child process, so its peak RSS is its own) --------------------------
const { execFileSync } = await import("node:child_process");
const dbPath = join(dir, "tidy.sqlite");
const child = JSON.parse(execFileSync(process.execPath, [fileURLToPath(import.meta.url), "--child", dbPath, ...files], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }));
const ours = child.seconds;
const counts = child.counts;
const oursRss = child.maxRssKb * 1024;
if (child.tweets !== dataTweets) throw new Error(`loaded ${child.tweets} data tweets, expected ${dataTweets}`);

// ---- limit: JSON.parse + bare prepared insert ------------------------------------------
const limitDb = join(dir, "limit.sqlite");
const t1 = performance.now();
const db = new Database(limitDb);
db.pragma("journal_mode = WAL");
db.pragma("synchronous = NORMAL");
db.exec("CREATE TABLE tweets (id TEXT PRIMARY KEY, text TEXT, author_id TEXT)");
const ins = db.prepare("INSERT OR IGNORE INTO tweets (id, text, author_id) VALUES (?, ?, ?)");
for (const f of files) {
  db.exec("BEGIN");
  let carry = "";
  for await (const chunk of createReadStream(f, { highWaterMark: 1 << 20, encoding: "utf8" })) {
    const parts = (carry + chunk).split("\n");
    carry = parts.pop();
    for (const l of parts) {
      if (!l) continue;
      const d = JSON.parse(l).data;
      for (const t of Array.isArray(d) ? d : d ? [d] : []) ins.run(t.id, t.text ?? null, t.author_id ?? null);
    }
  }
  if (carry) {
    const d = JSON.parse(carry).data;
    for (const t of Array.isArray(d) ? d : d ? [d] : []) ins.run(t.id, t.text ?? null, t.author_id ?? null);
  }
  db.exec("COMMIT");
}
db.close();
const limit = (performance.now() - t1) / 1000;

const fmt = (n) => Math.round(n).toLocaleString("en-US");
console.log(`ours  (@ujr/plugin-tweet-tidier -> SQLite, full schema): ${ours.toFixed(2)} s  ${fmt(dataTweets / ours)} data tweets/s  ${(MB / ours).toFixed(1)} MB/s  (${counts.tweets} distinct tweets, ${counts.users} users)`);
console.log(`limit (JSON.parse + bare prepared insert id/text/author): ${limit.toFixed(2)} s  ${fmt(dataTweets / limit)} data tweets/s  ${(MB / limit).toFixed(1)} MB/s`);
console.log(`ratio ours/limit: ${(limit / ours).toFixed(2)}  (target >= 42,000 data tweets/s; tidy_tweet ~4,200/s, 11 MB/s)`);
console.log(`peak RSS of our loader (child process, whole run): ${(oursRss / 1e6).toFixed(0)} MB; largest file ${(Math.max(...files.map((f) => statSync(f).size)) / 1e6).toFixed(1)} MB, total ${MB.toFixed(1)} MB`);
if (!keep) rmSync(dir, { recursive: true, force: true });
