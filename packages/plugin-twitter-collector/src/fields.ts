/**
 * twarc2's default expansions and fields (twarc 2.13, `twarc/expansions.py`): every
 * public field of tweets, users, media, polls and places, so our pages have the same
 * shape as a twarc2 collection.
 */
export const EXPANSIONS = [
  "author_id",
  "entities.mentions.username",
  "geo.place_id",
  "in_reply_to_user_id",
  "referenced_tweets.id",
  "referenced_tweets.id.author_id",
  "edit_history_tweet_ids",
  "attachments.media_keys",
  "attachments.poll_ids",
] as const;

export const TWEET_FIELDS = [
  "attachments",
  "author_id",
  "context_annotations",
  "conversation_id",
  "created_at",
  "entities",
  "geo",
  "id",
  "in_reply_to_user_id",
  "lang",
  "public_metrics",
  "text",
  "possibly_sensitive",
  "referenced_tweets",
  "reply_settings",
  "source",
  "withheld",
  "edit_controls",
  "edit_history_tweet_ids",
] as const;

export const USER_FIELDS = [
  "created_at",
  "description",
  "entities",
  "id",
  "location",
  "name",
  "pinned_tweet_id",
  "profile_image_url",
  "protected",
  "public_metrics",
  "url",
  "username",
  "verified",
  "verified_type",
  "withheld",
] as const;

export const MEDIA_FIELDS = [
  "alt_text",
  "duration_ms",
  "height",
  "media_key",
  "preview_image_url",
  "type",
  "url",
  "width",
  "variants",
  "public_metrics",
] as const;

export const POLL_FIELDS = ["duration_minutes", "end_datetime", "id", "options", "voting_status"] as const;

export const PLACE_FIELDS = ["contained_within", "country", "country_code", "full_name", "geo", "id", "name", "place_type"] as const;

/** The query parameters twarc2 sends with every tweet request ("everything"). */
export const EVERYTHING: Readonly<Record<string, string>> = Object.freeze({
  expansions: EXPANSIONS.join(","),
  "tweet.fields": TWEET_FIELDS.join(","),
  "user.fields": USER_FIELDS.join(","),
  "media.fields": MEDIA_FIELDS.join(","),
  "poll.fields": POLL_FIELDS.join(","),
  "place.fields": PLACE_FIELDS.join(","),
});
