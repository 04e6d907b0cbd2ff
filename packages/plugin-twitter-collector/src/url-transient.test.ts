import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { lookup as realLookup } from "node:dns";
import { access, mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { UrlResolver } from "./url-resolver.js";
import { errorKindOf } from "./internal/url-error-kind.js";
import { loadUrlCache, resolveUrlsRun, type ResolveUrlsArgs, type SidecarLine } from "./urls.js";
import { captureLogger, drive, searchJob, tempDir } from "./__fixtures__/helpers.js";
import { startEmulator, type Emulator } from "@ujr/x-api-emulator";

let server: Server | undefined;
let emulator: Emulator | undefined;
let tmp: { dir: string; cleanup: () => Promise<void> };
/** Requests per path, and how many 503s each path answers before it works. */
let hits: Map<string, number>;
let failFirst: Map<string, number>;
let base: string;

beforeEach(async () => {
  tmp = await tempDir("ujr-collector-transient-");
  hits = new Map();
  failFirst = new Map();
  server = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://x").pathname;
    const n = (hits.get(path) ?? 0) + 1;
    hits.set(path, n);
    if (n <= (failFirst.get(path) ?? 0)) {
      res.statusCode = 503;
      res.end();
      return;
    }
    res.statusCode = 200;
    res.end("ok");
  });
  await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterEach(async () => {
  await emulator?.close();
  emulator = undefined;
  await new Promise<void>((resolve) => server!.close(() => resolve()));
  server?.closeAllConnections();
  await tmp.cleanup();
});

const ctx = (logger = captureLogger().logger) => ({ signal: new AbortController().signal, logger, progress: () => {} });

type LookupFn = typeof realLookup;
/** A DNS that fails with `code` for `name` while `failing.on`, and answers 127.0.0.1 otherwise. */
function flakyDns(name: string, code: string, failing: { on: boolean }, calls: string[]): LookupFn {
  return ((hostname: string, options: unknown, callback: (...args: unknown[]) => void) => {
    calls.push(hostname);
    if (hostname === name && failing.on) {
      callback(Object.assign(new Error(`getaddrinfo ${code} ${hostname}`), { code, hostname }));
      return;
    }
    if (hostname === name) {
      callback(null, [{ address: "127.0.0.1", family: 4 }]);
      return;
    }
    (realLookup as unknown as (h: string, o: unknown, c: unknown) => void)(hostname, options, callback);
  }) as unknown as LookupFn;
}

function page(links: string[]): string {
  return `${JSON.stringify({
    data: links.map((url, i) => ({ id: String(100 + i), text: url, entities: { urls: [{ start: 0, end: 23, url: `https://t.co/l${i}`, expanded_url: url }] } })),
    meta: { result_count: links.length },
  })}\n`;
}

async function rawFile(name: string, links: string[]): Promise<string> {
  const rawDir = join(tmp.dir, "raw");
  await mkdir(rawDir, { recursive: true });
  await writeFile(join(rawDir, name), page(links));
  return rawDir;
}

function args(rawDir: string, files: string[], extra: Partial<ResolveUrlsArgs> = {}): ResolveUrlsArgs {
  return { job: "j", stateDir: tmp.dir, rawDir, files, allowPrivateAddresses: true, timeoutMs: 2000, maxHops: 5, concurrency: 4, perHostConcurrency: 2, userAgent: "t", ...extra };
}

async function sidecar(rawDir: string, file: string): Promise<SidecarLine[]> {
  return (await readFile(join(rawDir, `${file}.urls.jsonl`), "utf8")).trim().split("\n").map((l) => JSON.parse(l) as SidecarLine);
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

const A = "20240101T000000000Z-00000001.jsonl";
const B = "20240101T000001000Z-00000002.jsonl";

describe("errorKindOf", () => {
  it.each([
    ["EAI_AGAIN: getaddrinfo EAI_AGAIN example.org", "transient"],
    ["EAI_AGAIN", "transient"],
    ["ECONNRESET: socket hang up", "transient"],
    ["ETIMEDOUT", "transient"],
    ["timeout after 10000 ms", "transient"],
    ["HTTP 503", "transient"],
    ["HTTP 429", "transient"],
    ["ENOTFOUND: getaddrinfo ENOTFOUND nowhere.invalid", "permanent"],
    ["refused: localhost resolves to the private/loopback/link-local address 127.0.0.1 (set urlResolution.allowPrivateAddresses to allow)", "permanent"],
    ["unsupported scheme ftp:", "permanent"],
    ["redirect loop", "permanent"],
    ["too many redirects (more than 10)", "permanent"],
    ["invalid URL", "permanent"],
  ])("%s → %s", (error, kind) => {
    expect(errorKindOf(error)).toBe(kind);
  });
});

describe("UrlResolver: transient failures are not cached", () => {
  it("a DNS temporary failure (EAI_AGAIN) is transient and asked again; NXDOMAIN is permanent and cached", async () => {
    const port = (server!.address() as AddressInfo).port;
    const failing = { on: true };
    const calls: string[] = [];
    const cache = new Map();
    const dnsLookup = flakyDns("links.test", "EAI_AGAIN", failing, calls);
    const first = await new UrlResolver({ allowPrivateAddresses: true, dnsLookup }, cache).resolve(`http://links.test:${port}/a`);
    expect(first).toMatchObject({ status: null, error_kind: "transient" });
    expect(first.error).toMatch(/^EAI_AGAIN/);
    expect(cache.size).toBe(0);
    failing.on = false;
    const second = await new UrlResolver({ allowPrivateAddresses: true, dnsLookup }, cache).resolve(`http://links.test:${port}/a`);
    expect(second).toEqual({ final_url: `http://links.test:${port}/a`, status: 200, hops: 0, error: null, error_kind: null });
    expect(hits.get("/a")).toBe(1);

    const gone = flakyDns("gone.test", "ENOTFOUND", { on: true }, calls);
    const resolver = new UrlResolver({ allowPrivateAddresses: true, dnsLookup: gone }, cache);
    expect(await resolver.resolve("http://gone.test/x")).toMatchObject({ error_kind: "permanent" });
    const before = calls.length;
    expect(await new UrlResolver({ allowPrivateAddresses: true, dnsLookup: gone }, cache).resolve("http://gone.test/x")).toMatchObject({ error_kind: "permanent" });
    expect(calls.length).toBe(before); // from the cache
  });

  it("a 503 is transient (not a result); a 404 is a permanent result", async () => {
    failFirst.set("/busy", 1);
    const cache = new Map();
    const busy = await new UrlResolver({ allowPrivateAddresses: true }, cache).resolve(`${base}/busy`);
    expect(busy).toEqual({ final_url: `${base}/busy`, status: 503, hops: 0, error: "HTTP 503", error_kind: "transient" });
    expect(cache.has(`${base}/busy`)).toBe(false);
    const again = await new UrlResolver({ allowPrivateAddresses: true }, cache).resolve(`${base}/busy`);
    expect(again).toMatchObject({ status: 200, error: null });
  });
});

describe("the resolveUrls task with transient failures", () => {
  it("a link cached as EAI_AGAIN by an older version is resolved again when a new file carries it", async () => {
    const link = `${base}/came-back`;
    await writeFile(join(tmp.dir, "url-cache.jsonl"), `${JSON.stringify({ url: link, final_url: link, status: null, hops: 0, error: "EAI_AGAIN: getaddrinfo EAI_AGAIN came-back.example" })}\n`);
    expect((await loadUrlCache(tmp.dir)).has(link)).toBe(false);
    const rawDir = await rawFile(A, [link]);
    await resolveUrlsRun(args(rawDir, [A]), ctx());
    expect(hits.get("/came-back")).toBe(1);
    expect(await sidecar(rawDir, A)).toEqual([{ url: "https://t.co/l0", expanded_url: link, final_url: link, status: 200, hops: 0, error: null, error_kind: null }]);
  });

  it("defers a file with transient failures (no sidecar, tries recorded), resolves it on a later try", async () => {
    failFirst.set("/flaky", 1);
    const rawDir = await rawFile(A, [`${base}/flaky`, `${base}/fine`]);
    const log = captureLogger();
    const first = await resolveUrlsRun(args(rawDir, [A]), ctx(log.logger));
    expect(first.deferred).toEqual([A]);
    expect(first.files).toEqual([]);
    expect(await exists(join(rawDir, `${A}.urls.jsonl`))).toBe(false);
    const retries = JSON.parse(await readFile(join(tmp.dir, "url-retries.json"), "utf8"));
    expect(retries.files[A]).toMatchObject({ attempts: 1, transient: 1 });
    expect(Date.parse(retries.files[A].retryAt) - Date.now()).toBeGreaterThan(50_000); // 1 min by default
    expect(log.lines.join("")).toMatch(/1 link\(s\) of .* failed transiently; the file is resolved again at .* \(try 1 of 4\)/);
    // The good link was cached; the flaky one was not.
    const cache = await loadUrlCache(tmp.dir);
    expect([...cache.keys()]).toEqual([`${base}/fine`]);

    const second = await resolveUrlsRun(args(rawDir, [A]), ctx());
    expect(second.files).toEqual([A]);
    expect((await sidecar(rawDir, A)).map((l) => [l.status, l.error_kind])).toEqual([
      [200, null],
      [200, null],
    ]);
    expect(hits.get("/fine")).toBe(1);
    expect(hits.get("/flaky")).toBe(2);
    expect(JSON.parse(await readFile(join(tmp.dir, "url-retries.json"), "utf8")).files).toEqual({});
  });

  it("after the last try the sidecar records the link as transient, and a later file asks again", async () => {
    failFirst.set("/down", 1000);
    const rawDir = await rawFile(A, [`${base}/down`]);
    const policy = { attempts: 2, delayMs: 0, maxDelayMs: 0 };
    expect((await resolveUrlsRun(args(rawDir, [A], { retry: policy }), ctx())).deferred).toEqual([A]);
    const log = captureLogger();
    const last = await resolveUrlsRun(args(rawDir, [A], { retry: policy }), ctx(log.logger));
    expect(last).toMatchObject({ files: [A], transient: 1, deferred: [] });
    expect(await sidecar(rawDir, A)).toEqual([{ url: "https://t.co/l0", expanded_url: `${base}/down`, final_url: `${base}/down`, status: 503, hops: 0, error: "HTTP 503", error_kind: "transient" }]);
    expect(log.lines.join("")).toMatch(/still failed transiently after 2 tries/);
    failFirst.set("/down", 0);
    await writeFile(join(rawDir, B), page([`${base}/down`]));
    await resolveUrlsRun(args(rawDir, [B], { retry: policy }), ctx());
    expect((await sidecar(rawDir, B))[0]).toMatchObject({ status: 200, error: null, error_kind: null });
    expect(hits.get("/down")).toBe(3);
  });

  it("the job offers a deferred file again only at its retry time, and ends once it is resolved", async () => {
    emulator = await startEmulator({ port: 0 });
    const link = `${base}/flaky-job`;
    failFirst.set("/flaky-job", 2);
    emulator.addTweets([{ text: `transientcheck ${link}`, entities: { urls: [{ start: 15, end: 40, url: link, expanded_url: link }] } }]);
    const slow = searchJob({ query: "transientcheck", baseUrl: emulator.url, mode: "once", maxResults: 10, urlResolution: { allowPrivateAddresses: true, retry: { attempts: 4, delay: "1m" } } }, tmp.dir);
    const waiting = await drive(slow);
    expect(waiting.outcome).toBe("idle");
    expect(slow.nextCheck! - Date.now()).toBeGreaterThan(50_000);
    expect(hits.get("/flaky-job")).toBe(1);

    const quick = searchJob({ query: "transientcheck", baseUrl: emulator.url, mode: "once", maxResults: 10, urlResolution: { allowPrivateAddresses: true, retry: { attempts: 4, delay: 0 } } }, join(tmp.dir, "quick"));
    const done = await drive(quick);
    expect(done.outcome).toBe("done");
    expect(done.tasks.filter((t) => t.export === "resolveUrls")).toHaveLength(2); // 503 (2nd of the server's two), then 200
    const rawDir = join(tmp.dir, "quick", "raw");
    const sidecars = (await readdir(rawDir)).filter((n) => n.endsWith(".urls.jsonl"));
    expect(sidecars).toHaveLength(1);
    expect((await sidecar(rawDir, sidecars[0]!.replace(/\.urls\.jsonl$/, "")))[0]).toMatchObject({ status: 200, error: null });
    expect(hits.get("/flaky-job")).toBe(3);
  });
});
