import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, byIdDesc, collectAll, fixturePages, fixturePath, fixtureTweets } from "./__fixtures__/fixtures.js";
import { startEmulator, type Emulator } from "./index.js";

const FILES = ["brexit.jsonl", "timeline-observatoryteam.jsonl"];
const SEARCH = "/2/tweets/search/recent";
let em: Emulator;
const all = fixtureTweets(...FILES);

const refTypes = (t: any): string[] => (t.referenced_tweets ?? []).map((r: any) => r.type);
// The real API matches a retweet's content terms on the retweeted tweet too.
const included = new Map<string, any>();
for (const f of FILES) for (const p of fixturePages(f)) for (const t of [...(p.includes?.tweets ?? []), ...(p.data as any[])]) included.set(t.id, t);
const withOriginal = (t: any): any[] => [t, ...(t.referenced_tweets ?? []).filter((r: any) => r.type === "retweeted").map((r: any) => included.get(r.id)).filter(Boolean)];
const textHas = (t: any, re: RegExp): boolean => withOriginal(t).some((o) => re.test(o.text));
const hashtags = (t: any): string[] => withOriginal(t).flatMap((o) => (o.entities?.hashtags ?? []).map((h: any) => h.tag.toLowerCase()));
const hasLinks = (t: any): boolean => withOriginal(t).some((o) => (o.entities?.urls ?? []).length > 0);

async function count(query: string, endpoint = SEARCH): Promise<string[]> {
  const { tweets } = await collectAll(em, endpoint, { query, max_results: "100" });
  return tweets.map((t) => t.id as string);
}
const idsOf = (pred: (t: any) => boolean): string[] => all.filter(pred).map((t) => t.id as string).sort(byIdDesc);

beforeAll(async () => {
  em = await startEmulator({ corpus: FILES.map(fixturePath), rateLimit: false });
});
afterAll(() => em.close());

describe("pagination", () => {
  it("returns every corpus tweet exactly once, newest first, 10 per page", async () => {
    const { tweets, pages } = await collectAll(em, SEARCH, { query: "lang:en OR -lang:en", max_results: "10" });
    const ids = tweets.map((t) => t.id as string);
    expect(all.length).toBe(318);
    expect(ids.length).toBe(all.length);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toEqual([...ids].sort(byIdDesc));
    expect(new Set(ids)).toEqual(new Set(all.map((t) => t.id)));
    expect(pages).toBe(32);
  });

  it("reports meta like the API and omits next_token on the last page", async () => {
    const r = await api(em, SEARCH, { query: "#brexit", max_results: "10" });
    expect(r.body.meta.result_count).toBe(10);
    expect(r.body.meta.newest_id).toBe(r.body.data[0].id);
    expect(r.body.meta.oldest_id).toBe(r.body.data[9].id);
    expect(typeof r.body.meta.next_token).toBe("string");
    const last = await api(em, SEARCH, { query: "from:observatoryteam #digitalhumanities", max_results: "100" });
    expect(last.body.meta.next_token).toBeUndefined();
  });

  it("returns { meta: { result_count: 0 } } when nothing matches", async () => {
    const r = await api(em, SEARCH, { query: "zzqqxxnotaword" });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ meta: { result_count: 0 } });
  });

  it("search/all accepts up to 500 per page; recent rejects 101 and 9 in the API's format", async () => {
    const r = await api(em, "/2/tweets/search/all", { query: "lang:en OR -lang:en", max_results: "500" });
    expect(r.body.meta.result_count).toBe(318);
    for (const [path, v] of [[SEARCH, "101"], [SEARCH, "9"], ["/2/tweets/search/all", "501"]] as const) {
      const bad = await api(em, path, { query: "brexit", max_results: v });
      expect(bad.status).toBe(400);
      expect(bad.body.title).toBe("Invalid Request");
      expect(bad.body.type).toBe("https://api.twitter.com/2/problems/invalid-request");
      expect(bad.body.errors[0].parameters).toEqual({ max_results: [v] });
    }
  });

  it("rejects a next_token from another query, an empty query and unknown parameters", async () => {
    const first = await api(em, SEARCH, { query: "#brexit" });
    const other = await api(em, SEARCH, { query: "brexit", next_token: first.body.meta.next_token });
    expect(other.status).toBe(400);
    expect((await api(em, SEARCH, {})).status).toBe(400);
    expect((await api(em, SEARCH, { query: "brexit", foo: "1" })).status).toBe(400);
    expect((await api(em, SEARCH, { query: "nosuchop:x" })).status).toBe(400);
    expect((await api(em, SEARCH, { query: "(brexit" })).status).toBe(400);
  });
});

describe("since_id, until_id, start_time, end_time", () => {
  const sorted = all.map((t) => t.id as string).sort(byIdDesc);
  it("since_id and until_id are exclusive bounds", async () => {
    const since = sorted[50]!;
    const until = sorted[10]!;
    const { tweets } = await collectAll(em, SEARCH, { query: "lang:en OR -lang:en", since_id: since, until_id: until, max_results: "10" });
    expect(tweets.map((t) => t.id)).toEqual(sorted.slice(11, 50));
  });

  it("start_time is inclusive and end_time exclusive", async () => {
    const start = "2021-09-22T16:30:00Z";
    const end = "2021-09-22T16:37:18Z";
    const expected = all
      .filter((t) => Date.parse(t.created_at as string) >= Date.parse(start) && Date.parse(t.created_at as string) < Date.parse(end))
      .map((t) => t.id as string)
      .sort(byIdDesc);
    expect(expected.length).toBeGreaterThan(5);
    const { tweets } = await collectAll(em, SEARCH, { query: "lang:en OR -lang:en", start_time: start, end_time: end, max_results: "10" });
    expect(tweets.map((t) => t.id)).toEqual(expected);
    expect((await api(em, SEARCH, { query: "brexit", start_time: "yesterday" })).status).toBe(400);
  });
});

describe("query operators on real data (expected sets computed from the fixture files)", () => {
  const observatory = "1022360009961656321";
  const cases: Array<[string, (t: any) => boolean]> = [
    ["brexit", (t) => textHas(t, /(?<![\p{L}\p{N}_])brexit(?![\p{L}\p{N}_])/iu)],
    ['"social media"', (t) => textHas(t, /(?<![\p{L}\p{N}_])social media(?![\p{L}\p{N}_])/iu)],
    ["#brexit", (t) => hashtags(t).includes("brexit")],
    ["from:observatoryteam", (t) => t.author_id === observatory],
    [`from:${observatory}`, (t) => t.author_id === observatory],
    ["is:retweet", (t) => refTypes(t).includes("retweeted")],
    ["-is:retweet", (t) => !refTypes(t).includes("retweeted")],
    ["is:reply", (t) => refTypes(t).includes("replied_to") || t.in_reply_to_user_id !== undefined],
    ["is:quote", (t) => refTypes(t).includes("quoted")],
    ["lang:de", (t) => t.lang === "de"],
    ["has:links", hasLinks],
    ["#brexit OR from:observatoryteam", (t) => hashtags(t).includes("brexit") || t.author_id === observatory],
    ["brexit -is:retweet", (t) => textHas(t, /(?<![\p{L}\p{N}_])brexit(?![\p{L}\p{N}_])/iu) && !refTypes(t).includes("retweeted")],
    ["(is:reply OR is:quote) lang:en", (t) => (refTypes(t).includes("replied_to") || t.in_reply_to_user_id !== undefined || refTypes(t).includes("quoted")) && t.lang === "en"],
    ["from:observatoryteam -has:links", (t) => t.author_id === observatory && !hasLinks(t)],
    ["#brexit -#tories", (t) => hashtags(t).includes("brexit") && !hashtags(t).includes("tories")],
  ];
  for (const [query, pred] of cases) {
    it(`${query}`, async () => {
      const expected = idsOf(pred);
      expect(expected.length).toBeGreaterThan(0);
      expect(await count(query)).toEqual(expected);
    });
  }

  it("hand-checked counts: the real search for #brexit returned these 100 tweets, and so do we", async () => {
    const brexit = fixtureTweets("brexit.jsonl").map((t) => t.id as string).sort(byIdDesc);
    expect(brexit).toHaveLength(100);
    expect((await count("#brexit")).filter((id) => brexit.includes(id))).toEqual(brexit);
    const rt = (await count("is:retweet #brexit")).length + (await count("-is:retweet #brexit")).length;
    expect(rt).toBe((await count("#brexit")).length);
    expect((await count("from:observatoryteam")).length).toBe(218);
  });
});

describe("fields and expansions", () => {
  it("returns only the default fields when no fields are requested", async () => {
    const r = await api(em, SEARCH, { query: "#brexit", max_results: "10" });
    for (const t of r.body.data) expect(Object.keys(t).sort()).toEqual(["edit_history_tweet_ids", "id", "text"]);
    expect(r.body.includes).toBeUndefined();
  });

  it("keeps requested fields only, in tweets and in includes", async () => {
    const r = await api(em, SEARCH, {
      query: "#brexit",
      max_results: "50",
      "tweet.fields": "created_at,lang",
      expansions: "author_id,referenced_tweets.id,attachments.media_keys",
      "user.fields": "created_at",
      "media.fields": "url",
    });
    for (const t of r.body.data) {
      expect(Object.keys(t).every((k) => ["id", "text", "edit_history_tweet_ids", "created_at", "lang"].includes(k))).toBe(true);
      expect(t.created_at).toBeTypeOf("string");
    }
    const authors = new Set(r.body.data.map((t: any) => all.find((a) => a.id === t.id)!.author_id));
    expect(new Set(r.body.includes.users.map((u: any) => u.id))).toEqual(authors);
    for (const u of r.body.includes.users) expect(Object.keys(u).every((k) => ["id", "name", "username", "created_at"].includes(k))).toBe(true);
    for (const t of r.body.includes.tweets) expect(Object.keys(t).every((k) => ["id", "text", "edit_history_tweet_ids", "created_at", "lang"].includes(k))).toBe(true);
    const refs = new Set(r.body.data.flatMap((t: any) => (all.find((a) => a.id === t.id)!.referenced_tweets as any[] ?? []).map((x) => x.id)));
    for (const t of r.body.includes.tweets) expect(refs.has(t.id)).toBe(true);
    for (const m of r.body.includes.media ?? []) expect(Object.keys(m).every((k) => ["media_key", "type", "url"].includes(k))).toBe(true);
  });

  it("expands polls and places from the corpus", async () => {
    const poll = await api(em, SEARCH, { query: "#brexit", max_results: "100", expansions: "attachments.poll_ids", "poll.fields": "voting_status" });
    expect(poll.body.includes.polls).toHaveLength(1);
    expect(Object.keys(poll.body.includes.polls[0]).sort()).toEqual(["id", "options", "voting_status"]);
    const geo = await startEmulator({ corpus: [fixturePath("geo_tweets.jsonl")] });
    try {
      const r = await api(geo, SEARCH, { query: "lang:en OR -lang:en", expansions: "geo.place_id", "place.fields": "country_code", "tweet.fields": "geo" });
      expect(r.body.includes.places).toEqual([{ id: "3078869807f9dd36", full_name: "Berlin, Germany", country_code: "DE" }]);
    } finally {
      await geo.close();
    }
  });

  it("reports referenced tweets the corpus lacks in errors, as the API does", async () => {
    const r = await api(em, "/2/users/1022360009961656321/tweets", { max_results: "100", expansions: "referenced_tweets.id" });
    expect(r.body.errors.length).toBeGreaterThan(0);
    expect(r.body.errors[0]).toMatchObject({ title: "Not Found Error", resource_type: "tweet", parameter: "referenced_tweets.id" });
  });

  it("rejects unknown fields and expansions with 400", async () => {
    expect((await api(em, SEARCH, { query: "brexit", "tweet.fields": "nope" })).status).toBe(400);
    expect((await api(em, SEARCH, { query: "brexit", expansions: "nope" })).status).toBe(400);
  });
});
