import { afterEach, describe, expect, it } from "vitest";
import { api } from "./__fixtures__/fixtures.js";
import { startEmulator, type Emulator } from "./index.js";

const SEARCH = "/2/tweets/search/recent";
let em: Emulator | undefined;
afterEach(async () => {
  await em?.close();
  em = undefined;
});

describe("bearer-token auth", () => {
  it("answers 401 in the API's problem format for a missing or wrong token, and logs it", async () => {
    em = await startEmulator({ bearerToken: ["secret-1", "secret-2"] });
    for (const token of [null, "wrong"]) {
      const r = await api(em, SEARCH, { query: "brexit" }, token);
      expect(r.status).toBe(401);
      expect(r.body).toEqual({ title: "Unauthorized", type: "about:blank", status: 401, detail: "Unauthorized" });
    }
    expect((await api(em, SEARCH, { query: "brexit" }, "secret-2")).status).toBe(200);
    expect(em.requests.map((r) => r.status)).toEqual([401, 401, 200]);
    expect(em.requests[0]).toMatchObject({ method: "GET", path: SEARCH, query: { query: "brexit" }, endpoint: "search/recent" });
    expect(JSON.stringify(em.requests)).not.toContain("secret");
  });

  it("defaults to the token test-token", async () => {
    em = await startEmulator();
    expect((await api(em, SEARCH, { query: "brexit" })).status).toBe(200);
  });
});

describe("rate limits", () => {
  it("sends x-rate-limit headers, 429 when exhausted, and recovers after the window (fake clock)", async () => {
    let now = 1_700_000_000_000;
    em = await startEmulator({ rateLimit: { limit: 3, windowMs: 60_000 }, now: () => now });
    const remaining: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await api(em, SEARCH, { query: "brexit" });
      expect(r.status).toBe(200);
      expect(r.headers.get("x-rate-limit-limit")).toBe("3");
      expect(r.headers.get("x-rate-limit-reset")).toBe(String(Math.ceil((1_700_000_000_000 + 60_000) / 1000)));
      remaining.push(r.headers.get("x-rate-limit-remaining")!);
    }
    expect(remaining).toEqual(["2", "1", "0"]);
    const limited = await api(em, SEARCH, { query: "brexit" });
    expect(limited.status).toBe(429);
    expect(limited.body).toEqual({ title: "Too Many Requests", detail: "Too Many Requests", type: "about:blank", status: 429 });
    expect(limited.headers.get("x-rate-limit-remaining")).toBe("0");
    // Other endpoints and other tokens have their own windows.
    expect((await api(em, "/2/tweets/search/all", { query: "brexit" })).status).toBe(200);
    now += 59_999;
    expect((await api(em, SEARCH, { query: "brexit" })).status).toBe(429);
    now += 1;
    const again = await api(em, SEARCH, { query: "brexit" });
    expect(again.status).toBe(200);
    expect(again.headers.get("x-rate-limit-remaining")).toBe("2");
  });

  it("rateLimit: false limits nothing, and its headers say the whole budget is left (a client that honours them never waits)", async () => {
    em = await startEmulator({ rateLimit: false });
    const seen = new Set<string>();
    // past the real API's 450 a window for recent search
    for (let i = 0; i < 460; i++) {
      const r = await api(em, SEARCH, { query: "brexit" });
      expect(r.status).toBe(200);
      seen.add(`${r.headers.get("x-rate-limit-limit")}/${r.headers.get("x-rate-limit-remaining")}`);
    }
    expect([...seen]).toEqual(["450/450"]);
  });

  it("keeps windows per token, takes per-endpoint overrides and can be reset", async () => {
    em = await startEmulator({ bearerToken: ["a", "b"], rateLimit: { limit: 1, windowMs: 60_000, endpoints: { "search/all": { limit: 2 } } } });
    expect((await api(em, SEARCH, { query: "x" }, "a")).status).toBe(200);
    expect((await api(em, SEARCH, { query: "x" }, "a")).status).toBe(429);
    expect((await api(em, SEARCH, { query: "x" }, "b")).status).toBe(200);
    const all = await api(em, "/2/tweets/search/all", { query: "x" }, "a");
    expect(all.headers.get("x-rate-limit-limit")).toBe("2");
    em.resetRateLimits();
    expect((await api(em, SEARCH, { query: "x" }, "a")).status).toBe(200);
  });

  it("sends the reset with milliseconds when asked (sub-second windows), in whole seconds rounded up by default", async () => {
    const now = 1_700_000_000_123;
    em = await startEmulator({ rateLimit: { limit: 1, windowMs: 250, resetPrecision: "milliseconds" }, now: () => now });
    const r = await api(em, SEARCH, { query: "x" });
    expect(r.headers.get("x-rate-limit-reset")).toBe("1700000000.373");
    em.setRateLimit({ limit: 1, windowMs: 250 });
    em.resetRateLimits();
    expect((await api(em, SEARCH, { query: "x" })).headers.get("x-rate-limit-reset")).toBe("1700000001");
  });

  it("starts a new window when the clock goes back before the window's start, instead of refusing until the clock catches up", async () => {
    // A laptop's clock set back an hour (NTP, by hand) while a window was used up.
    let now = 1_700_000_000_000;
    em = await startEmulator({ rateLimit: { limit: 1, windowMs: 60_000 }, now: () => now });
    expect((await api(em, SEARCH, { query: "x" })).status).toBe(200);
    expect((await api(em, SEARCH, { query: "x" })).status).toBe(429);
    now -= 3_600_000;
    const after = await api(em, SEARCH, { query: "x" });
    expect(after.status).toBe(200);
    // the new window is counted from the clock as it is now: its reset is a minute away, not an hour and a minute
    expect(after.headers.get("x-rate-limit-reset")).toBe(String(Math.ceil((now + 60_000) / 1000)));
    expect(after.headers.get("x-rate-limit-remaining")).toBe("0");
    expect((await api(em, SEARCH, { query: "x" })).status).toBe(429);
    // A clock that only moves forward within the window keeps it closed, as before.
    now += 59_999;
    expect((await api(em, SEARCH, { query: "x" })).status).toBe(429);
  });

  it("sends the Date header from its clock, so a client can tell its own clock from the API's", async () => {
    const now = Date.UTC(2024, 4, 1, 12, 0, 0, 500);
    em = await startEmulator({ rateLimit: { limit: 1, windowMs: 60_000 }, now: () => now });
    const ok = await api(em, SEARCH, { query: "x" });
    expect(ok.headers.get("date")).toBe("Wed, 01 May 2024 12:00:00 GMT");
    const limited = await api(em, SEARCH, { query: "x" });
    expect(limited.status).toBe(429);
    expect(limited.headers.get("date")).toBe("Wed, 01 May 2024 12:00:00 GMT");
    // reset − Date is what the client has to wait, whatever its own clock says
    expect(Number(limited.headers.get("x-rate-limit-reset")) * 1000 - Date.parse(limited.headers.get("date")!)).toBe(61_000);
  });

  it("uses the real API's limits by default", async () => {
    em = await startEmulator();
    const r = await api(em, SEARCH, { query: "x" });
    expect(r.headers.get("x-rate-limit-limit")).toBe("450");
    expect(r.headers.get("x-rate-limit-remaining")).toBe("449");
  });
});
