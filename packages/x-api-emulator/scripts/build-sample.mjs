#!/usr/bin/env node
// Rebuilds corpus/sample.jsonl from the real fixtures (<repo>/fixtures/twitter/,
// or UJR_FIXTURES_DIR). Pages are copied as they are, except that some tweets' link
// entities are rewritten to the emulator's own short links (`{base}/s/<code>`, filled in
// with the server's origin at serve time), so that URL resolution can be demonstrated
// offline. Run: node scripts/build-sample.mjs
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const dir = process.env.UJR_FIXTURES_DIR
  ? new URL(`file://${process.env.UJR_FIXTURES_DIR.replace(/\/?$/, "/")}`)
  : new URL("../../../fixtures/twitter/", import.meta.url);
const files = [
  "brexit.jsonl",
  "timeline-observatoryteam.jsonl",
  "geo_tweets.jsonl",
  "media_tweet.jsonl",
  "edited.jsonl",
  "cashtags.jsonl",
  "many_urls.jsonl",
  "verified_type.jsonl",
  "two_tweets.jsonl",
];
const REWRITES = 40;
const SPECIAL = { 1: "chain-2", 4: "chain-3", 6: "loop-a", 8: "dead" };

const pages = [];
for (const f of files) {
  for (const line of readFileSync(fileURLToPath(new URL(f, dir)), "utf8").split("\n")) {
    if (line.trim() === "") continue;
    pages.push(JSON.parse(line));
  }
}

// Choose link entities to rewrite, in page order: tweet id + url index -> code.
const plan = new Map();
let n = 0;
for (const page of pages) {
  for (const t of Array.isArray(page.data) ? page.data : []) {
    const urls = t.entities?.urls ?? [];
    urls.forEach((u, i) => {
      if (n >= REWRITES || u.media_key || /twitter\.com\//.test(u.expanded_url ?? "")) return;
      const host = (() => {
        try {
          return new URL(u.expanded_url).hostname.replace(/^www\./, "").replace(/[^a-z0-9]+/gi, "-");
        } catch {
          return "link";
        }
      })();
      const code = SPECIAL[n % 10] ?? `page-${host}-${n}`;
      plan.set(`${t.id}#${i}`, code);
      n++;
    });
  }
}

const rewrite = (t) => {
  (t.entities?.urls ?? []).forEach((u, i) => {
    const code = plan.get(`${t.id}#${i}`);
    if (!code) return;
    u.url = `{base}/s/${code}`;
    u.expanded_url = `{base}/s/${code}`;
    u.display_url = `emulator/s/${code}`;
    delete u.unwound_url;
    delete u.status;
    delete u.title;
    delete u.description;
  });
};
for (const page of pages) {
  for (const t of Array.isArray(page.data) ? page.data : []) rewrite(t);
  for (const t of page.includes?.tweets ?? []) rewrite(t);
}

const out = new URL("../corpus/sample.jsonl", import.meta.url);
writeFileSync(out, pages.map((p) => JSON.stringify(p)).join("\n") + "\n");
const tweets = pages.reduce((s, p) => s + (Array.isArray(p.data) ? p.data.length : 0), 0);
console.log(`wrote ${fileURLToPath(out)}: ${pages.length} pages, ${tweets} tweets, ${plan.size} links rewritten`);
console.log("codes:", [...new Set(plan.values())].join(" "));
