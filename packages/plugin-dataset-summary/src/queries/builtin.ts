/**
 * Built-in reports over the tidy schema of @ujr/plugin-tweet-tidier (documented in that
 * package's docs/schema.md; only table and column names are shared, never code).
 *
 * Every report counts the tweets of the collection: rows of `tweets` with
 * `directly_collected` true (tweets that were in a page's `data`, not only included as
 * context), optionally limited to `created_at` in [from, to). Counts are of distinct
 * tweets (a tweet with `#a #A` counts once for `a`).
 *
 * Parameters every report receives: `:from`, `:to` (ISO timestamps or NULL), `:limit`,
 * `:since` (the previous run's watermark, or NULL on the first run).
 */
import type { Dialect } from "../db/types.js";

export const BUILTIN_REPORTS = [
  "tweets_over_time",
  "top_hashtags",
  "top_mentions",
  "top_urls",
  "top_domains",
  "languages",
  "most_retweeted",
  "most_quoted",
  "new_tweets",
  "collection_health",
] as const;

export type BuiltinReport = (typeof BUILTIN_REPORTS)[number];

export interface BuiltinOptions {
  /** Bucket of tweets_over_time. */
  interval?: "hour" | "day";
  limit?: number;
}

/** How the report is drawn in report.html. */
export interface ChartSpec {
  type: "line" | "bar";
  x: string;
  y: string;
}

export interface BuiltinQuery {
  title: string;
  description: string;
  /** Tables that must exist. */
  requires: string[];
  sql: string;
  chart?: ChartSpec;
}

export const BUILTIN_DESCRIPTIONS: Record<BuiltinReport, string> = {
  tweets_over_time: "Collected tweets per hour or day (UTC) of created_at.",
  top_hashtags: "Hashtags (lower-cased) by number of collected tweets using them.",
  top_mentions: "Mentioned usernames (lower-cased) by number of collected tweets mentioning them.",
  top_urls: "Linked URLs by number of collected tweets; the resolved final URL where the collector resolved it, else unwound, expanded, t.co URL. The tweets' own media links are left out.",
  top_domains: "Host names of those URLs (lower-cased, without port) by number of collected tweets.",
  languages: "Collected tweets per `lang`.",
  most_retweeted: "Tweets most retweeted within the collection (retweets among collected tweets), with the API's retweet_count.",
  most_quoted: "Tweets most quoted within the collection (quote tweets among collected tweets), with the API's quote_count.",
  new_tweets: "Collected tweets first seen since the previous run (first_seen_at after the previous run's watermark).",
  collection_health: "Files loaded, partial files, pages, API errors, ingest errors, tweets and users.",
};

function collected(d: Dialect, alias = "t"): string {
  return d === "sqlite" ? `${alias}.directly_collected = 1` : `${alias}.directly_collected`;
}

function inRange(d: Dialect, alias = "t"): string {
  if (d === "sqlite") {
    return `(:from IS NULL OR ${alias}.created_at >= :from) AND (:to IS NULL OR ${alias}.created_at < :to)`;
  }
  return `(CAST(:from AS timestamptz) IS NULL OR ${alias}.created_at >= CAST(:from AS timestamptz)) AND (CAST(:to AS timestamptz) IS NULL OR ${alias}.created_at < CAST(:to AS timestamptz))`;
}

function scope(d: Dialect, alias = "t"): string {
  return `${collected(d, alias)} AND ${inRange(d, alias)}`;
}

/**
 * A text sort key that sorts the same on both backends: SQLite compares text bytewise
 * (BINARY); PostgreSQL would use the database's collation (e.g. en_US ignores punctuation
 * and case at first), which changes the order and which rows a LIMIT keeps. "C" is
 * bytewise, and UTF-8 byte order is code point order, as in SQLite.
 */
function textKey(d: Dialect, expr: string): string {
  return d === "sqlite" ? expr : `${expr} COLLATE "C"`;
}

/** Descending with NULLs last, as SQLite sorts them (PostgreSQL puts NULLs first in DESC). */
function desc(expr: string): string {
  return `${expr} DESC NULLS LAST`;
}

function limit(d: Dialect): string {
  return d === "sqlite" ? "LIMIT :limit" : "LIMIT CAST(:limit AS bigint)";
}

/** The URL to analyse: sidecar final URL, else unwound, expanded, t.co. */
const EFFECTIVE_URL = "COALESCE(u.final_url, r1.final_url, r2.final_url, u.unwound_url, u.expanded_url, u.url)";

function hostOf(d: Dialect, expr: string): string {
  // host = text after "://" up to the first of / ? # :
  if (d === "sqlite") {
    const rest = `replace(replace(replace(CASE WHEN instr(${expr}, '://') > 0 THEN substr(${expr}, instr(${expr}, '://') + 3) ELSE ${expr} END, '?', '/'), '#', '/'), ':', '/') || '/'`;
    return `lower(substr(${rest}, 1, instr(${rest}, '/') - 1))`;
  }
  return `lower(split_part(replace(replace(replace(CASE WHEN strpos(${expr}, '://') > 0 THEN substr(${expr}, strpos(${expr}, '://') + 3) ELSE ${expr} END, '?', '/'), '#', '/'), ':', '/'), '/', 1))`;
}

function urlSource(d: Dialect): string {
  return `SELECT DISTINCT u.tweet_id, ${EFFECTIVE_URL} AS effective_url
    FROM urls u
    JOIN tweets t ON t.id = u.tweet_id
    LEFT JOIN resolved_urls r1 ON r1.url = u.url
    LEFT JOIN resolved_urls r2 ON r2.url = u.expanded_url
    WHERE u.media_key IS NULL AND ${scope(d)}`;
}

function periodExpr(d: Dialect, interval: "hour" | "day"): string {
  if (d === "sqlite") {
    // created_at is ISO 8601 UTC text: YYYY-MM-DDTHH:MM:SS.sssZ
    return interval === "hour" ? "substr(t.created_at, 1, 13) || ':00:00Z'" : "substr(t.created_at, 1, 10)";
  }
  return interval === "hour"
    ? `to_char(date_trunc('hour', t.created_at AT TIME ZONE 'UTC'), 'YYYY-MM-DD"T"HH24:00:00"Z"')`
    : `to_char(date_trunc('day', t.created_at AT TIME ZONE 'UTC'), 'YYYY-MM-DD')`;
}

export function builtinQuery(report: BuiltinReport, d: Dialect, options: BuiltinOptions = {}): BuiltinQuery {
  const description = BUILTIN_DESCRIPTIONS[report];
  switch (report) {
    case "tweets_over_time": {
      const interval = options.interval ?? "day";
      const p = periodExpr(d, interval);
      return {
        title: `Tweets per ${interval}`,
        description,
        requires: ["tweets"],
        sql: `SELECT ${p} AS period, count(*) AS tweets FROM tweets t WHERE t.created_at IS NOT NULL AND ${scope(d)} GROUP BY ${p} ORDER BY ${textKey(d, p)}`,
        chart: { type: "line", x: "period", y: "tweets" },
      };
    }
    case "top_hashtags":
      return {
        title: "Top hashtags",
        description,
        requires: ["tweets", "hashtags"],
        sql: `SELECT h.tag_lower AS hashtag, count(DISTINCT h.tweet_id) AS tweets
          FROM hashtags h JOIN tweets t ON t.id = h.tweet_id
          WHERE h.tag_lower IS NOT NULL AND ${scope(d)}
          GROUP BY h.tag_lower ORDER BY tweets DESC, ${textKey(d, "h.tag_lower")} ${limit(d)}`,
        chart: { type: "bar", x: "hashtag", y: "tweets" },
      };
    case "top_mentions":
      return {
        title: "Top mentioned users",
        description,
        requires: ["tweets", "mentions"],
        sql: `SELECT lower(m.username) AS username, count(DISTINCT m.tweet_id) AS tweets
          FROM mentions m JOIN tweets t ON t.id = m.tweet_id
          WHERE m.username IS NOT NULL AND ${scope(d)}
          GROUP BY lower(m.username) ORDER BY tweets DESC, ${textKey(d, "lower(m.username)")} ${limit(d)}`,
        chart: { type: "bar", x: "username", y: "tweets" },
      };
    case "top_urls":
      return {
        title: "Top URLs",
        description,
        requires: ["tweets", "urls", "resolved_urls"],
        sql: `SELECT s.effective_url AS url, count(DISTINCT s.tweet_id) AS tweets
          FROM (${urlSource(d)}) s
          WHERE s.effective_url IS NOT NULL
          GROUP BY s.effective_url ORDER BY tweets DESC, ${textKey(d, "s.effective_url")} ${limit(d)}`,
        chart: { type: "bar", x: "url", y: "tweets" },
      };
    case "top_domains":
      return {
        title: "Top domains",
        description,
        requires: ["tweets", "urls", "resolved_urls"],
        sql: `SELECT x.domain, count(DISTINCT x.tweet_id) AS tweets
          FROM (SELECT s.tweet_id, ${hostOf(d, "s.effective_url")} AS domain FROM (${urlSource(d)}) s WHERE s.effective_url IS NOT NULL) x
          WHERE x.domain IS NOT NULL AND x.domain <> ''
          GROUP BY x.domain ORDER BY tweets DESC, ${textKey(d, "x.domain")} ${limit(d)}`,
        chart: { type: "bar", x: "domain", y: "tweets" },
      };
    case "languages":
      return {
        title: "Languages",
        description,
        requires: ["tweets"],
        sql: `SELECT COALESCE(t.lang, '(unknown)') AS lang, count(*) AS tweets
          FROM tweets t WHERE ${scope(d)}
          GROUP BY COALESCE(t.lang, '(unknown)') ORDER BY tweets DESC, ${textKey(d, "COALESCE(t.lang, '(unknown)')")} ${limit(d)}`,
        chart: { type: "bar", x: "lang", y: "tweets" },
      };
    case "most_retweeted":
    case "most_quoted": {
      const type = report === "most_retweeted" ? "retweeted" : "quoted";
      const metric = report === "most_retweeted" ? "retweet_count" : "quote_count";
      const countCol = report === "most_retweeted" ? "retweets" : "quotes";
      return {
        title: report === "most_retweeted" ? "Most retweeted tweets" : "Most quoted tweets",
        description,
        requires: ["tweets", "tweet_references", "users"],
        sql: `SELECT r.referenced_tweet_id AS tweet_id, ou.username AS author, o.created_at, count(DISTINCT r.tweet_id) AS ${countCol},
            o.${metric} AS ${metric}, o.text
          FROM tweet_references r
          JOIN tweets t ON t.id = r.tweet_id
          LEFT JOIN tweets o ON o.id = r.referenced_tweet_id
          LEFT JOIN users ou ON ou.id = o.author_id
          WHERE r.reference_type = '${type}' AND ${scope(d)}
          GROUP BY r.referenced_tweet_id, ou.username, o.created_at, o.${metric}, o.text
          ORDER BY ${countCol} DESC, ${desc(`o.${metric}`)}, ${textKey(d, "r.referenced_tweet_id")} ${limit(d)}`,
        chart: { type: "bar", x: "tweet_id", y: countCol },
      };
    }
    case "new_tweets": {
      const since =
        d === "sqlite"
          ? "(:since IS NULL OR t.first_seen_at > :since)"
          : // the watermark is written with millisecond precision: compare at that precision,
            // or a tweet first seen at .123456 would be "new" again after a watermark of .123
            "(CAST(:since AS timestamptz) IS NULL OR date_trunc('milliseconds', t.first_seen_at) > CAST(:since AS timestamptz))";
      const sinceOut = d === "sqlite" ? ":since" : "CAST(:since AS text)";
      const maxSeen = d === "sqlite" ? "max(t.first_seen_at)" : `to_char(max(t.first_seen_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
      return {
        title: "New tweets since the last run",
        description,
        requires: ["tweets"],
        sql: `SELECT ${sinceOut} AS since, ${maxSeen} AS watermark, count(*) AS new_tweets
          FROM tweets t WHERE ${since} AND ${scope(d)}`,
      };
    }
    case "collection_health": {
      const b = (col: string) => `COALESCE(sum(${col}), 0)`;
      const text = (e: string) => (d === "sqlite" ? e : `CAST(${e} AS text)`);
      const ts = (e: string) => (d === "sqlite" ? e : `to_char(${e} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`);
      return {
        title: "Collection health",
        description,
        requires: ["source_files", "pages", "api_errors", "ingest_errors", "tweets", "users"],
        sql: `SELECT 'files' AS metric, ${text("count(*)")} AS value FROM source_files WHERE kind <> 'urls'
          UNION ALL SELECT 'files_partial', ${text("count(*)")} FROM source_files WHERE status = 'partial'
          UNION ALL SELECT 'url_sidecar_files', ${text("count(*)")} FROM source_files WHERE kind = 'urls'
          UNION ALL SELECT 'pages', ${text("count(*)")} FROM pages
          UNION ALL SELECT 'api_errors', ${text("count(*)")} FROM api_errors
          UNION ALL SELECT 'ingest_errors', ${text("count(*)")} FROM ingest_errors
          UNION ALL SELECT 'data_tweets_loaded', ${text(b("data_tweets"))} FROM source_files
          UNION ALL SELECT 'tweets_collected', ${text("count(*)")} FROM tweets t WHERE ${collected(d)}
          UNION ALL SELECT 'tweets_total', ${text("count(*)")} FROM tweets
          UNION ALL SELECT 'users', ${text("count(*)")} FROM users
          UNION ALL SELECT 'first_loaded_at', ${ts("min(loaded_at)")} FROM source_files
          UNION ALL SELECT 'last_loaded_at', ${ts("max(loaded_at)")} FROM source_files`,
      };
    }
  }
}

/** Range of created_at of the collected tweets (for the manifest). */
export function datasetRangeQuery(d: Dialect): string {
  const ts = (e: string) => (d === "sqlite" ? e : `to_char(${e} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`);
  return `SELECT ${ts("min(t.created_at)")} AS first_tweet_at, ${ts("max(t.created_at)")} AS last_tweet_at, count(*) AS tweets FROM tweets t WHERE ${scope(d)}`;
}

export function isBuiltinReport(name: string): name is BuiltinReport {
  return (BUILTIN_REPORTS as readonly string[]).includes(name);
}
