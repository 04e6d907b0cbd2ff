import type { Corpus } from "./corpus.js";
import type { ApiObject } from "./types.js";

/** Field names the real API accepts for each `*.fields` parameter. */
export const KNOWN_FIELDS = {
  "tweet.fields": [
    "article", "attachments", "author_id", "card_uri", "community_id", "context_annotations", "conversation_id",
    "created_at", "display_text_range", "edit_controls", "edit_history_tweet_ids", "entities", "geo", "id",
    "in_reply_to_user_id", "lang", "media_metadata", "non_public_metrics", "note_tweet", "organic_metrics",
    "possibly_sensitive", "promoted_metrics", "public_metrics", "referenced_tweets", "reply_settings", "scopes",
    "source", "text", "withheld",
  ],
  "user.fields": [
    "affiliation", "connection_status", "created_at", "description", "entities", "id", "is_identity_verified",
    "location", "most_recent_tweet_id", "name", "parody", "pinned_tweet_id", "profile_banner_url",
    "profile_image_url", "protected", "public_metrics", "receives_your_dm", "subscription",
    "subscription_type", "url", "username", "verified", "verified_followers_count", "verified_type", "withheld",
  ],
  "media.fields": [
    "alt_text", "duration_ms", "height", "media_key", "non_public_metrics", "organic_metrics",
    "preview_image_url", "promoted_metrics", "public_metrics", "type", "url", "variants", "width",
  ],
  "poll.fields": ["duration_minutes", "end_datetime", "id", "options", "voting_status"],
  "place.fields": ["contained_within", "country", "country_code", "full_name", "geo", "id", "name", "place_type"],
} as const;

export type FieldsParam = keyof typeof KNOWN_FIELDS;

/** Fields every returned object carries whatever was requested (as the real API). */
export const DEFAULT_FIELDS: Record<FieldsParam, readonly string[]> = {
  "tweet.fields": ["id", "text", "edit_history_tweet_ids"],
  "user.fields": ["id", "name", "username"],
  "media.fields": ["media_key", "type"],
  "poll.fields": ["id", "options"],
  "place.fields": ["id", "full_name"],
};

export const KNOWN_EXPANSIONS = [
  "author_id",
  "referenced_tweets.id",
  "referenced_tweets.id.author_id",
  "entities.mentions.username",
  "in_reply_to_user_id",
  "attachments.media_keys",
  "attachments.poll_ids",
  "geo.place_id",
  "edit_history_tweet_ids",
  "entities.note.mentions.username",
  "article.cover_media",
  "article.media_entities",
] as const;

export type FieldSelection = Record<FieldsParam, Set<string>>;

/** Keeps the requested fields plus the defaults; a tweet without edit history gets `[id]` as the API does. */
export function pick(obj: ApiObject, param: FieldsParam, selection: FieldSelection): ApiObject {
  const wanted = selection[param];
  const out: ApiObject = {};
  for (const [key, value] of Object.entries(obj)) {
    if (wanted.has(key) || DEFAULT_FIELDS[param].includes(key)) out[key] = value;
  }
  if (param === "tweet.fields" && out.edit_history_tweet_ids === undefined && typeof obj.id === "string") {
    out.edit_history_tweet_ids = [obj.id];
  }
  return out;
}

interface NotFound {
  value: string;
  detail: string;
  title: string;
  resource_type: string;
  parameter: string;
  resource_id: string;
  type: string;
}

function notFound(resource: "tweet" | "user", parameter: string, id: string): NotFound {
  return {
    value: id,
    detail: `Could not find ${resource} with ${parameter}: [${id}].`,
    title: "Not Found Error",
    resource_type: resource,
    parameter,
    resource_id: id,
    type: "https://api.twitter.com/2/problems/resource-not-found",
  };
}

function arr(v: unknown): ApiObject[] {
  return Array.isArray(v) ? (v as ApiObject[]) : [];
}

/**
 * Builds `includes` (and `errors` for referenced tweets/users the corpus lacks) for the
 * returned tweets from the corpus maps. Returns only non-empty include lists.
 */
export function buildIncludes(
  tweets: ApiObject[],
  expansions: Set<string>,
  corpus: Corpus,
  selection: FieldSelection,
): { includes?: Record<string, ApiObject[]>; errors?: NotFound[] } {
  if (expansions.size === 0) return {};
  const users = new Map<string, ApiObject>();
  const incTweets = new Map<string, ApiObject>();
  const media = new Map<string, ApiObject>();
  const polls = new Map<string, ApiObject>();
  const places = new Map<string, ApiObject>();
  const errors: NotFound[] = [];
  const seenErrors = new Set<string>();
  const miss = (resource: "tweet" | "user", parameter: string, id: string): void => {
    const key = `${resource}:${parameter}:${id}`;
    if (!seenErrors.has(key)) {
      seenErrors.add(key);
      errors.push(notFound(resource, parameter, id));
    }
  };
  const addUser = (id: unknown, parameter: string): void => {
    if (typeof id !== "string" || users.has(id)) return;
    const u = corpus.users.get(id);
    if (u) users.set(id, u);
    else miss("user", parameter, id);
  };

  if (expansions.has("referenced_tweets.id")) {
    for (const t of tweets) {
      for (const r of arr(t.referenced_tweets)) {
        const id = r.id;
        if (typeof id !== "string" || incTweets.has(id)) continue;
        const found = corpus.tweets.get(id);
        if (found) incTweets.set(id, found);
        else miss("tweet", "referenced_tweets.id", id);
      }
    }
  }
  if (expansions.has("edit_history_tweet_ids")) {
    for (const t of tweets) {
      for (const id of Array.isArray(t.edit_history_tweet_ids) ? (t.edit_history_tweet_ids as unknown[]) : []) {
        if (typeof id !== "string" || id === t.id || incTweets.has(id)) continue;
        const found = corpus.tweets.get(id);
        if (found) incTweets.set(id, found);
      }
    }
  }
  // Expansions of attachments and geo apply to the primary and the included tweets.
  const all = [...tweets, ...incTweets.values()];
  for (const t of tweets) {
    if (expansions.has("author_id")) addUser(t.author_id, "author_id");
    if (expansions.has("in_reply_to_user_id")) addUser(t.in_reply_to_user_id, "in_reply_to_user_id");
    if (expansions.has("entities.mentions.username")) {
      const mentions = arr((t.entities as ApiObject | undefined)?.mentions);
      for (const m of mentions) {
        const id = typeof m.id === "string" ? m.id : typeof m.username === "string" ? corpus.usernames.get(m.username.toLowerCase()) : undefined;
        if (id !== undefined && corpus.users.has(id)) users.set(id, corpus.users.get(id)!);
      }
    }
  }
  if (expansions.has("referenced_tweets.id.author_id")) {
    for (const t of incTweets.values()) addUser(t.author_id, "referenced_tweets.id.author_id");
  }
  for (const t of all) {
    const att = t.attachments as ApiObject | undefined;
    if (expansions.has("attachments.media_keys")) {
      for (const k of Array.isArray(att?.media_keys) ? (att.media_keys as unknown[]) : []) {
        const m = typeof k === "string" ? corpus.media.get(k) : undefined;
        if (m) media.set(k as string, m);
      }
    }
    if (expansions.has("attachments.poll_ids")) {
      for (const k of Array.isArray(att?.poll_ids) ? (att.poll_ids as unknown[]) : []) {
        const p = typeof k === "string" ? corpus.polls.get(k) : undefined;
        if (p) polls.set(k as string, p);
      }
    }
    if (expansions.has("geo.place_id")) {
      const pid = (t.geo as ApiObject | undefined)?.place_id;
      const p = typeof pid === "string" ? corpus.places.get(pid) : undefined;
      if (p) places.set(pid as string, p);
    }
  }

  const includes: Record<string, ApiObject[]> = {};
  if (media.size) includes.media = [...media.values()].map((o) => pick(o, "media.fields", selection));
  if (users.size) includes.users = [...users.values()].map((o) => pick(o, "user.fields", selection));
  if (incTweets.size) includes.tweets = [...incTweets.values()].map((o) => pick(o, "tweet.fields", selection));
  if (polls.size) includes.polls = [...polls.values()].map((o) => pick(o, "poll.fields", selection));
  if (places.size) includes.places = [...places.values()].map((o) => pick(o, "place.fields", selection));
  const out: { includes?: Record<string, ApiObject[]>; errors?: NotFound[] } = {};
  if (Object.keys(includes).length) out.includes = includes;
  if (errors.length) out.errors = errors;
  return out;
}
