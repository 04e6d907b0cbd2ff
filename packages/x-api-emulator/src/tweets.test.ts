import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, byIdDesc, collectAll, fixturePath, fixtureTweets } from "./__fixtures__/fixtures.js";
import { startEmulator, type Emulator } from "./index.js";

const SEARCH = "/2/tweets/search/recent";
const OBS = "1022360009961656321";
let em: Emulator;
beforeAll(async () => {
  em = await startEmulator({ corpus: [fixturePath("timeline-observatoryteam.jsonl"), fixturePath("brexit.jsonl")], rateLimit: false });
});
afterAll(() => em.close());

describe("user timeline: GET /2/users/:id/tweets", () => {
  it("pages with pagination_token through the user's tweets, newest first", async () => {
    const expected = fixtureTweets("timeline-observatoryteam.jsonl").filter((t) => t.author_id === OBS).map((t) => t.id as string).sort(byIdDesc);
    expect(expected).toHaveLength(218);
    const { tweets, pages } = await collectAll(em, `/2/users/${OBS}/tweets`, { max_results: "100" }, "pagination_token");
    expect(tweets.map((t) => t.id)).toEqual(expected);
    expect(pages).toBe(3);
    const five = await api(em, `/2/users/${OBS}/tweets`, { max_results: "5" });
    expect(five.body.meta.result_count).toBe(5);
    expect((await api(em, `/2/users/${OBS}/tweets`, { max_results: "101" })).status).toBe(400);
  });

  it("supports exclude=retweets and answers unknown users with a Not Found error", async () => {
    const { tweets } = await collectAll(em, `/2/users/${OBS}/tweets`, { max_results: "100", exclude: "retweets", "tweet.fields": "referenced_tweets" }, "pagination_token");
    expect(tweets.length).toBeGreaterThan(0);
    expect(tweets.some((t: any) => (t.referenced_tweets ?? []).some((r: any) => r.type === "retweeted"))).toBe(false);
    const none = await api(em, "/2/users/123/tweets");
    expect(none.status).toBe(200);
    expect(none.body.errors[0]).toMatchObject({ title: "Not Found Error", resource_type: "user", resource_id: "123" });
  });

  it("looks users up by username", async () => {
    const r = await api(em, "/2/users/by/username/ObservatoryTeam", { "user.fields": "created_at" });
    expect(r.body.data.id).toBe(OBS);
    expect(Object.keys(r.body.data).sort()).toEqual(["created_at", "id", "name", "username"]);
  });
});

describe("adding tweets while running", () => {
  it("addTweets: since_id continuation finds exactly the new tweets", async () => {
    const top = await api(em, SEARCH, { query: "brexit" });
    const newest = top.body.meta.newest_id as string;
    const added = em.addTweets(
      [
        { text: "Brexit news one", author_id: OBS, lang: "en" },
        { text: "Brexit news two", author_id: OBS, lang: "en" },
        { text: "nothing to see", author_id: OBS, lang: "en" },
      ],
      { users: [{ id: "42", name: "New", username: "newuser" }] },
    );
    expect(added.every((t) => BigInt(t.id) > BigInt(newest))).toBe(true);
    const { tweets } = await collectAll(em, SEARCH, { query: "brexit", since_id: newest });
    expect(tweets.map((t) => t.id)).toEqual([added[1]!.id, added[0]!.id]);
    expect((await api(em, "/2/users/by/username/newuser")).body.data.id).toBe("42");
  });

  it("generateTweets: N synthetic clones with fresh ids; next_token stays valid meanwhile", async () => {
    const first = await api(em, SEARCH, { query: "lang:en OR -lang:en", max_results: "100" });
    const newest = first.body.meta.newest_id as string;
    const generated = em.generateTweets(25);
    expect(generated).toHaveLength(25);
    const { tweets } = await collectAll(em, SEARCH, { query: "lang:en OR -lang:en", since_id: newest, max_results: "10" });
    expect(tweets.map((t) => t.id as string).sort(byIdDesc)).toEqual(generated.map((t) => t.id).sort(byIdDesc));
    // The token of the first page continues exactly where it left off, unaffected by the additions.
    const before = await collectAll(em, SEARCH, { query: "lang:en OR -lang:en", until_id: first.body.data[99].id, max_results: "100" });
    const cont = await api(em, SEARCH, { query: "lang:en OR -lang:en", max_results: "100", next_token: first.body.meta.next_token });
    expect(cont.body.data.map((t: any) => t.id)).toEqual(before.tweets.slice(0, 100).map((t) => t.id));
  });
});
