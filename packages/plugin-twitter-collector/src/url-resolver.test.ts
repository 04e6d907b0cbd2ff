import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { startEmulator, type Emulator } from "@ujr/x-api-emulator";
import { UrlResolver } from "./url-resolver.js";
import { isPrivateAddress } from "./internal/address-guard.js";
import { linksOfPage, resolveUrlsRun, type SidecarLine } from "./urls.js";
import { captureLogger, drive, readRawPages, searchJob, tempDir } from "./__fixtures__/helpers.js";

let emulator: Emulator | undefined;
let server: Server | undefined;
let tmp: { dir: string; cleanup: () => Promise<void> };
beforeEach(async () => {
  tmp = await tempDir("ujr-collector-urls-");
});
afterEach(async () => {
  await emulator?.close();
  emulator = undefined;
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server?.closeAllConnections();
  server = undefined;
  await tmp.cleanup();
});

const ctx = () => ({ signal: new AbortController().signal, logger: captureLogger().logger, progress: () => {} });

describe("isPrivateAddress", () => {
  it.each([
    ["127.0.0.1", true],
    ["10.1.2.3", true],
    ["172.16.0.1", true],
    ["172.32.0.1", false],
    ["192.168.1.1", true],
    ["169.254.169.254", true],
    ["100.64.0.1", true],
    ["0.0.0.0", true],
    ["8.8.8.8", false],
    ["::1", true],
    ["::", true],
    ["fe80::1", true],
    ["fd00::1", true],
    ["::ffff:127.0.0.1", true],
    ["::ffff:7f00:1", true],
    ["::ffff:a9fe:a9fe", true],
    ["::ffff:8.8.8.8", false],
    ["64:ff9b::10.0.0.1", true],
    ["2606:4700:4700::1111", false],
    ["not-an-ip", true],
  ])("%s → %s", (address, expected) => {
    expect(isPrivateAddress(address)).toBe(expected);
  });
});

describe("UrlResolver against the emulator's short links", () => {
  it("follows chains, stops loops and long chains, reports dead links and timeouts", async () => {
    emulator = await startEmulator({ port: 0, slowLinkMs: 3000 });
    const resolver = new UrlResolver({ allowPrivateAddresses: true, timeoutMs: 200, maxHops: 5 });
    const chain = await resolver.resolve(emulator.shortLinkUrl("chain-3"));
    expect(chain).toEqual({ final_url: `${emulator.url}/p/chain`, status: 200, hops: 3, error: null, error_kind: null });
    const long = await resolver.resolve(emulator.shortLinkUrl("chain-8"));
    expect(long.error).toMatch(/too many redirects/);
    expect(long.hops).toBe(6);
    const loop = await resolver.resolve(emulator.shortLinkUrl("loop-a"));
    expect(loop.error).toBe("redirect loop");
    const dead = await resolver.resolve(emulator.shortLinkUrl("dead"));
    expect(dead).toMatchObject({ final_url: `${emulator.url}/p/missing`, status: 404, hops: 1, error: null });
    const started = Date.now();
    const slow = await resolver.resolve(emulator.shortLinkUrl("slow"));
    expect(slow.error).toMatch(/timeout after 200 ms/);
    expect(slow.error_kind).toBe("transient");
    expect(loop.error_kind).toBe("permanent");
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it("onlyHosts: links on other hosts are recorded as skipped without a request", async () => {
    emulator = await startEmulator({ port: 0 });
    const resolver = new UrlResolver({ allowPrivateAddresses: true, timeoutMs: 2000, onlyHosts: ["127.0.0.1"] });
    const before = emulator.requests.length;
    const elsewhere = await resolver.resolve("https://t.co/abcdef");
    expect(elsewhere).toEqual({ final_url: "https://t.co/abcdef", status: null, hops: 0, error: "host t.co is not in urlResolution.onlyHosts", error_kind: "permanent" });
    expect(emulator.requests.length).toBe(before);
    const local = await resolver.resolve(emulator.shortLinkUrl("chain-2"));
    expect(local).toMatchObject({ status: 200, hops: 2, error: null });
  });

  it("refuses loopback/private targets unless allowed (IP literals and names that resolve to them)", async () => {
    emulator = await startEmulator({ port: 0 });
    const resolver = new UrlResolver({ timeoutMs: 1000 });
    const literal = await resolver.resolve(emulator.shortLinkUrl("chain-2"));
    expect(literal.error).toMatch(/refused/);
    expect(literal.status).toBeNull();
    const byName = await resolver.resolve(`http://localhost:${emulator.port}/s/chain-2`);
    expect(byName.error).toMatch(/refused/);
    const mapped = await resolver.resolve(`http://[::ffff:127.0.0.1]:${emulator.port}/s/chain-2`);
    expect(mapped.error).toMatch(/refused/);
    expect(emulator.requests).toHaveLength(0);
  });

  it("falls back to GET when HEAD is refused, and keeps to perHostConcurrency", async () => {
    let active = 0;
    let most = 0;
    const methods: string[] = [];
    server = createServer((req, res) => {
      methods.push(req.method!);
      if (req.method === "HEAD") {
        res.statusCode = 405;
        res.end();
        return;
      }
      active++;
      most = Math.max(most, active);
      setTimeout(() => {
        active--;
        res.end("ok");
      }, 20);
    });
    await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const resolver = new UrlResolver({ allowPrivateAddresses: true, concurrency: 10, perHostConcurrency: 2 });
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => resolver.resolve(`${base}/x${i}`)));
    expect(results.every((r) => r.status === 200 && r.error === null && r.hops === 0)).toBe(true);
    expect(methods.filter((m) => m === "GET")).toHaveLength(8);
    expect(most).toBeLessThanOrEqual(2);
  });
});

function pageWithLinks(links: string[], userLink?: string): Record<string, unknown> {
  return {
    data: links.map((url, i) => ({ id: String(1000 + i), text: `t ${url}`, entities: { urls: [{ start: 2, end: 20, url: `https://t.co/x${i}`, expanded_url: url }] } })),
    includes: userLink ? { users: [{ id: "1", name: "u", username: "u", entities: { url: { urls: [{ url: "https://t.co/u", expanded_url: userLink }] }, description: { urls: [{ url: "https://t.co/d", expanded_url: userLink }] } } }] } : {},
    meta: { result_count: links.length },
  };
}

describe("the resolveUrls task", () => {
  it("writes one sidecar line per link (tweets and users), resolves each link once per job (persisted cache)", async () => {
    emulator = await startEmulator({ port: 0 });
    const rawDir = join(tmp.dir, "raw");
    await mkdir(rawDir, { recursive: true });
    const a = "20240101T000000000Z-00000001.jsonl";
    const b = "20240101T000001000Z-00000002.jsonl";
    await writeFile(join(rawDir, a), `${JSON.stringify(pageWithLinks([emulator.shortLinkUrl("chain-2"), emulator.shortLinkUrl("loop-a")], emulator.shortLinkUrl("page-home")))}\n`);
    await writeFile(join(rawDir, b), `${JSON.stringify(pageWithLinks([emulator.shortLinkUrl("chain-2"), emulator.shortLinkUrl("dead")]))}\n`);
    const args = { job: "j", stateDir: tmp.dir, rawDir, files: [a], allowPrivateAddresses: true, timeoutMs: 2000, maxHops: 10, concurrency: 4, perHostConcurrency: 2, userAgent: "test" };
    const first = await resolveUrlsRun(args, ctx());
    expect(first.files).toEqual([a]);
    const lines = (await readFile(join(rawDir, `${a}.urls.jsonl`), "utf8")).trim().split("\n").map((l) => JSON.parse(l) as SidecarLine);
    expect(lines).toHaveLength(4); // 2 tweet links + user url + user description
    expect(lines[0]).toEqual({ url: "https://t.co/x0", expanded_url: emulator.shortLinkUrl("chain-2"), final_url: `${emulator.url}/p/chain`, status: 200, hops: 2, error: null, error_kind: null });
    expect(lines[1]!.error).toBe("redirect loop");
    expect(lines[2]).toMatchObject({ url: "https://t.co/u", final_url: `${emulator.url}/p/home`, status: 200, hops: 1 });
    const requestsAfterFirst = emulator.requests.length;
    // A second task (new process, same job folder): chain-2 comes from the persisted cache.
    const second = await resolveUrlsRun({ ...args, files: [a, b] }, ctx());
    expect(second.files).toEqual([b]); // a already has its sidecar
    expect(second.fromCache).toBe(1);
    const newPaths = emulator.requests.slice(requestsAfterFirst).map((r) => r.path);
    expect(newPaths).not.toContain("/s/chain-2");
    expect(newPaths).toContain("/s/dead");
    const cache = (await readFile(join(tmp.dir, "url-cache.jsonl"), "utf8")).trim().split("\n");
    expect(cache).toHaveLength(4);
  });

  it("without allowPrivateAddresses every emulator link is refused and recorded as such", async () => {
    emulator = await startEmulator({ port: 0 });
    const rawDir = join(tmp.dir, "raw");
    await mkdir(rawDir, { recursive: true });
    const a = "20240101T000000000Z-00000001.jsonl";
    await writeFile(join(rawDir, a), `${JSON.stringify(pageWithLinks([emulator.shortLinkUrl("chain-2")]))}\n`);
    await resolveUrlsRun({ job: "j", stateDir: tmp.dir, rawDir, files: [a], allowPrivateAddresses: false, timeoutMs: 2000, maxHops: 10, concurrency: 4, perHostConcurrency: 2, userAgent: "t" }, ctx());
    const [line] = (await readFile(join(rawDir, `${a}.urls.jsonl`), "utf8")).trim().split("\n").map((l) => JSON.parse(l) as SidecarLine);
    expect(line!.error).toMatch(/refused/);
    expect(emulator.requests).toHaveLength(0);
  });

  it("the job resolves the links of every new raw file (end to end)", async () => {
    emulator = await startEmulator({ port: 0 });
    const links = ["chain-3", "page-a", "page-b", "dead"].map((c) => emulator!.shortLinkUrl(c));
    emulator.addTweets(links.map((url, i) => ({ text: `linkcheck ${i} ${url}`, entities: { urls: [{ start: 12, end: 40, url, expanded_url: url }] } })));
    const job = searchJob({ query: "linkcheck", baseUrl: emulator.url, mode: "once", maxResults: 10, urlResolution: { allowPrivateAddresses: true, timeout: "2s" } }, tmp.dir);
    expect((await drive(job)).outcome).toBe("done");
    const pages = await readRawPages(join(tmp.dir, "raw"));
    expect(pages).toHaveLength(1);
    const sidecar = (await readFile(join(tmp.dir, "raw", `${pages[0]!.file}.urls.jsonl`), "utf8")).trim().split("\n").map((l) => JSON.parse(l));
    expect(sidecar).toHaveLength(4);
    expect(sidecar.filter((l) => l.status === 200)).toHaveLength(3);
    expect(linksOfPage(pages[0]!.page)).toHaveLength(4);
  });
});
