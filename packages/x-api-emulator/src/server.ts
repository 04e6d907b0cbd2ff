import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { gzipSync } from "node:zlib";
import { search, userLookup, userTweets, type ApiResult } from "./api.js";
import { loadCorpus, type Corpus, type CorpusSource, type CorpusStats } from "./corpus.js";
import { emulatorError, EmulatorErrorCodes } from "./errors.js";
import { FaultInjector, type FaultDecision, type FaultEndpoint, type FaultKind, type FaultRule } from "./faults.js";
import { idToMillis } from "./internal/snowflake.js";
import { internalError, notFoundRoute, serviceUnavailable, tooManyRequests, unauthorized } from "./problems.js";
import { RateLimiter, resetHeader, type RateLimitOption } from "./rate-limit.js";
import { landingPage, ShortLinks, type RedirectStatus } from "./short-links.js";
import type { ApiObject, EndpointName, Includes, Tweet } from "./types.js";

export interface EmulatorOptions {
  /** TCP port; 0 (default) picks a free one. */
  port?: number;
  /** Interface to bind (default 127.0.0.1). */
  host?: string;
  /** twarc2 JSONL files (paths or file URLs, .jsonl or .jsonl.gz) and/or parsed pages; the bundled sample when omitted. */
  corpus?: CorpusSource | CorpusSource[];
  /** Accepted bearer token(s) (default "test-token"). */
  bearerToken?: string | string[];
  /** Rate limits per endpoint and token; see RateLimitOption. Default: the real API's 15-minute limits. */
  rateLimit?: RateLimitOption;
  /** Fault rules (changeable later with `setFaults`). */
  faults?: FaultRule[];
  /** Extra delay before every API response, ms (default 0). */
  latencyMs?: number;
  /** Clock in epoch ms for rate-limit windows, the `Date` header of API answers and generated tweets (default Date.now). */
  now?: () => number;
  /** Delay of the `slow` short link, ms (default 10000). */
  slowLinkMs?: number;
  /** Gzip JSON responses when the client accepts it (default true), as the real API does. */
  compression?: boolean;
  /** How many entries `requests` keeps, oldest dropped first (default 100000). */
  requestLogLimit?: number;
}

export interface RequestRecord {
  /** 1-based sequence number over every request the server saw. */
  seq: number;
  method: string;
  path: string;
  query: Record<string, string>;
  /** Status sent; 0 when the connection was reset (fault) or the client went away. */
  status: number;
  /** API endpoint name, "shortlinks", "pages", or undefined for unknown routes. */
  endpoint?: EndpointName | "shortlinks" | "pages";
  /** The injected fault, if any. */
  fault?: FaultKind;
  /** Clock time (ms) when the request arrived. */
  at: number;
}

export interface EmulatorStats {
  total: number;
  byEndpoint: Record<string, number>;
  byStatus: Record<string, number>;
  faults: Record<string, number>;
  corpus: CorpusStats;
}

export interface GenerateOptions {
  /** Only clone tweets by this author id (default: any corpus tweet). */
  authorId?: string;
  /** Text prefix added to every generated tweet (default none). */
  textPrefix?: string;
}

export interface Emulator {
  /** Base URL, e.g. http://127.0.0.1:40123 (no trailing slash). */
  readonly url: string;
  readonly port: number;
  readonly host: string;
  /** The live corpus (read it, do not mutate it directly: use addTweets). */
  readonly corpus: Corpus;
  /** Request log, oldest first. */
  readonly requests: RequestRecord[];
  stats(): EmulatorStats;
  clearRequests(): void;
  /** Adds tweets to the searchable timeline; tweets without `id` get fresh ids greater than every existing one. */
  addTweets(tweets: Array<Omit<Tweet, "id"> & { id?: string }>, includes?: Includes): Tweet[];
  /** Adds `n` synthetic tweets cloned from corpus tweets, with fresh increasing ids; returns them newest last. */
  generateTweets(n: number, options?: GenerateOptions): Tweet[];
  /** Replaces the fault rules; `resetCounters` restarts request numbering for `at`. */
  setFaults(rules: FaultRule[], options?: { resetCounters?: boolean }): void;
  setRateLimit(option: RateLimitOption): void;
  /** Forgets rate-limit windows (all, or of one endpoint). */
  resetRateLimits(endpoint?: EndpointName): void;
  setLatency(ms: number): void;
  /** Registers `/s/<code>` → 301/302/... `target` (absolute URL, or a path on the emulator). */
  addShortLink(code: string, target: string, status?: RedirectStatus): void;
  /** `${url}/s/${code}`. */
  shortLinkUrl(code: string): string;
  close(): Promise<void>;
}

const DEFAULT_TOKEN = "test-token";

interface Routed {
  endpoint: EndpointName;
  run: (params: URLSearchParams) => ApiResult;
}

function route(corpus: Corpus, path: string): Routed | undefined {
  if (path === "/2/tweets/search/recent") return { endpoint: "search/recent", run: (p) => search(corpus, "search/recent", p) };
  if (path === "/2/tweets/search/all") return { endpoint: "search/all", run: (p) => search(corpus, "search/all", p) };
  let m = /^\/2\/users\/([^/]+)\/tweets$/.exec(path);
  if (m) {
    const id = decodeURIComponent(m[1]!);
    return { endpoint: "users/tweets", run: (p) => userTweets(corpus, id, p) };
  }
  m = /^\/2\/users\/by\/username\/([^/]+)$/.exec(path);
  if (m) {
    const name = decodeURIComponent(m[1]!);
    return { endpoint: "users/lookup", run: (p) => userLookup(corpus, "username", [name], true, p) };
  }
  if (path === "/2/users/by") {
    return { endpoint: "users/lookup", run: (p) => userLookup(corpus, "username", (p.get("usernames") ?? "").split(",").filter(Boolean), false, p) };
  }
  if (path === "/2/users") {
    return { endpoint: "users/lookup", run: (p) => userLookup(corpus, "id", (p.get("ids") ?? "").split(",").filter(Boolean), false, p) };
  }
  m = /^\/2\/users\/([0-9]+)$/.exec(path);
  if (m) {
    const id = m[1]!;
    return { endpoint: "users/lookup", run: (p) => userLookup(corpus, "id", [id], true, p) };
  }
  return undefined;
}

/** Starts the emulator: a real HTTP server serving the Twitter API v2 subset over the corpus. */
export async function startEmulator(options: EmulatorOptions = {}): Promise<Emulator> {
  const now = options.now ?? Date.now;
  const host = options.host ?? "127.0.0.1";
  const tokens = new Set(
    options.bearerToken === undefined ? [DEFAULT_TOKEN] : Array.isArray(options.bearerToken) ? options.bearerToken : [options.bearerToken],
  );
  if (tokens.size === 0 || [...tokens].some((t) => typeof t !== "string" || t === "")) {
    throw emulatorError(EmulatorErrorCodes.OPTION_INVALID, "`bearerToken` must be a non-empty string or a list of them.");
  }
  const corpus = loadCorpus(options.corpus);
  const limiter = new RateLimiter(options.rateLimit, now);
  const faults = new FaultInjector(options.faults ?? []);
  const links = new ShortLinks(options.slowLinkMs ?? 10_000);
  const compression = options.compression ?? true;
  const logLimit = options.requestLogLimit ?? 100_000;
  let latencyMs = options.latencyMs ?? 0;
  const requests: RequestRecord[] = [];
  let seq = 0;
  const counters = { total: 0, byEndpoint: {} as Record<string, number>, byStatus: {} as Record<string, number>, faults: {} as Record<string, number> };
  const timers = new Set<NodeJS.Timeout>();
  let baseUrl = "";

  /** Waits `ms`; resolves false if the client went away or the server is closing. */
  const wait = (ms: number, res: ServerResponse): Promise<boolean> =>
    new Promise((resolve) => {
      if (ms <= 0) return resolve(!res.destroyed);
      const onClose = (): void => {
        clearTimeout(timer);
        timers.delete(timer);
        resolve(false);
      };
      const timer = setTimeout(() => {
        timers.delete(timer);
        res.off("close", onClose);
        resolve(!res.destroyed);
      }, ms);
      timers.add(timer);
      res.once("close", onClose);
    });

  const finish = (record: RequestRecord, status: number, fault?: FaultKind): void => {
    record.status = status;
    if (fault) {
      record.fault = fault;
      counters.faults[fault] = (counters.faults[fault] ?? 0) + 1;
    }
    counters.byStatus[String(status)] = (counters.byStatus[String(status)] ?? 0) + 1;
  };

  const originOf = (req: IncomingMessage): string => {
    const h = req.headers.host;
    return h && /^[A-Za-z0-9.\-:[\]]+$/.test(h) ? `http://${h}` : baseUrl;
  };

  const sendJson = (req: IncomingMessage, res: ServerResponse, status: number, body: unknown, headers: Record<string, string>, keepFraction?: number): void => {
    let text = JSON.stringify(body).replaceAll("{base}", originOf(req));
    if (keepFraction !== undefined) text = text.slice(0, Math.max(1, Math.floor(text.length * keepFraction)));
    let payload = Buffer.from(text, "utf8");
    // The API's own clock, as the real API sends it: a client can tell its clock from the server's.
    const out: Record<string, string> = { "content-type": "application/json; charset=utf-8", date: new Date(now()).toUTCString(), ...headers };
    if (compression && /\bgzip\b/.test(String(req.headers["accept-encoding"] ?? ""))) {
      payload = gzipSync(payload);
      out["content-encoding"] = "gzip";
      out.vary = "accept-encoding";
    }
    // A truncated body is sent chunked and ends cleanly: the client gets a 200 with invalid JSON.
    if (keepFraction === undefined) out["content-length"] = String(payload.length);
    res.writeHead(status, out);
    res.end(req.method === "HEAD" ? undefined : payload);
  };

  const applyFault = async (fault: FaultDecision | undefined, record: RequestRecord, req: IncomingMessage, res: ServerResponse, headers: Record<string, string>): Promise<"handled" | "continue" | number> => {
    if (!fault) return "continue";
    switch (fault.kind) {
      case "reset":
        finish(record, 0, "reset");
        req.socket.destroy();
        return "handled";
      case "503":
        finish(record, 503, "503");
        sendJson(req, res, 503, serviceUnavailable(), headers);
        return "handled";
      case "500":
        finish(record, 500, "500");
        sendJson(req, res, 500, internalError(), headers);
        return "handled";
      case "slow":
        record.fault = "slow";
        counters.faults.slow = (counters.faults.slow ?? 0) + 1;
        if (!(await wait(fault.delayMs, res))) {
          finish(record, 0);
          return "handled";
        }
        return "continue";
      case "truncate":
        return fault.keepFraction;
    }
  };

  const handleShortLink = async (req: IncomingMessage, res: ServerResponse, record: RequestRecord, code: string): Promise<void> => {
    record.endpoint = "shortlinks";
    const { fault } = faults.next("shortlinks");
    const f = await applyFault(fault, record, req, res, {});
    if (f === "handled") return;
    const answer = links.resolve(code);
    if (answer.delayMs && !(await wait(answer.delayMs, res))) return finish(record, 0);
    if (answer.location === undefined) {
      finish(record, 404);
      res.writeHead(404, { "content-type": "text/html; charset=utf-8" });
      res.end(req.method === "HEAD" ? undefined : "<!doctype html><title>Not found</title>\n");
      return;
    }
    const location = answer.location.startsWith("/") ? `${originOf(req)}${answer.location}` : answer.location.replaceAll("{base}", originOf(req));
    finish(record, answer.status);
    res.writeHead(answer.status, { location, "content-type": "text/html; charset=utf-8", "content-length": "0" });
    res.end();
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? "/", "http://emulator.invalid");
    const path = url.pathname;
    const record: RequestRecord = { seq: ++seq, method: req.method ?? "GET", path, query: Object.fromEntries(url.searchParams), status: 0, at: now() };
    requests.push(record);
    if (requests.length > logLimit) requests.splice(0, requests.length - logLimit);
    counters.total++;
    const countEndpoint = (name: string): void => {
      counters.byEndpoint[name] = (counters.byEndpoint[name] ?? 0) + 1;
    };
    const isRead = req.method === "GET" || req.method === "HEAD";

    const short = /^\/s\/([^/]+)$/.exec(path);
    if (short && isRead) {
      countEndpoint("shortlinks");
      return handleShortLink(req, res, record, decodeURIComponent(short[1]!));
    }
    const page = /^\/p\/([^/]*)$/.exec(path);
    if (page && isRead) {
      record.endpoint = "pages";
      countEndpoint("pages");
      const html = landingPage(decodeURIComponent(page[1]!));
      const status = html === undefined ? 404 : 200;
      finish(record, status);
      const body = Buffer.from(html ?? "<!doctype html><title>Not found</title>\n", "utf8");
      res.writeHead(status, { "content-type": "text/html; charset=utf-8", "content-length": String(body.length) });
      res.end(req.method === "HEAD" ? undefined : body);
      return;
    }

    const routed = isRead ? route(corpus, path) : undefined;
    if (!routed) {
      finish(record, 404);
      sendJson(req, res, 404, notFoundRoute(), {});
      return;
    }
    record.endpoint = routed.endpoint;
    countEndpoint(routed.endpoint);

    const auth = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? "");
    const token = auth?.[1]?.trim();
    if (token === undefined || !tokens.has(token)) {
      finish(record, 401);
      sendJson(req, res, 401, unauthorized(), {});
      return;
    }
    const rl = limiter.hit(routed.endpoint, token);
    const headers = {
      "x-rate-limit-limit": String(rl.limit),
      "x-rate-limit-remaining": String(rl.remaining),
      "x-rate-limit-reset": resetHeader(rl.resetAt, limiter.current),
    };
    if (rl.limited) {
      finish(record, 429);
      sendJson(req, res, 429, tooManyRequests(), headers);
      return;
    }
    const { fault } = faults.next(routed.endpoint);
    const f = await applyFault(fault, record, req, res, headers);
    if (f === "handled") return;
    if (latencyMs > 0 && !(await wait(latencyMs, res))) return finish(record, 0);
    const result = routed.run(url.searchParams);
    if (typeof f === "number") {
      finish(record, result.status, "truncate");
      sendJson(req, res, result.status, result.body, headers, f);
    } else {
      finish(record, result.status);
      sendJson(req, res, result.status, result.body, headers);
    }
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) {
        res.writeHead(500, { "content-type": "application/json; charset=utf-8" });
        res.end(JSON.stringify({ ...internalError(), detail: String((err as Error)?.message ?? err) }));
      } else res.destroy();
    });
  });

  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void =>
      reject(emulatorError(EmulatorErrorCodes.LISTEN, `Cannot listen on ${host}:${options.port ?? 0}: ${err.message}. Choose another port (0 picks a free one).`, err));
    server.once("error", onError);
    server.listen(options.port ?? 0, host, () => {
      server.off("error", onError);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  baseUrl = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;

  const addTweets: Emulator["addTweets"] = (tweets, includes) => {
    if (includes) corpus.addIncludes(includes);
    let next = corpus.nextId(now());
    const stored: Tweet[] = tweets.map((t) => {
      if (typeof t.id === "string") return t as Tweet;
      const id = next;
      next += 1n;
      const tweet: Tweet = { ...t, id: id.toString() };
      if (tweet.created_at === undefined) tweet.created_at = new Date(idToMillis(id)).toISOString();
      return tweet;
    });
    corpus.addTimelineTweets(stored);
    return stored;
  };

  let generated = 0;
  const generateTweets: Emulator["generateTweets"] = (n, opts = {}) => {
    const templates = corpus.timeline.filter((e) => opts.authorId === undefined || e.tweet.author_id === opts.authorId).map((e) => e.tweet);
    if (templates.length === 0) {
      throw emulatorError(EmulatorErrorCodes.OPTION_INVALID, "generateTweets needs at least one corpus tweet to clone (for that author).");
    }
    let next = corpus.nextId(now());
    const out: Tweet[] = [];
    for (let i = 0; i < n; i++) {
      const template = templates[(generated * 7919 + i * 31) % templates.length]!;
      const clone = structuredClone(template) as Tweet & ApiObject;
      const oldId = clone.id;
      const id = next.toString();
      next += 1n;
      clone.id = id;
      clone.created_at = new Date(idToMillis(BigInt(id))).toISOString();
      if (clone.conversation_id === oldId) clone.conversation_id = id;
      if (Array.isArray(clone.edit_history_tweet_ids)) clone.edit_history_tweet_ids = [id];
      if (opts.textPrefix && typeof clone.text === "string") clone.text = `${opts.textPrefix}${clone.text}`;
      out.push(clone);
    }
    generated++;
    corpus.addTimelineTweets(out);
    return out;
  };

  return {
    url: baseUrl,
    port,
    host,
    corpus,
    requests,
    stats: () => ({
      total: counters.total,
      byEndpoint: { ...counters.byEndpoint },
      byStatus: { ...counters.byStatus },
      faults: { ...counters.faults },
      corpus: corpus.stats(),
    }),
    clearRequests: () => {
      requests.length = 0;
    },
    addTweets,
    generateTweets,
    setFaults: (rules, opts) => faults.set(rules, opts?.resetCounters ?? false),
    setRateLimit: (option) => limiter.configure(option),
    resetRateLimits: (endpoint) => limiter.reset(endpoint),
    setLatency: (ms) => {
      latencyMs = ms;
    },
    addShortLink: (code, target, status) => links.add(code, target, status),
    shortLinkUrl: (code) => `${baseUrl}/s/${encodeURIComponent(code)}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const t of timers) clearTimeout(t);
        timers.clear();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

export type { FaultEndpoint };
