import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api } from "./__fixtures__/fixtures.js";
import { startEmulator, type Emulator } from "./index.js";

let em: Emulator;
beforeAll(async () => {
  em = await startEmulator({ slowLinkMs: 60_000 });
});
afterAll(() => em.close());

async function hops(start: string, max = 10, method = "GET"): Promise<{ chain: Array<[number, string]>; final?: Response }> {
  const chain: Array<[number, string]> = [];
  let url = start;
  for (let i = 0; i < max; i++) {
    const res = await fetch(url, { redirect: "manual", method });
    chain.push([res.status, new URL(url).pathname]);
    const loc = res.headers.get("location");
    if (res.status >= 300 && res.status < 400 && loc) {
      url = new URL(loc, url).href;
      await res.body?.cancel();
      continue;
    }
    return { chain, final: res };
  }
  return { chain };
}

describe("short links", () => {
  it("chain-3: three redirects, then a 200 HTML page with a <title>", async () => {
    const { chain, final } = await hops(em.shortLinkUrl("chain-3"));
    expect(chain).toEqual([
      [307, "/s/chain-3"],
      [302, "/s/chain-2"],
      [301, "/s/chain-1"],
      [200, "/p/chain"],
    ]);
    expect(await final!.text()).toContain("<title>Emulated page chain</title>");
  });

  it("loop-a and loop-b redirect to each other forever", async () => {
    const { chain, final } = await hops(em.shortLinkUrl("loop-a"), 6);
    expect(final).toBeUndefined();
    expect(chain.map((c) => c[1])).toEqual(["/s/loop-a", "/s/loop-b", "/s/loop-a", "/s/loop-b", "/s/loop-a", "/s/loop-b"]);
  });

  it("dead ends in a 404, as does an unknown code", async () => {
    const { chain } = await hops(em.shortLinkUrl("dead"));
    expect(chain).toEqual([
      [301, "/s/dead"],
      [404, "/p/missing"],
    ]);
    expect((await fetch(em.shortLinkUrl("no-such-code"))).status).toBe(404);
  });

  it("answers HEAD like GET, and follows custom links", async () => {
    em.addShortLink("custom", "/s/page-hello", 302);
    const { chain, final } = await hops(em.shortLinkUrl("custom"), 10, "HEAD");
    expect(chain).toEqual([
      [302, "/s/custom"],
      [301, "/s/page-hello"],
      [200, "/p/hello"],
    ]);
    expect(final!.headers.get("content-type")).toContain("text/html");
    const followed = await fetch(em.shortLinkUrl("custom"));
    expect(await followed.text()).toContain("<title>Emulated page hello</title>");
  });

  it("slow holds the answer until the client gives up", async () => {
    await expect(fetch(em.shortLinkUrl("slow"), { signal: AbortSignal.timeout(50) })).rejects.toThrow();
  });

  it("the sample corpus points at the emulator's own short links", async () => {
    const r = await api(em, "/2/tweets/search/recent", { query: "has:links", max_results: "100", "tweet.fields": "entities" });
    const urls: string[] = r.body.data.flatMap((t: any) => (t.entities?.urls ?? []).map((u: any) => u.expanded_url));
    const own = urls.filter((u) => u.startsWith(`${em.url}/s/`));
    expect(own.length).toBeGreaterThan(5);
    expect(JSON.stringify(r.body)).not.toContain("{base}");
    const { final } = await hops(own.find((u) => u.includes("/s/page-"))!);
    expect(final!.status).toBe(200);
  });
});
