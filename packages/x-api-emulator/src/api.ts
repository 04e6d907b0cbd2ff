import type { Corpus } from "./corpus.js";
import { buildIncludes, DEFAULT_FIELDS, KNOWN_EXPANSIONS, KNOWN_FIELDS, pick, type FieldSelection, type FieldsParam } from "./fields.js";
import { isNumericId } from "./internal/snowflake.js";
import { invalidRequest } from "./problems.js";
import { compileQuery, parseQuery, QuerySyntaxError, type TweetPredicate } from "./query.js";
import type { ApiObject, EndpointName, Tweet } from "./types.js";

export interface ApiResult {
  status: number;
  body: unknown;
}

class BadRequest extends Error {
  constructor(readonly body: unknown) {
    super("bad request");
  }
}

const bad = (parameter: string, values: string[], message: string): BadRequest =>
  new BadRequest(invalidRequest(parameter, values, message));

const FIELD_PARAMS = Object.keys(KNOWN_FIELDS) as FieldsParam[];
const COMMON = ["expansions", ...FIELD_PARAMS];
const ALLOWED: Record<"search" | "timeline", string[]> = {
  search: ["query", "start_time", "end_time", "since_id", "until_id", "max_results", "next_token", "pagination_token", "sort_order", ...COMMON],
  timeline: ["start_time", "end_time", "since_id", "until_id", "max_results", "pagination_token", "exclude", ...COMMON],
};

function checkAllowed(params: URLSearchParams, allowed: string[]): void {
  for (const key of new Set(params.keys())) {
    if (!allowed.includes(key)) {
      throw bad(key, [params.get(key) ?? ""], `The query parameter [${key}] is not one of [${allowed.join(",")}]`);
    }
  }
}

function csv(params: URLSearchParams, name: string): string[] {
  const raw = params.get(name);
  if (raw === null || raw === "") return [];
  return raw.split(",").map((s) => s.trim()).filter((s) => s !== "");
}

function selection(params: URLSearchParams): { fields: FieldSelection; expansions: Set<string> } {
  const fields = {} as FieldSelection;
  for (const p of FIELD_PARAMS) {
    const values = csv(params, p);
    const known: readonly string[] = KNOWN_FIELDS[p];
    const unknown = values.filter((v) => !known.includes(v));
    if (unknown.length) throw bad(p, unknown, `The \`${p}\` query parameter value [${unknown[0]}] is not one of [${known.join(",")}]`);
    fields[p] = new Set(values);
  }
  const expansions = csv(params, "expansions");
  const unknown = expansions.filter((v) => !(KNOWN_EXPANSIONS as readonly string[]).includes(v));
  if (unknown.length) {
    throw bad("expansions", unknown, `The \`expansions\` query parameter value [${unknown[0]}] is not one of [${KNOWN_EXPANSIONS.join(",")}]`);
  }
  return { fields, expansions: new Set(expansions) };
}

function idParam(params: URLSearchParams, name: string): bigint | undefined {
  const v = params.get(name);
  if (v === null) return undefined;
  if (!isNumericId(v)) throw bad(name, [v], `The \`${name}\` query parameter value [${v}] does not match ^[0-9]{1,19}$`);
  return BigInt(v);
}

function timeParam(params: URLSearchParams, name: string): number | undefined {
  const v = params.get(name);
  if (v === null) return undefined;
  const t = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})$/.test(v) ? Date.parse(v) : Number.NaN;
  if (Number.isNaN(t)) {
    throw bad(name, [v], `Invalid '${name}':'${v}'. '${name}' must be a valid ISO 8601 timestamp, e.g. YYYY-MM-DDTHH:mm:ssZ`);
  }
  return t;
}

function maxResults(params: URLSearchParams, min: number, max: number): number {
  const v = params.get("max_results");
  if (v === null) return 10;
  const n = /^[0-9]+$/.test(v) ? Number(v) : Number.NaN;
  if (!(n >= min && n <= max)) {
    throw bad("max_results", [v], `The \`max_results\` query parameter value [${v}] is not between ${min} and ${max}`);
  }
  return n;
}

/** FNV-1a over the parameters a continuation token must not change. */
function fingerprint(s: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(36);
}

/**
 * Continuation tokens are opaque to clients: they encode the last returned id and a
 * fingerprint of the request, so they stay valid while tweets are added (new tweets have
 * greater ids and are never behind the cursor).
 */
function encodeToken(lastId: bigint, fp: string): string {
  return Buffer.from(`${lastId.toString(36)}.${fp}`, "utf8").toString("base64url");
}

function decodeToken(token: string, fp: string, param: string): bigint {
  const [id36, got] = Buffer.from(token, "base64url").toString("utf8").split(".");
  if (id36 === undefined || got !== fp || !/^[0-9a-z]+$/.test(id36)) {
    throw bad(param, [token], `The \`${param}\` query parameter value [${token}] is not a valid token for this request`);
  }
  let n = 0n;
  for (const c of id36) n = n * 36n + BigInt(parseInt(c, 36));
  return n;
}

interface ListRequest {
  predicate: TweetPredicate;
  sinceId?: bigint;
  untilId?: bigint;
  startTime?: number;
  endTime?: number;
  max: number;
  cursor?: bigint;
  fp: string;
  fields: FieldSelection;
  expansions: Set<string>;
}

function list(corpus: Corpus, req: ListRequest): ApiResult {
  let upper: bigint | undefined;
  if (req.untilId !== undefined) upper = req.untilId - 1n;
  if (req.cursor !== undefined && (upper === undefined || req.cursor - 1n < upper)) upper = req.cursor - 1n;
  const start = upper === undefined ? 0 : corpus.indexOf(upper);
  const found: Tweet[] = [];
  let more = false;
  for (let i = start; i < corpus.timeline.length; i++) {
    const e = corpus.timeline[i]!;
    if (req.sinceId !== undefined && e.id <= req.sinceId) break;
    if (req.startTime !== undefined && e.time < req.startTime) continue;
    if (req.endTime !== undefined && e.time >= req.endTime) continue;
    if (!req.predicate(e.tweet)) continue;
    if (found.length === req.max) {
      more = true;
      break;
    }
    found.push(e.tweet);
  }
  if (found.length === 0) return { status: 200, body: { meta: { result_count: 0 } } };
  const { includes, errors } = buildIncludes(found, req.expansions, corpus, req.fields);
  const body: Record<string, unknown> = { data: found.map((t) => pick(t, "tweet.fields", req.fields)) };
  if (includes) body.includes = includes;
  if (errors) body.errors = errors;
  const meta: Record<string, unknown> = {
    newest_id: found[0]!.id,
    oldest_id: found[found.length - 1]!.id,
    result_count: found.length,
  };
  if (more) meta.next_token = encodeToken(BigInt(found[found.length - 1]!.id), req.fp);
  body.meta = meta;
  return { status: 200, body };
}

function common(params: URLSearchParams) {
  const sinceId = idParam(params, "since_id");
  const untilId = idParam(params, "until_id");
  const startTime = timeParam(params, "start_time");
  const endTime = timeParam(params, "end_time");
  if (startTime !== undefined && endTime !== undefined && startTime >= endTime) {
    throw bad("start_time", [params.get("start_time")!], "Invalid 'start_time'. 'start_time' must be before 'end_time'");
  }
  return { sinceId, untilId, startTime, endTime, ...selection(params) };
}

function guard(fn: () => ApiResult): ApiResult {
  try {
    return fn();
  } catch (err) {
    if (err instanceof BadRequest) return { status: 400, body: err.body };
    throw err;
  }
}

/** GET /2/tweets/search/recent and /2/tweets/search/all. */
export function search(corpus: Corpus, endpoint: EndpointName, params: URLSearchParams): ApiResult {
  return guard(() => {
    checkAllowed(params, ALLOWED.search);
    const query = params.get("query") ?? "";
    if (query.trim() === "") throw bad("query", [], "The `query` query parameter can not be empty");
    const maxLen = endpoint === "search/all" ? 1024 : 512;
    if (query.length > maxLen) throw bad("query", [query], `The \`query\` query parameter value is longer than ${maxLen} characters`);
    let predicate: TweetPredicate;
    try {
      predicate = compileQuery(parseQuery(query), corpus);
    } catch (err) {
      if (err instanceof QuerySyntaxError) throw bad("query", [query], `There were errors processing your request: ${err.message}`);
      throw err;
    }
    const sort = params.get("sort_order");
    if (sort !== null && sort !== "recency" && sort !== "relevancy") {
      throw bad("sort_order", [sort], `The \`sort_order\` query parameter value [${sort}] is not one of [recency,relevancy]`);
    }
    const max = maxResults(params, 10, endpoint === "search/all" ? 500 : 100);
    const c = common(params);
    const fp = fingerprint([endpoint, query, params.get("since_id"), params.get("until_id"), params.get("start_time"), params.get("end_time")].join("\u0000"));
    const tokenParam = params.has("next_token") ? "next_token" : "pagination_token";
    const token = params.get(tokenParam);
    const cursor = token === null ? undefined : decodeToken(token, fp, tokenParam);
    return list(corpus, { predicate, max, fp, ...c, ...(cursor === undefined ? {} : { cursor }) });
  });
}

/** GET /2/users/:id/tweets. */
export function userTweets(corpus: Corpus, userId: string, params: URLSearchParams): ApiResult {
  return guard(() => {
    if (!isNumericId(userId)) throw bad("id", [userId], `The \`id\` query parameter value [${userId}] does not match ^[0-9]{1,19}$`);
    checkAllowed(params, ALLOWED.timeline);
    const max = maxResults(params, 5, 100);
    const exclude = csv(params, "exclude");
    const badExclude = exclude.filter((e) => e !== "retweets" && e !== "replies");
    if (badExclude.length) throw bad("exclude", badExclude, `The \`exclude\` query parameter value [${badExclude[0]}] is not one of [replies,retweets]`);
    const c = common(params);
    const known = corpus.users.has(userId) || corpus.timeline.some((e) => e.tweet.author_id === userId);
    if (!known) {
      return {
        status: 200,
        body: {
          errors: [
            {
              value: userId,
              detail: `Could not find user with id: [${userId}].`,
              title: "Not Found Error",
              resource_type: "user",
              parameter: "id",
              resource_id: userId,
              type: "https://api.twitter.com/2/problems/resource-not-found",
            },
          ],
        },
      };
    }
    const isType = (t: Tweet, type: string): boolean =>
      Array.isArray(t.referenced_tweets) && (t.referenced_tweets as ApiObject[]).some((r) => r.type === type);
    const noRt = exclude.includes("retweets");
    const noReply = exclude.includes("replies");
    const predicate: TweetPredicate = (t) =>
      t.author_id === userId && !(noRt && isType(t, "retweeted")) && !(noReply && isType(t, "replied_to"));
    const fp = fingerprint(["users/tweets", userId, exclude.join(","), params.get("since_id"), params.get("until_id"), params.get("start_time"), params.get("end_time")].join("\u0000"));
    const token = params.get("pagination_token");
    const cursor = token === null ? undefined : decodeToken(token, fp, "pagination_token");
    return list(corpus, { predicate, max, fp, ...c, ...(cursor === undefined ? {} : { cursor }) });
  });
}

function userNotFound(value: string, parameter: string, detail: string): ApiObject {
  return {
    value,
    detail,
    title: "Not Found Error",
    resource_type: "user",
    parameter,
    resource_id: value,
    type: "https://api.twitter.com/2/problems/resource-not-found",
  };
}

/** GET /2/users/by/username/:username, /2/users/by?usernames=, /2/users/:id, /2/users?ids=. */
export function userLookup(corpus: Corpus, by: "username" | "id", keys: string[], single: boolean, params: URLSearchParams): ApiResult {
  return guard(() => {
    checkAllowed(params, single ? ["user.fields", "expansions", "tweet.fields"] : ["user.fields", "expansions", "tweet.fields", by === "id" ? "ids" : "usernames"]);
    if (keys.length === 0 || keys.length > 100) {
      const p = by === "id" ? "ids" : "usernames";
      throw bad(p, keys, `The number of values in the \`${p}\` query parameter list [${keys.length}] is not between 1 and 100`);
    }
    const fields = {} as FieldSelection;
    for (const p of Object.keys(DEFAULT_FIELDS) as FieldsParam[]) fields[p] = new Set(csv(params, p));
    const data: ApiObject[] = [];
    const errors: ApiObject[] = [];
    for (const key of keys) {
      const id = by === "id" ? key : corpus.usernames.get(key.toLowerCase());
      const user = id === undefined ? undefined : corpus.users.get(id);
      if (user) data.push(user);
      else errors.push(userNotFound(key, by === "id" ? (single ? "id" : "ids") : single ? "username" : "usernames", by === "id" ? `Could not find user with ids: [${key}].` : `Could not find user with usernames: [${key}].`));
    }
    const body: Record<string, unknown> = {};
    if (data.length) body.data = single ? pick(data[0]!, "user.fields", fields) : data.map((u) => pick(u, "user.fields", fields));
    if (csv(params, "expansions").includes("pinned_tweet_id")) {
      const tweets = data.map((u) => corpus.tweets.get(u.pinned_tweet_id as string)).filter((t): t is ApiObject => t !== undefined);
      if (tweets.length) body.includes = { tweets: tweets.map((t) => pick(t, "tweet.fields", fields)) };
    }
    if (errors.length) body.errors = errors;
    return { status: 200, body };
  });
}
