import { describe, expect, it } from "vitest";
import { jobConfigJsonSchema } from "@ujr/core";
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
    expect(issues(searchConfigSchema.safeParse({ query: "q", bearerToken: "t", pollInterval: "soon" }))).toEqual([
      'pollInterval: pollInterval must be a duration such as "500ms", "30s", "5m", "2h" (a bare number is milliseconds), not "soon"',
    ]);
    expect(issues(searchConfigSchema.safeParse({ query: "q", bearerToken: "t", failureBackoff: -5 }))).toEqual([
      'failureBackoff: failureBackoff must be a duration of 0 or more, not -5: use e.g. "30s" or "5m"',
    ]);
    expect(issues(searchConfigSchema.safeParse({ query: "q", bearerToken: "t", startTime: "yesterday" }))[0]).toMatch(/startTime must be an ISO 8601 time/);
    expect(issues(searchConfigSchema.safeParse({ query: "q", bearerToken: "t", mode: "once", startTime: "2024-02-01T00:00:00Z", endTime: "2024-01-01T00:00:00Z" }))).toEqual([
      "endTime: endTime must be after startTime",
    ]);
    expect(issues(searchConfigSchema.safeParse({ query: "q", bearerToken: "t", colour: "red" }))[0]).toMatch(/colour/);
    expect(issues(timelineConfigSchema.safeParse({ bearerToken: "t" }))).toEqual(["userId: give exactly one of userId and username"]);
    expect(issues(timelineConfigSchema.safeParse({ bearerToken: "t", username: "has space" }))[0]).toMatch(/username must be/);
  });

  it("a bare number that surely meant seconds is refused, naming what it would do", () => {
    // requestTimeout: 30 would time out every request after 30 ms; pollInterval: 20 would poll without a pause
    expect(issues(searchConfigSchema.safeParse({ query: "q", bearerToken: "t", requestTimeout: 30, pollInterval: 20, urlResolution: { timeout: 10 } }))).toEqual([
      'pollInterval: pollInterval: 20 is read as 20 milliseconds (a bare number is milliseconds): write "20s" for seconds, or "20ms" if you mean milliseconds',
      'requestTimeout: requestTimeout: 30 is read as 30 milliseconds (a bare number is milliseconds): write "30s" for seconds, or "30ms" if you mean milliseconds',
      'urlResolution.timeout: urlResolution.timeout: 10 is read as 10 milliseconds (a bare number is milliseconds): write "10s" for seconds, or "10ms" if you mean milliseconds',
    ]);
    // with a unit it is taken as written; larger bare numbers stay milliseconds, and 0 stays 0
    const ok = searchConfigSchema.parse({ query: "q", bearerToken: "t", requestTimeout: "30ms", pollInterval: 0, urlResolution: { timeout: 2500 } });
    expect([ok.requestTimeout, ok.pollInterval, ok.urlResolution.timeout]).toEqual([30, 0, 2500]);
  });

  it("shows the defaults of durations as written in a config (ujr plugins, ujr schema)", () => {
    const properties = (jobConfigJsonSchema(plugin.jobs.search!) as { properties: Record<string, { default?: unknown; properties?: Record<string, { default?: unknown }> }> }).properties;
    expect(
      Object.fromEntries(["pollInterval", "requestTimeout", "failureBackoff", "failureBackoffMax", "rateLimitSlack"].map((key) => [key, properties[key]!.default])),
    ).toEqual({ pollInterval: "5m", requestTimeout: "30s", failureBackoff: "1m", failureBackoffMax: "15m", rateLimitSlack: "250ms" });
    expect(properties.urlResolution!.properties!.timeout!.default).toBe("10s");
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
