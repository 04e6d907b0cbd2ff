/**
 * Test helper: what each built-in report must say about the fixture files, from an
 * independent pass over the fixture JSON (no SQL). Shared by the SQLite and PostgreSQL tests.
 */
import { dataTweets, readPages, type Tweet } from "./tidy-db.js";

export const FILES = ["brexit.jsonl", "timeline-observatoryteam.jsonl", "many_urls.jsonl", "streaming_output_with_error.jsonl", "cashtags.jsonl"];
export const RESOLVED = { "https://t.co/C73mC2F5nY": "https://Final.Example.net:8443/landing?x=1" };
export const LIMIT = 1000;

/** An independent pass over the fixture JSON: what each report must say. */
export function expectations() {
  const byId = new Map<string, Tweet>();
  const collected = new Set<string>();
  let pages = 0;
  let apiErrors = 0;
  let bad = 0;
  for (const f of FILES) {
    const r = readPages(f);
    bad += r.bad;
    pages += r.pages.length;
    for (const p of r.pages) {
      apiErrors += p.errors?.length ?? 0;
      for (const t of dataTweets(p)) {
        collected.add(t.id);
        if (!byId.has(t.id)) byId.set(t.id, t);
      }
      for (const t of p.includes?.tweets ?? []) if (!byId.has(t.id)) byId.set(t.id, t);
    }
  }
  const count = (m: Map<string, Set<string>>, key: string, id: string) => {
    if (!m.has(key)) m.set(key, new Set());
    m.get(key)!.add(id);
  };
  const days = new Map<string, Set<string>>();
  const tags = new Map<string, Set<string>>();
  const mentions = new Map<string, Set<string>>();
  const urls = new Map<string, Set<string>>();
  const domains = new Map<string, Set<string>>();
  const langs = new Map<string, Set<string>>();
  const retweeted = new Map<string, Set<string>>();
  const quoted = new Map<string, Set<string>>();
  for (const id of collected) {
    const t = byId.get(id)!;
    if (t.created_at) count(days, t.created_at.slice(0, 10), id);
    count(langs, t.lang ?? "(unknown)", id);
    for (const h of t.entities?.hashtags ?? []) count(tags, h.tag.toLowerCase(), id);
    for (const m of t.entities?.mentions ?? []) count(mentions, m.username.toLowerCase(), id);
    for (const u of t.entities?.urls ?? []) {
      if (u.media_key) continue;
      const eff = (RESOLVED as Record<string, string>)[u.url] ?? u.unwound_url ?? u.expanded_url ?? u.url;
      count(urls, eff, id);
      count(domains, new URL(eff).hostname.toLowerCase(), id);
    }
    for (const r of t.referenced_tweets ?? []) {
      if (r.type === "retweeted") count(retweeted, r.id, id);
      if (r.type === "quoted") count(quoted, r.id, id);
    }
  }
  const ranked = (m: Map<string, Set<string>>) =>
    [...m].map(([k, s]) => [k, s.size] as [string, number]).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return { collected, byId, pages, apiErrors, bad, days, tags: ranked(tags), mentions: ranked(mentions), urls: ranked(urls), domains: ranked(domains), langs: ranked(langs), retweeted: ranked(retweeted), quoted: ranked(quoted) };
}
