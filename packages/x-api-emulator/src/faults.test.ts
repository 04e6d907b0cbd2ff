import { afterEach, describe, expect, it } from "vitest";
import { api } from "./__fixtures__/fixtures.js";
import { startEmulator, type Emulator, type FaultRule } from "./index.js";

const SEARCH = "/2/tweets/search/recent";
let em: Emulator | undefined;
afterEach(async () => {
  await em?.close();
  em = undefined;
});

async function statuses(e: Emulator, n: number, path = SEARCH): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push((await api(e, path, { query: "brexit" })).status);
  return out;
}

describe("fault injection", () => {
  it("503 and 500 at chosen request numbers, counted per endpoint", async () => {
    em = await startEmulator({
      faults: [
        { kind: "503", at: [2, 4] },
        { kind: "500", at: [3], endpoint: "search/all" },
      ],
    });
    expect(await statuses(em, 5)).toEqual([200, 503, 200, 503, 200]);
    expect(await statuses(em, 3, "/2/tweets/search/all")).toEqual([200, 503, 500]);
    const r = await api(em, SEARCH, { query: "x" });
    expect(r.status).toBe(200);
    expect(em.stats().faults).toEqual({ "503": 3, "500": 1 });
    const faulted = em.requests.find((q) => q.status === 503)!;
    expect(faulted.fault).toBe("503");
  });

  it("counts globally with scope: global", async () => {
    em = await startEmulator({ faults: [{ kind: "503", at: [2], scope: "global" }] });
    expect((await api(em, SEARCH, { query: "x" })).status).toBe(200);
    expect((await api(em, "/2/tweets/search/all", { query: "x" })).status).toBe(503);
  });

  it("resets the connection", async () => {
    em = await startEmulator({ faults: [{ kind: "reset", at: [1] }] });
    await expect(fetch(`${em.url}${SEARCH}?query=x`, { headers: { authorization: "Bearer test-token" } })).rejects.toThrow();
    expect((await api(em, SEARCH, { query: "x" })).status).toBe(200);
    expect(em.requests[0]).toMatchObject({ status: 0, fault: "reset" });
  });

  it("delays a slow response and then answers normally", async () => {
    em = await startEmulator({ faults: [{ kind: "slow", at: [1], delayMs: 60 }] });
    const t0 = performance.now();
    const r = await api(em, SEARCH, { query: "brexit" });
    expect(performance.now() - t0).toBeGreaterThanOrEqual(55);
    expect(r.status).toBe(200);
    expect(r.body.meta.result_count).toBeGreaterThan(0);
    expect(em.requests[0]!.fault).toBe("slow");
  });

  it("truncates the body: a 200 whose text is a strict prefix of the real answer", async () => {
    em = await startEmulator({ faults: [{ kind: "truncate", at: [1] }] });
    const url = `${em.url}${SEARCH}?query=brexit`;
    const init = { headers: { authorization: "Bearer test-token" } };
    const cut = await fetch(url, init);
    const cutText = await cut.text();
    const full = await (await fetch(url, init)).text();
    expect(cut.status).toBe(200);
    expect(() => JSON.parse(cutText)).toThrow();
    expect(full.startsWith(cutText)).toBe(true);
    expect(cutText.length).toBeLessThan(full.length);
    expect(() => JSON.parse(full)).not.toThrow();
  });

  it("injects at a rate with a seeded PRNG, deterministically", async () => {
    const rules: FaultRule[] = [{ kind: "503", rate: 0.5, seed: 42 }];
    em = await startEmulator({ faults: rules });
    const first = await statuses(em, 20);
    await em.close();
    em = await startEmulator({ faults: rules });
    expect(await statuses(em, 20)).toEqual(first);
    expect(first.filter((s) => s === 503).length).toBeGreaterThan(2);
    expect(first.filter((s) => s === 200).length).toBeGreaterThan(2);
  });

  it("can change faults while running", async () => {
    em = await startEmulator();
    expect(await statuses(em, 2)).toEqual([200, 200]);
    em.setFaults([{ kind: "503", at: [3] }]);
    expect(await statuses(em, 1)).toEqual([503]);
    em.setFaults([{ kind: "500", at: [1] }], { resetCounters: true });
    expect(await statuses(em, 2)).toEqual([500, 200]);
    em.setFaults([]);
    expect(await statuses(em, 1)).toEqual([200]);
  });

  it("carries rate-limit headers on injected 503s", async () => {
    em = await startEmulator({ faults: [{ kind: "503", at: [1] }] });
    const r = await api(em, SEARCH, { query: "x" });
    expect(r.status).toBe(503);
    expect(r.body).toMatchObject({ title: "Service Unavailable", status: 503 });
    expect(r.headers.get("x-rate-limit-remaining")).toBe("449");
  });

  it("adds latency to every API response with latencyMs", async () => {
    em = await startEmulator({ latencyMs: 40 });
    const t0 = performance.now();
    expect((await api(em, SEARCH, { query: "x" })).status).toBe(200);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(35);
  });
});
