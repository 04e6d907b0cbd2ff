/**
 * Test helper: builds a tidy database from the shared fixtures with plain SQL, following
 * the tidier's documented schema (only the tables and columns the summary reads).
 * Independent of the tidier's code on purpose.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";

export const FIXTURES_DIR = process.env.UJR_FIXTURES_DIR ?? path.resolve(fileURLToPath(import.meta.url), "../../../../../../shared/fixtures/twitter");

export const DDL = [
  `CREATE TABLE source_files (id INTEGER PRIMARY KEY, path TEXT NOT NULL, sha256 TEXT NOT NULL, size_bytes INTEGER NOT NULL, kind TEXT NOT NULL, status TEXT NOT NULL, lines INTEGER, pages INTEGER, data_tweets INTEGER, included_tweets INTEGER, users INTEGER, resolved_urls INTEGER, api_errors INTEGER, ingest_errors INTEGER, loaded_at TEXT NOT NULL)`,
  `CREATE TABLE pages (source_file_id INTEGER NOT NULL, page_no INTEGER NOT NULL, entry TEXT NOT NULL, line_no INTEGER NOT NULL, retrieved_at TEXT, request_url TEXT, data_count INTEGER, PRIMARY KEY (source_file_id, page_no))`,
  `CREATE TABLE api_errors (source_file_id INTEGER NOT NULL, page_no INTEGER NOT NULL, position INTEGER NOT NULL, title TEXT, detail TEXT, PRIMARY KEY (source_file_id, page_no, position))`,
  `CREATE TABLE ingest_errors (id INTEGER PRIMARY KEY, source_file_id INTEGER NOT NULL, path TEXT NOT NULL, entry TEXT NOT NULL, line_no INTEGER NOT NULL, code TEXT NOT NULL, message TEXT NOT NULL, occurred_at TEXT NOT NULL)`,
  `CREATE TABLE tweets (id TEXT PRIMARY KEY, text TEXT, author_id TEXT, created_at TEXT, lang TEXT, retweet_count INTEGER, quote_count INTEGER, directly_collected INTEGER NOT NULL, first_seen_at TEXT, retrieved_at TEXT)`,
  `CREATE TABLE users (id TEXT PRIMARY KEY, username TEXT, name TEXT, directly_collected INTEGER NOT NULL DEFAULT 0)`,
  `CREATE TABLE tweet_references (tweet_id TEXT NOT NULL, reference_type TEXT NOT NULL, referenced_tweet_id TEXT NOT NULL, PRIMARY KEY (tweet_id, reference_type, referenced_tweet_id))`,
  `CREATE TABLE hashtags (tweet_id TEXT NOT NULL, position INTEGER NOT NULL, start_index INTEGER, end_index INTEGER, tag TEXT, tag_lower TEXT, PRIMARY KEY (tweet_id, position))`,
  `CREATE TABLE mentions (tweet_id TEXT NOT NULL, position INTEGER NOT NULL, start_index INTEGER, end_index INTEGER, username TEXT, user_id TEXT, PRIMARY KEY (tweet_id, position))`,
  `CREATE TABLE urls (tweet_id TEXT NOT NULL, position INTEGER NOT NULL, url TEXT, expanded_url TEXT, display_url TEXT, unwound_url TEXT, media_key TEXT, final_url TEXT, PRIMARY KEY (tweet_id, position))`,
  `CREATE TABLE resolved_urls (url TEXT PRIMARY KEY, expanded_url TEXT, final_url TEXT, status INTEGER)`,
];

export interface Page {
  data?: unknown;
  includes?: { tweets?: Tweet[]; users?: { id: string; username: string; name?: string }[] };
  errors?: unknown[];
  __twarc?: { retrieved_at?: string };
}
export interface Tweet {
  id: string;
  text?: string;
  author_id?: string;
  created_at?: string;
  lang?: string;
  public_metrics?: { retweet_count?: number; quote_count?: number };
  referenced_tweets?: { type: string; id: string }[];
  entities?: {
    hashtags?: { tag: string; start?: number; end?: number }[];
    mentions?: { username: string; id?: string; start?: number; end?: number }[];
    urls?: { url: string; expanded_url?: string; display_url?: string; unwound_url?: string; media_key?: string }[];
  };
}

/** Pages of a fixture file, and the number of unparseable lines. */
export function readPages(file: string): { pages: Page[]; bad: number; lines: number } {
  const pages: Page[] = [];
  let bad = 0;
  let lines = 0;
  for (const line of readFileSync(path.join(FIXTURES_DIR, file), "utf8").split("\n")) {
    if (line.trim() === "") continue;
    lines++;
    try {
      pages.push(JSON.parse(line) as Page);
    } catch {
      bad++;
    }
  }
  return { pages, bad, lines };
}

export const dataTweets = (p: Page): Tweet[] => (Array.isArray(p.data) ? (p.data as Tweet[]) : p.data ? [p.data as Tweet] : []);

/** Builds the database at `file` from fixture files; `resolved` maps URLs to final URLs (a URL sidecar). */
export function buildTidyDb(file: string, fixtureFiles: string[], resolved: Record<string, string> = {}): void {
  const db = new Database(file);
  for (const s of DDL) db.exec(s);
  const insFile = db.prepare(`INSERT INTO source_files (path, sha256, size_bytes, kind, status, lines, pages, data_tweets, api_errors, ingest_errors, loaded_at) VALUES (?, ?, 0, 'pages', ?, ?, ?, ?, ?, ?, ?)`);
  const insPage = db.prepare(`INSERT INTO pages (source_file_id, page_no, entry, line_no, retrieved_at, data_count) VALUES (?, ?, '', ?, ?, ?)`);
  const insApiErr = db.prepare(`INSERT INTO api_errors (source_file_id, page_no, position, title) VALUES (?, ?, ?, ?)`);
  const insIngestErr = db.prepare(`INSERT INTO ingest_errors (source_file_id, path, entry, line_no, code, message, occurred_at) VALUES (?, ?, '', ?, 'UJR_TIDY_BAD_JSON', 'bad json', ?)`);
  const upTweet = db.prepare(`INSERT INTO tweets (id, text, author_id, created_at, lang, retweet_count, quote_count, directly_collected, first_seen_at, retrieved_at)
    VALUES (@id, @text, @author_id, @created_at, @lang, @rt, @qt, @dc, @seen, @seen)
    ON CONFLICT (id) DO UPDATE SET directly_collected = max(directly_collected, excluded.directly_collected), first_seen_at = min(first_seen_at, excluded.first_seen_at)`);
  const upUser = db.prepare(`INSERT INTO users (id, username, name) VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING`);
  const insRef = db.prepare(`INSERT OR IGNORE INTO tweet_references VALUES (?, ?, ?)`);
  const insTag = db.prepare(`INSERT OR IGNORE INTO hashtags VALUES (?, ?, ?, ?, ?, ?)`);
  const insMention = db.prepare(`INSERT OR IGNORE INTO mentions VALUES (?, ?, ?, ?, ?, ?)`);
  const insUrl = db.prepare(`INSERT OR IGNORE INTO urls VALUES (?, ?, ?, ?, ?, ?, ?, NULL)`);
  const insResolved = db.prepare(`INSERT OR REPLACE INTO resolved_urls (url, final_url, status) VALUES (?, ?, 200)`);
  const load = db.transaction(() => {
    for (const name of fixtureFiles) {
      const { pages, bad, lines } = readPages(name);
      const apiErrors = pages.reduce((n, p) => n + (p.errors?.length ?? 0), 0);
      const dataCount = pages.reduce((n, p) => n + dataTweets(p).length, 0);
      const fileId = Number(insFile.run(name, name, bad > 0 ? "partial" : "loaded", lines, pages.length, dataCount, apiErrors, bad, "2024-01-01T00:00:00.000Z").lastInsertRowid);
      if (bad > 0) insIngestErr.run(fileId, name, lines, "2024-01-01T00:00:00.000Z");
      pages.forEach((p, i) => {
        const seen = p.__twarc?.retrieved_at ? new Date(p.__twarc.retrieved_at).toISOString() : null;
        insPage.run(fileId, i + 1, i + 1, seen, dataTweets(p).length);
        (p.errors ?? []).forEach((e, k) => insApiErr.run(fileId, i + 1, k, (e as { title?: string }).title ?? null));
        for (const u of p.includes?.users ?? []) upUser.run(u.id, u.username, u.name ?? null);
        const all: [Tweet, number][] = [...dataTweets(p).map((t) => [t, 1] as [Tweet, number]), ...(p.includes?.tweets ?? []).map((t) => [t, 0] as [Tweet, number])];
        for (const [t, dc] of all) {
          upTweet.run({ id: t.id, text: t.text ?? null, author_id: t.author_id ?? null, created_at: t.created_at ? new Date(t.created_at).toISOString() : null, lang: t.lang ?? null, rt: t.public_metrics?.retweet_count ?? null, qt: t.public_metrics?.quote_count ?? null, dc, seen });
          for (const r of t.referenced_tweets ?? []) insRef.run(t.id, r.type, r.id);
          (t.entities?.hashtags ?? []).forEach((h, k) => insTag.run(t.id, k, h.start ?? null, h.end ?? null, h.tag, h.tag.toLowerCase()));
          (t.entities?.mentions ?? []).forEach((m, k) => insMention.run(t.id, k, m.start ?? null, m.end ?? null, m.username, m.id ?? null));
          (t.entities?.urls ?? []).forEach((u, k) => insUrl.run(t.id, k, u.url, u.expanded_url ?? null, u.display_url ?? null, u.unwound_url ?? null, u.media_key ?? null));
        }
      });
    }
    for (const [url, final] of Object.entries(resolved)) insResolved.run(url, final);
  });
  load();
  db.close();
}
