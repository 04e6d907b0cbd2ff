/**
 * One twarc2 API response page → normalized rows, one array per table of src/schema.ts,
 * each row's values in `insertColumns(table)` order. Pure: no I/O, shared by both backends.
 *
 * Values are already in their stored form: text, numbers, 0/1 for booleans (accepted by
 * Postgres `boolean` too), JSON strings for json columns, ISO strings for timestamps.
 */

export type Value = string | number | null;
export type Row = Value[];

/**
 * Tables written from pages, in the order the stores write them (a fixed order avoids
 * deadlocks). The packed tables (hashtags, mentions, annotations, user_entities: see
 * TableDef.packedIn) are not among them: their rows are a column of their tweet or user row.
 */
export const PAGE_TABLES = [
  "users",
  "tweets",
  "tweet_references",
  "media",
  "tweet_media",
  "places",
  "polls",
  "poll_options",
  "tweet_polls",
  "urls",
  "api_errors",
] as const;
export type PageTable = (typeof PAGE_TABLES)[number];

export type PageRows = { [K in PageTable]: Row[] };

export interface ParsedPage {
  /** The `pages` row. */
  page: Row;
  rows: PageRows;
  dataTweets: number;
  includedTweets: number;
  users: number;
  apiErrors: number;
}

export interface PageContext {
  fileId: number;
  pageNo: number;
  /** Archive member name, "" for a plain file. */
  entry: string;
  lineNo: number;
}

export class NotAPageError extends Error {
  readonly code = "UJR_TIDY_NOT_A_PAGE";
  override readonly name = "NotAPageError";
}

// ---- value coercion -------------------------------------------------------------------

const s = (v: unknown): string | null =>
  v == null ? null : typeof v === "string" ? v : typeof v === "object" ? JSON.stringify(v) : String(v);
const n = (v: unknown): number | null => {
  if (typeof v === "number") return Number.isFinite(v) ? v : null;
  if (v == null || v === "") return null;
  const x = Number(v);
  return Number.isFinite(x) ? x : null;
};
const b = (v: unknown): number | null => (v === true ? 1 : v === false ? 0 : v == null ? null : v ? 1 : 0);
const j = (v: unknown): string | null => (v === undefined || v === null ? null : JSON.stringify(v));
const isObj = (v: unknown): v is Record<string, any> => typeof v === "object" && v !== null && !Array.isArray(v);
const arr = (v: unknown): any[] => (Array.isArray(v) ? v : []);

/** Normalizes a timestamp to ISO 8601 UTC with milliseconds; returns the input text if unparsable. */
export function isoTime(v: unknown): string | null {
  if (v == null || v === "") return null;
  if (typeof v === "string" && v.length === 24 && v.charCodeAt(23) === 90 /* Z */ && v.charCodeAt(19) === 46) return v;
  const d = new Date(v as string);
  return Number.isNaN(d.getTime()) ? s(v) : d.toISOString();
}

/** Unknown keys of `o` (and of its known nested objects), or undefined when there are none. */
function unknownKeys(
  o: Record<string, any>,
  known: Set<string>,
  nested?: Record<string, Set<string>>,
): Record<string, any> | undefined {
  let e: Record<string, any> | undefined;
  for (const k in o) {
    if (!known.has(k)) (e ??= {})[k] = o[k];
    else if (nested !== undefined) {
      const sub = nested[k];
      const v = o[k];
      if (sub !== undefined && isObj(v)) {
        for (const k2 in v) {
          if (!sub.has(k2)) {
            e ??= {};
            (e[k] ??= {})[k2] = v[k2];
          }
        }
      }
    }
  }
  return e;
}

const set = (...xs: string[]) => new Set(xs);

const TWEET_KEYS = set(
  "id",
  "text",
  "author_id",
  "created_at",
  "conversation_id",
  "in_reply_to_user_id",
  "lang",
  "source",
  "possibly_sensitive",
  "reply_settings",
  "public_metrics",
  "edit_history_tweet_ids",
  "edit_controls",
  "withheld",
  "geo",
  "attachments",
  "note_tweet",
  "referenced_tweets",
  "entities",
  "context_annotations",
);
const TWEET_NESTED: Record<string, Set<string>> = {
  public_metrics: set("retweet_count", "reply_count", "like_count", "quote_count", "impression_count", "bookmark_count"),
  edit_controls: set("editable_until", "edits_remaining", "is_edit_eligible"),
  withheld: set("copyright", "country_codes", "scope"),
  geo: set("place_id", "coordinates"),
  attachments: set("media_keys", "poll_ids"),
  note_tweet: set("text"),
  entities: set("urls", "hashtags", "cashtags", "mentions", "annotations"),
};
const USER_KEYS = set(
  "id",
  "username",
  "name",
  "created_at",
  "description",
  "location",
  "url",
  "profile_image_url",
  "protected",
  "verified",
  "verified_type",
  "pinned_tweet_id",
  "public_metrics",
  "withheld",
  "entities",
);
const USER_NESTED: Record<string, Set<string>> = {
  public_metrics: set("followers_count", "following_count", "tweet_count", "listed_count", "like_count"),
  withheld: set("country_codes", "scope"),
  entities: set("description", "url"),
};
const MEDIA_KEYS = set(
  "media_key",
  "type",
  "url",
  "preview_image_url",
  "width",
  "height",
  "duration_ms",
  "alt_text",
  "public_metrics",
  "variants",
);
const MEDIA_NESTED = { public_metrics: set("view_count") };
const PLACE_KEYS = set("id", "full_name", "name", "country", "country_code", "place_type", "geo");
const POLL_KEYS = set("id", "voting_status", "duration_minutes", "end_datetime", "options");
const URL_KEYS = set(
  "start",
  "end",
  "url",
  "expanded_url",
  "display_url",
  "unwound_url",
  "title",
  "description",
  "status",
  "media_key",
  "images",
);
const ERROR_KEYS = set("title", "detail", "type", "resource_type", "resource_id", "parameter", "value");
const PAGE_KEYS = set("data", "includes", "meta", "errors", "__twarc", "matching_rules");
const INCLUDE_KEYS = set("tweets", "users", "media", "places", "polls");
const SIDECAR_KEYS = set("url", "expanded_url", "final_url", "status", "hops", "error");

export function emptyRows(): PageRows {
  return {
    users: [],
    tweets: [],
    tweet_references: [],
    media: [],
    tweet_media: [],
    places: [],
    polls: [],
    poll_options: [],
    tweet_polls: [],
    urls: [],
    api_errors: [],
  };
}

function isTweet(o: Record<string, any>): boolean {
  return o.text !== undefined || o.author_id !== undefined || o.edit_history_tweet_ids !== undefined || o.username === undefined;
}

function addTweet(r: PageRows, t: Record<string, any>, direct: number, ra: string | null, ctx: PageContext): void {
  const id = s(t.id);
  if (id === null) throw new NotAPageError("a tweet without an id");
  const pm = t.public_metrics;
  const ec = t.edit_controls;
  const wh = t.withheld;
  const geo = t.geo;
  const coords = isObj(geo) && isObj(geo.coordinates) ? geo.coordinates : undefined;
  const cc = coords !== undefined ? coords.coordinates : undefined;
  const att = t.attachments;
  const ex = unknownKeys(t, TWEET_KEYS, TWEET_NESTED);
  const pmo = isObj(pm);
  const eco = isObj(ec);
  const who = isObj(wh);
  const atto = isObj(att);
  const row: Row = [
    id,
    s(t.text),
    s(t.author_id),
    t.created_at === undefined ? null : isoTime(t.created_at),
    s(t.conversation_id),
    s(t.in_reply_to_user_id),
    s(t.lang),
    s(t.source),
    b(t.possibly_sensitive),
    s(t.reply_settings),
    pmo ? n(pm.retweet_count) : null,
    pmo ? n(pm.reply_count) : null,
    pmo ? n(pm.like_count) : null,
    pmo ? n(pm.quote_count) : null,
    pmo ? n(pm.impression_count) : null,
    pmo ? n(pm.bookmark_count) : null,
    j(t.edit_history_tweet_ids),
    eco ? isoTime(ec.editable_until) : null,
    eco ? n(ec.edits_remaining) : null,
    eco ? b(ec.is_edit_eligible) : null,
    who ? b(wh.copyright) : null,
    who ? j(wh.country_codes) : null,
    who ? s(wh.scope) : null,
    isObj(geo) ? s(geo.place_id) : null,
    coords !== undefined ? s(coords.type) : null,
    Array.isArray(cc) ? n(cc[0]) : null,
    Array.isArray(cc) ? n(cc[1]) : null,
    atto ? j(att.media_keys) : null,
    atto ? j(att.poll_ids) : null,
    isObj(t.note_tweet) ? s(t.note_tweet.text) : null,
    direct,
    ctx.pageNo,
    ra,
    ra,
    ra,
    ctx.fileId,
    ex === undefined ? null : JSON.stringify(ex),
  ];
  r.tweets.push(row);

  const refs = t.referenced_tweets;
  if (Array.isArray(refs)) {
    for (const x of refs) if (isObj(x) && x.id != null) r.tweet_references.push([id, s(x.type) ?? "", s(x.id)]);
  }
  if (atto) {
    const mk = att.media_keys;
    if (Array.isArray(mk)) for (let i = 0; i < mk.length; i++) r.tweet_media.push([id, s(mk[i]), i]);
    const pi = att.poll_ids;
    if (Array.isArray(pi)) for (const p of pi) r.tweet_polls.push([id, s(p)]);
  }
  let hashtags: Row[] | undefined;
  let cashtags: Row[] | undefined;
  let mentions: Row[] | undefined;
  let contexts: Row[] | undefined;
  let annotations: Row[] | undefined;
  const ent = t.entities;
  if (isObj(ent)) {
    const urls = ent.urls;
    if (Array.isArray(urls)) {
      for (let i = 0; i < urls.length; i++) {
        const u = urls[i];
        if (!isObj(u)) continue;
        const ux = unknownKeys(u, URL_KEYS);
        r.urls.push([
          id,
          i,
          n(u.start),
          n(u.end),
          s(u.url),
          s(u.expanded_url),
          s(u.display_url),
          s(u.unwound_url),
          s(u.title),
          s(u.description),
          n(u.status),
          s(u.media_key),
          j(u.images),
          null,
          ux === undefined ? null : JSON.stringify(ux),
        ]);
      }
    }
    hashtags = tags(ent.hashtags);
    cashtags = tags(ent.cashtags);
    const ms = ent.mentions;
    if (Array.isArray(ms)) {
      for (let i = 0; i < ms.length; i++) {
        const m = ms[i];
        if (!isObj(m)) continue;
        (mentions ??= []).push([i, n(m.start), n(m.end), s(m.username), s(m.id)]);
      }
    }
    const an = ent.annotations;
    if (Array.isArray(an)) {
      for (let i = 0; i < an.length; i++) {
        const a = an[i];
        if (!isObj(a)) continue;
        (annotations ??= []).push([i, n(a.start), n(a.end), s(a.type), s(a.normalized_text), n(a.probability)]);
      }
    }
  }
  const ca = t.context_annotations;
  if (Array.isArray(ca)) {
    let seen: Set<string> | undefined;
    for (const a of ca) {
      if (!isObj(a)) continue;
      const d = isObj(a.domain) ? a.domain : {};
      const e = isObj(a.entity) ? a.entity : {};
      const domainId = s(d.id) ?? "";
      const entityId = s(e.id) ?? "";
      // the key of a context annotation: the first of a repeated pair stays, as in a table keyed by it
      const key = `${domainId}\u0000${entityId}`;
      if (seen?.has(key)) continue;
      (seen ??= new Set()).add(key);
      (contexts ??= []).push([domainId, entityId, s(d.name), s(d.description), s(e.name), s(e.description)]);
    }
  }
  // packed columns, in the order of packedTables("tweets")
  row.push(pack(hashtags), pack(cashtags), pack(mentions), pack(contexts), pack(annotations));
}

/** A packed column's value: its rows as one JSON array, NULL when none. */
const pack = (rows: Row[] | undefined): string | null => (rows === undefined ? null : JSON.stringify(rows));

/** Packed rows of hashtags or cashtags: [position, start, end, tag, tag lower-cased]. */
function tags(hs: unknown): Row[] | undefined {
  if (!Array.isArray(hs)) return undefined;
  let out: Row[] | undefined;
  for (let i = 0; i < hs.length; i++) {
    const h = hs[i];
    if (!isObj(h)) continue;
    const tag = s(h.tag);
    (out ??= []).push([i, n(h.start), n(h.end), tag, tag === null ? null : tag.toLowerCase()]);
  }
  return out;
}

/** Packed user_entities rows of one field of a profile's `entities`: [field, kind, position, start, end, text, expanded_url, display_url]. */
function addUserEntities(out: Row[], field: string, e: Record<string, any>): void {
  const kinds: [string, string][] = [
    ["urls", "url"],
    ["hashtags", "hashtag"],
    ["cashtags", "cashtag"],
    ["mentions", "mention"],
  ];
  for (const [key, kind] of kinds) {
    const xs = e[key];
    if (!Array.isArray(xs)) continue;
    for (let i = 0; i < xs.length; i++) {
      const x = xs[i];
      if (!isObj(x)) continue;
      const text = kind === "url" ? s(x.url) : kind === "mention" ? s(x.username) : s(x.tag);
      out.push([
        field,
        kind,
        i,
        n(x.start) ?? -1,
        n(x.end),
        text,
        kind === "url" ? s(x.expanded_url) : null,
        kind === "url" ? s(x.display_url) : null,
      ]);
    }
  }
}

function addUser(r: PageRows, u: Record<string, any>, direct: number, ra: string | null, ctx: PageContext): void {
  const id = s(u.id);
  if (id === null) throw new NotAPageError("a user without an id");
  const pm = u.public_metrics;
  const pmo = isObj(pm);
  const wh = u.withheld;
  const who = isObj(wh);
  const ex = unknownKeys(u, USER_KEYS, USER_NESTED);
  const row: Row = [
    id,
    s(u.username),
    s(u.name),
    u.created_at === undefined ? null : isoTime(u.created_at),
    s(u.description),
    s(u.location),
    s(u.url),
    s(u.profile_image_url),
    b(u.protected),
    b(u.verified),
    s(u.verified_type),
    s(u.pinned_tweet_id),
    pmo ? n(pm.followers_count) : null,
    pmo ? n(pm.following_count) : null,
    pmo ? n(pm.tweet_count) : null,
    pmo ? n(pm.listed_count) : null,
    pmo ? n(pm.like_count) : null,
    who ? j(wh.country_codes) : null,
    who ? s(wh.scope) : null,
    direct,
    ra,
    ra,
    ra,
    ctx.fileId,
    ex === undefined ? null : JSON.stringify(ex),
  ];
  const ent = u.entities;
  const entities: Row[] = [];
  if (isObj(ent)) {
    if (isObj(ent.description)) addUserEntities(entities, "description", ent.description);
    if (isObj(ent.url)) addUserEntities(entities, "url", ent.url);
  }
  row.push(entities.length === 0 ? null : JSON.stringify(entities)); // user_entities_packed
  r.users.push(row);
}

function addMedia(r: PageRows, m: Record<string, any>, ra: string | null, ctx: PageContext): void {
  const key = s(m.media_key);
  if (key === null) return;
  const ex = unknownKeys(m, MEDIA_KEYS, MEDIA_NESTED);
  r.media.push([
    key,
    s(m.type),
    s(m.url),
    s(m.preview_image_url),
    n(m.width),
    n(m.height),
    n(m.duration_ms),
    s(m.alt_text),
    isObj(m.public_metrics) ? n(m.public_metrics.view_count) : null,
    j(m.variants),
    ra,
    ra,
    ra,
    ctx.fileId,
    ex === undefined ? null : JSON.stringify(ex),
  ]);
}

function addPlace(r: PageRows, p: Record<string, any>, ra: string | null, ctx: PageContext): void {
  const id = s(p.id);
  if (id === null) return;
  const ex = unknownKeys(p, PLACE_KEYS);
  r.places.push([
    id,
    s(p.full_name),
    s(p.name),
    s(p.country),
    s(p.country_code),
    s(p.place_type),
    j(p.geo),
    ra,
    ra,
    ra,
    ctx.fileId,
    ex === undefined ? null : JSON.stringify(ex),
  ]);
}

function addPoll(r: PageRows, p: Record<string, any>, ra: string | null, ctx: PageContext): void {
  const id = s(p.id);
  if (id === null) return;
  const ex = unknownKeys(p, POLL_KEYS);
  r.polls.push([
    id,
    s(p.voting_status),
    n(p.duration_minutes),
    isoTime(p.end_datetime),
    ra,
    ra,
    ra,
    ctx.fileId,
    ex === undefined ? null : JSON.stringify(ex),
  ]);
  const opts = arr(p.options);
  for (let i = 0; i < opts.length; i++) {
    const o = opts[i];
    if (!isObj(o)) continue;
    r.poll_options.push([id, n(o.position) ?? i + 1, s(o.label), n(o.votes), ra]);
  }
}

/** Why a JSON value that is not an object is not a page, with what it likely is. */
function notAnObject(v: unknown): string {
  if (Array.isArray(v)) {
    return "the line is a JSON array, not an API response page (one object a line): for an array of pages write one a line (`jq -c '.[]' in.json > out.jsonl`); an array of tweets is not twarc2 output";
  }
  return "the line is JSON but not an object (an API response page)";
}

/**
 * Why an object is not an API response page, naming what it likely is: a Twitter API v1.1
 * tweet (twarc 1), a single v2 tweet or user (`twarc2 flatten` writes one tweet a line), or
 * something else.
 */
function notAPage(o: Record<string, any>): string {
  const what = "the tidier reads Twitter API v2 response pages, one a line, as twarc2 writes them";
  if (typeof o.id_str === "string" || (isObj(o.user) && (o.full_text !== undefined || o.text !== undefined))) {
    return `the object is a Twitter API v1.1 tweet (it has ${typeof o.id_str === "string" ? "id_str" : "a user object"}), as twarc 1 and the v1.1 API wrote them, not an API response page: ${what}`;
  }
  if (o.id !== undefined && o.text !== undefined) {
    return `the object is a single API v2 tweet, not a response page (\`twarc2 flatten\` writes one tweet a line): ${what}; load the files twarc2 wrote before flattening`;
  }
  if (o.id !== undefined && o.username !== undefined) return `the object is a single API v2 user, not a response page: ${what}`;
  return `the object has none of data, includes, meta, errors: not an API response page (${what})`;
}

/**
 * Parses one page (the JSON value of one JSONL line).
 * Throws NotAPageError when the value is not a twarc2 page.
 */
export function parsePage(page: unknown, ctx: PageContext): ParsedPage {
  if (!isObj(page)) throw new NotAPageError(notAnObject(page));
  const data = page.data;
  const includes = page.includes;
  const meta = page.meta;
  const errors = page.errors;
  if (data === undefined && includes === undefined && meta === undefined && errors === undefined) throw new NotAPageError(notAPage(page));
  const tw = isObj(page.__twarc) ? page.__twarc : undefined;
  const ra = tw !== undefined ? isoTime(tw.retrieved_at) : null;
  const r = emptyRows();
  let pageExtra = unknownKeys(page, PAGE_KEYS);
  let dataTweets = 0;
  let includedTweets = 0;
  let users = 0;

  const items = Array.isArray(data) ? data : isObj(data) ? [data] : [];
  let unknownData: unknown[] | undefined;
  for (const o of items) {
    if (!isObj(o)) {
      (unknownData ??= []).push(o);
      continue;
    }
    if (isTweet(o)) {
      addTweet(r, o, 1, ra, ctx);
      dataTweets++;
    } else {
      addUser(r, o, 1, ra, ctx);
      users++;
    }
  }
  if (unknownData !== undefined) (pageExtra ??= {}).data_unknown = unknownData;

  if (isObj(includes)) {
    const inc = includes;
    for (const u of arr(inc.users)) {
      if (isObj(u)) {
        addUser(r, u, 0, ra, ctx);
        users++;
      }
    }
    for (const t of arr(inc.tweets)) {
      if (isObj(t)) {
        addTweet(r, t, 0, ra, ctx);
        includedTweets++;
      }
    }
    for (const m of arr(inc.media)) if (isObj(m)) addMedia(r, m, ra, ctx);
    for (const p of arr(inc.places)) if (isObj(p)) addPlace(r, p, ra, ctx);
    for (const p of arr(inc.polls)) if (isObj(p)) addPoll(r, p, ra, ctx);
    const incEx = unknownKeys(inc, INCLUDE_KEYS);
    if (incEx !== undefined) (pageExtra ??= {}).includes = incEx;
  }

  const errs = arr(errors);
  for (let i = 0; i < errs.length; i++) {
    const e = errs[i];
    if (!isObj(e)) continue;
    const ex = unknownKeys(e, ERROR_KEYS);
    r.api_errors.push([
      ctx.fileId,
      ctx.pageNo,
      i,
      s(e.title),
      s(e.detail),
      s(e.type),
      s(e.resource_type),
      s(e.resource_id),
      s(e.parameter),
      s(e.value),
      ex === undefined ? null : JSON.stringify(ex),
    ]);
  }

  const mo = isObj(meta) ? meta : undefined;
  const pageRow: Row = [
    ctx.fileId,
    ctx.pageNo,
    ctx.entry,
    ctx.lineNo,
    ra,
    tw !== undefined ? s(tw.url) : null,
    tw !== undefined ? s(tw.version) : null,
    items.length,
    mo !== undefined ? n(mo.result_count) : null,
    mo !== undefined ? s(mo.newest_id) : null,
    mo !== undefined ? s(mo.oldest_id) : null,
    mo !== undefined ? s(mo.next_token) : null,
    mo !== undefined ? s(mo.previous_token) : null,
    j(meta),
    j(page.matching_rules),
    pageExtra === undefined ? null : JSON.stringify(pageExtra),
  ];
  return { page: pageRow, rows: r, dataTweets, includedTweets, users, apiErrors: r.api_errors.length };
}

/** One line of a URL sidecar (`{ url, expanded_url, final_url, status, hops, error }`) → a resolved_urls row. */
export function parseSidecarLine(o: unknown, fileId: number): Row {
  if (!isObj(o) || typeof o.url !== "string") {
    throw new NotAPageError("a URL sidecar line must be an object with a string `url`");
  }
  const ex = unknownKeys(o, SIDECAR_KEYS);
  return [
    o.url,
    s(o.expanded_url),
    s(o.final_url),
    n(o.status),
    j(o.hops),
    s(o.error),
    fileId,
    ex === undefined ? null : JSON.stringify(ex),
  ];
}
