import { describe, expect, it } from "vitest";
import plugin, { searchConfigSchema, timelineConfigSchema } from "./index.js";

const issues = (result: { success: boolean; error?: { issues: Array<{ path: PropertyKey[]; message: string }> } }) =>
  (result.error?.issues ?? []).map((i) => `${i.path.join(".")}: ${i.message}`);

describe("config", () => {
  it("fills defaults for a search job", () => {
    const config = searchConfigSchema.parse({ query: "#auspol", bearerToken: "t" });
    expect(config).toEqual({
      query: "#auspol",
      endpoint: "recent",
      bearerToken: "t",
      baseUrl: "https://api.twitter.com",
      mode: "continuous",
      pollInterval: 300_000,
      pagesPerTask: 10,
      requestTimeout: 30_000,
      retry: { attempts: 5, baseMs: 1000, maxMs: 60_000, jitter: 0.5 },
      failureBackoff: 60_000,
      failureBackoffFactor: 2,
      failureBackoffMax: 900_000,
      rateLimitSlack: 250,
      urlResolution: {
        enabled: true,
        allowPrivateAddresses: false,
        timeout: 10_000,
        maxHops: 10,
        concurrency: 8,
        perHostConcurrency: 2,
        filesPerTask: 20,
        userAgent: "ujr-collector/0.1.0 (+https://github.com/ujr-dev/ujr)",
        onlyHosts: [],
        retry: { attempts: 4, delay: 60_000, maxDelay: 1_800_000 },
      },
    });
  });

  it("parses durations and archive settings", () => {
    const config = searchConfigSchema.parse({ query: "q", bearerToken: "t", pollInterval: "2m", archive: { everyHours: 6 } });
    expect(config.pollInterval).toBe(120_000);
    expect(config.archive).toEqual({ everyHours: 6, removeOriginals: false, maxFilesPerArchive: 1000 });
  });

  it("says what is wrong, with the path", () => {
    expect(issues(searchConfigSchema.safeParse({}))).toEqual([
      'query: query is required: an X API v2 search query such as "#auspol -is:retweet"',
      "bearerToken: bearerToken is required: put `bearerToken: ${X_BEARER_TOKEN}` in the job's config and set X_BEARER_TOKEN",
    ]);
    expect(issues(searchConfigSchema.safeParse({ query: "q", bearerToken: "t", endTime: "2024-01-01T00:00:00Z" }))).toEqual([
      "endTime: endTime needs mode: once (a continuous job keeps polling for new tweets)",
    ]);
    expect(issues(searchConfigSchema.safeParse({ query: "q", bearerToken: "t", maxResults: 500 }))).toEqual(["maxResults: maxResults must be between 10 and 100 for search/recent"]);
    expect(searchConfigSchema.safeParse({ query: "q", bearerToken: "t", endpoint: "all", maxResults: 500 }).success).toBe(true);
    expect(issues(searchConfigSchema.safeParse({ query: "q", bearerToken: "t", pollInterval: "soon" }))[0]).toMatch(/pollInterval: .*duration/);
    expect(issues(searchConfigSchema.safeParse({ query: "q", bearerToken: "t", startTime: "yesterday" }))[0]).toMatch(/startTime must be an ISO 8601 time/);
    expect(issues(searchConfigSchema.safeParse({ query: "q", bearerToken: "t", mode: "once", startTime: "2024-02-01T00:00:00Z", endTime: "2024-01-01T00:00:00Z" }))).toEqual([
      "endTime: endTime must be after startTime",
    ]);
    expect(issues(searchConfigSchema.safeParse({ query: "q", bearerToken: "t", colour: "red" }))[0]).toMatch(/colour/);
    expect(issues(timelineConfigSchema.safeParse({ bearerToken: "t" }))).toEqual(["userId: give exactly one of userId and username"]);
    expect(issues(timelineConfigSchema.safeParse({ bearerToken: "t", username: "has space" }))[0]).toMatch(/username must be/);
  });

  it("timeline: strips the @ of a username", () => {
    expect(timelineConfigSchema.parse({ bearerToken: "t", username: "@observatoryteam" }).username).toBe("observatoryteam");
  });

  it("the plugin declares both job types for API v1", () => {
    expect(plugin.name).toBe("@ujr/plugin-twitter-collector");
    expect(plugin.apiVersion).toBe(1);
    expect(Object.keys(plugin.jobs)).toEqual(["search", "timeline"]);
  });
});
