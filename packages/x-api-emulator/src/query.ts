import type { ApiObject, Tweet } from "./types.js";

/**
 * The subset of the Twitter API v2 search query language the emulator understands.
 * AND (juxtaposition) binds tighter than OR, as in the real API; parentheses group;
 * a leading `-` negates any term or group.
 */
export type QueryNode =
  | { kind: "and"; children: QueryNode[] }
  | { kind: "or"; children: QueryNode[] }
  | { kind: "not"; child: QueryNode }
  | { kind: "keyword"; value: string }
  | { kind: "phrase"; value: string }
  | { kind: "hashtag"; value: string }
  | { kind: "mention"; value: string }
  | { kind: "cashtag"; value: string }
  | { kind: "op"; name: string; value: string };

/** Thrown on a query the emulator (and the real API) would reject; becomes a 400. */
export class QuerySyntaxError extends Error {
  override name = "QuerySyntaxError";
}

export const SUPPORTED_OPERATORS = [
  "from",
  "to",
  "is",
  "lang",
  "has",
  "conversation_id",
  "url",
  "retweets_of",
  "in_reply_to_tweet_id",
  "quotes_of_tweet_id",
  "retweets_of_tweet_id",
] as const;
const IS_VALUES = new Set(["retweet", "reply", "quote", "verified"]);
const HAS_VALUES = new Set(["links", "media", "images", "videos", "mentions", "hashtags", "cashtags", "geo"]);

type Token = { t: "("; neg: boolean } | { t: ")" } | { t: "OR" } | { t: "term"; neg: boolean; quoted: boolean; value: string };

function tokenize(query: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  const n = query.length;
  while (i < n) {
    const c = query[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === ")") {
      tokens.push({ t: ")" });
      i++;
      continue;
    }
    let neg = false;
    if (c === "-" && i + 1 < n && !/\s/.test(query[i + 1]!)) {
      neg = true;
      i++;
    }
    const d = query[i]!;
    if (d === "(") {
      tokens.push({ t: "(", neg });
      i++;
      continue;
    }
    if (d === '"') {
      const end = query.indexOf('"', i + 1);
      if (end < 0) throw new QuerySyntaxError("Unterminated quoted phrase in query");
      tokens.push({ t: "term", neg, quoted: true, value: query.slice(i + 1, end) });
      i = end + 1;
      continue;
    }
    let j = i;
    while (j < n && !/\s/.test(query[j]!) && query[j] !== "(" && query[j] !== ")") {
      if (query[j] === '"' && j > i && query[j - 1] === ":") {
        // operator with a quoted value: url:"https://..."
        const end = query.indexOf('"', j + 1);
        if (end < 0) throw new QuerySyntaxError("Unterminated quoted phrase in query");
        j = end + 1;
        continue;
      }
      j++;
    }
    const word = query.slice(i, j);
    i = j;
    if (word === "OR" && !neg) tokens.push({ t: "OR" });
    else tokens.push({ t: "term", neg, quoted: false, value: word });
  }
  return tokens;
}

/** Parses a search query into a tree; throws QuerySyntaxError on what the API rejects. */
export function parseQuery(query: string): QueryNode {
  const tokens = tokenize(query);
  if (tokens.length === 0) throw new QuerySyntaxError("The query is empty");
  let pos = 0;

  const parseOr = (): QueryNode => {
    const children = [parseAnd()];
    while (tokens[pos]?.t === "OR") {
      pos++;
      children.push(parseAnd());
    }
    return children.length === 1 ? children[0]! : { kind: "or", children };
  };
  const parseAnd = (): QueryNode => {
    const children: QueryNode[] = [];
    for (;;) {
      const tok = tokens[pos];
      if (tok === undefined || tok.t === ")" || tok.t === "OR") break;
      pos++;
      if (tok.t === "(") {
        const inner = parseOr();
        if (tokens[pos]?.t !== ")") throw new QuerySyntaxError("Unbalanced parentheses in query");
        pos++;
        children.push(tok.neg ? { kind: "not", child: inner } : inner);
      } else {
        const term = parseTerm(tok.value, tok.quoted);
        children.push(tok.neg ? { kind: "not", child: term } : term);
      }
    }
    if (children.length === 0) throw new QuerySyntaxError("Ambiguous use of OR or empty group in query");
    return children.length === 1 ? children[0]! : { kind: "and", children };
  };

  const tree = parseOr();
  if (pos !== tokens.length) throw new QuerySyntaxError("Unbalanced parentheses in query");
  return tree;
}

function parseTerm(value: string, quoted: boolean): QueryNode {
  if (quoted) return { kind: "phrase", value };
  if (value.length > 1 && value.startsWith("#")) return { kind: "hashtag", value: value.slice(1) };
  if (value.length > 1 && value.startsWith("@")) return { kind: "mention", value: value.slice(1) };
  if (value.length > 1 && value.startsWith("$") && !/^\$[0-9]/.test(value)) return { kind: "cashtag", value: value.slice(1) };
  const colon = value.indexOf(":");
  if (colon > 0 && colon < value.length - 1 && /^[a-z_]+$/.test(value.slice(0, colon))) {
    const name = value.slice(0, colon);
    let arg = value.slice(colon + 1);
    if (arg.startsWith('"') && arg.endsWith('"') && arg.length >= 2) arg = arg.slice(1, -1);
    if (!(SUPPORTED_OPERATORS as readonly string[]).includes(name)) {
      throw new QuerySyntaxError(`Reference to invalid operator '${name}'. Operator is not available in current product or product packaging.`);
    }
    if (name === "is" && !IS_VALUES.has(arg)) throw new QuerySyntaxError(`Reference to invalid field '${arg}'`);
    if (name === "has" && !HAS_VALUES.has(arg)) throw new QuerySyntaxError(`Reference to invalid field '${arg}'`);
    return { kind: "op", name, value: arg };
  }
  return { kind: "keyword", value };
}

/** What matching needs besides the tweet: corpus lookups. */
export interface MatchContext {
  usernames: Map<string, string>;
  users: Map<string, ApiObject>;
  tweets: Map<string, ApiObject>;
  media: Map<string, ApiObject>;
}

export type TweetPredicate = (tweet: Tweet) => boolean;

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

function wordRe(s: string): RegExp {
  return new RegExp(`(?<![\\p{L}\\p{N}_])${escapeRe(s)}(?![\\p{L}\\p{N}_])`, "iu");
}

function textOf(t: Tweet): string {
  const note = (t.note_tweet as { text?: unknown } | undefined)?.text;
  return typeof note === "string" ? note : typeof t.text === "string" ? t.text : "";
}

function entityList(t: Tweet, key: string): ApiObject[] {
  const list = (t.entities as Record<string, unknown> | undefined)?.[key];
  return Array.isArray(list) ? (list as ApiObject[]) : [];
}

function refs(t: Tweet, type: string): string[] {
  const list = Array.isArray(t.referenced_tweets) ? (t.referenced_tweets as ApiObject[]) : [];
  return list.filter((r) => r.type === type && typeof r.id === "string").map((r) => r.id as string);
}

function mediaKeys(t: Tweet): string[] {
  const keys = (t.attachments as { media_keys?: unknown } | undefined)?.media_keys;
  return Array.isArray(keys) ? (keys as string[]) : [];
}

/**
 * Content terms (keywords, phrases, #, @, $, url:, has:) match a retweet when they match
 * the retweet or the retweeted tweet (when the corpus has it): a retweet's own text is
 * truncated, and the real API matches on the original's content.
 */
function orOriginal(pred: TweetPredicate, ctx: MatchContext): TweetPredicate {
  return (t) => pred(t) || refs(t, "retweeted").some((id) => {
    const original = ctx.tweets.get(id);
    return original !== undefined && pred(original as Tweet);
  });
}

/** Compiles a query tree into a predicate over corpus tweets. */
export function compileQuery(node: QueryNode, ctx: MatchContext): TweetPredicate {
  const pred = compileNode(node, ctx);
  return node.kind === "keyword" || node.kind === "phrase" || node.kind === "hashtag" || node.kind === "cashtag" || node.kind === "mention" ||
    (node.kind === "op" && (node.name === "url" || node.name === "has"))
    ? orOriginal(pred, ctx)
    : pred;
}

function compileNode(node: QueryNode, ctx: MatchContext): TweetPredicate {
  const userId = (v: string): string => (/^[0-9]+$/.test(v) ? v : (ctx.usernames.get(v.toLowerCase()) ?? `@${v.toLowerCase()}`));
  switch (node.kind) {
    case "and": {
      const parts = node.children.map((c) => compileQuery(c, ctx));
      return (t) => parts.every((p) => p(t));
    }
    case "or": {
      const parts = node.children.map((c) => compileQuery(c, ctx));
      return (t) => parts.some((p) => p(t));
    }
    case "not": {
      const inner = compileQuery(node.child, ctx);
      return (t) => !inner(t);
    }
    case "keyword":
    case "phrase": {
      const re = wordRe(node.value);
      return (t) => re.test(textOf(t));
    }
    case "hashtag":
    case "cashtag": {
      const key = node.kind === "hashtag" ? "hashtags" : "cashtags";
      const want = node.value.toLowerCase();
      const re = new RegExp(`${node.kind === "hashtag" ? "[#＃]" : "\\$"}${escapeRe(node.value)}(?![\\p{L}\\p{N}_])`, "iu");
      return (t) => {
        if (t.entities === undefined) return re.test(textOf(t));
        return entityList(t, key).some((h) => typeof h.tag === "string" && h.tag.toLowerCase() === want);
      };
    }
    case "mention": {
      const want = node.value.toLowerCase();
      const re = new RegExp(`@${escapeRe(node.value)}(?![\\p{L}\\p{N}_])`, "iu");
      return (t) => {
        if (t.entities === undefined) return re.test(textOf(t));
        return entityList(t, "mentions").some((m) => typeof m.username === "string" && m.username.toLowerCase() === want);
      };
    }
    case "op":
      return compileOperator(node.name, node.value, ctx, userId);
  }
}

function compileOperator(name: string, value: string, ctx: MatchContext, userId: (v: string) => string): TweetPredicate {
  switch (name) {
    case "from": {
      const id = userId(value);
      return (t) => t.author_id === id;
    }
    case "to": {
      const id = userId(value);
      return (t) => t.in_reply_to_user_id === id;
    }
    case "lang":
      return (t) => t.lang === value;
    case "conversation_id":
      return (t) => t.conversation_id === value;
    case "in_reply_to_tweet_id":
      return (t) => refs(t, "replied_to").includes(value);
    case "quotes_of_tweet_id":
      return (t) => refs(t, "quoted").includes(value);
    case "retweets_of_tweet_id":
      return (t) => refs(t, "retweeted").includes(value);
    case "retweets_of": {
      const id = userId(value);
      const rt = new RegExp(`^RT @${escapeRe(value)}:`, "i");
      return (t) =>
        refs(t, "retweeted").some((r) => {
          const author = ctx.tweets.get(r)?.author_id;
          return author !== undefined ? author === id : rt.test(textOf(t));
        });
    }
    case "url": {
      const want = value.toLowerCase();
      return (t) =>
        entityList(t, "urls").some((u) =>
          ["url", "expanded_url", "display_url", "unwound_url"].some((k) => typeof u[k] === "string" && (u[k] as string).toLowerCase().includes(want)),
        );
    }
    case "is":
      switch (value) {
        case "retweet":
          return (t) => refs(t, "retweeted").length > 0;
        case "quote":
          return (t) => refs(t, "quoted").length > 0;
        case "reply":
          return (t) => refs(t, "replied_to").length > 0 || typeof t.in_reply_to_user_id === "string";
        default: // verified
          return (t) => ctx.users.get(t.author_id as string)?.verified === true;
      }
    default: // has
      switch (value) {
        case "links":
          return (t) => entityList(t, "urls").length > 0;
        case "media":
          return (t) => mediaKeys(t).length > 0;
        case "images":
          return (t) => mediaKeys(t).some((k) => ctx.media.get(k)?.type === "photo");
        case "videos":
          return (t) => mediaKeys(t).some((k) => ctx.media.get(k)?.type === "video" || ctx.media.get(k)?.type === "animated_gif");
        case "geo":
          return (t) => typeof t.geo === "object" && t.geo !== null && Object.keys(t.geo).length > 0;
        default: // mentions, hashtags, cashtags
          return (t) => entityList(t, value).length > 0;
      }
  }
}
