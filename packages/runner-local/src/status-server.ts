import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createHash, timingSafeEqual } from "node:crypto";
import { registerSecret, scrub, type Logger, type Runner } from "@ujr/core";
import { createHostCheck } from "./host-check.js";
import { listenOn } from "./listen.js";
import { createStatusMetrics } from "./status-metrics.js";
import { createDashboard } from "./dashboard/dashboard.js";
import type { DashboardHistory } from "./dashboard/dashboard-history.js";

/** The port `ujr status` looks at by default (Prometheus exporters' range). */
export const DEFAULT_STATUS_PORT = 9464;
export const DEFAULT_STATUS_HOST = "127.0.0.1";

export interface StatusServerOptions {
  /** 0 picks a free port (read it from `url`). */
  port: number;
  /** Bind address; default 127.0.0.1 (loopback only). */
  host?: string | undefined;
  /** When set, every request needs `Authorization: Bearer <token>`. Never logged. */
  token?: string | undefined;
  /**
   * Without a token, only requests whose `Host` is a loopback name (localhost, 127.0.0.1,
   * [::1]), the bind address or one of these are answered (DNS rebinding); `"*"`: any.
   */
  allowedHosts?: readonly string[] | undefined;
  /** Where "status server listening" (with the URL, never the token) goes. */
  logger?: Logger | undefined;
  /** Run history for the dashboard at `/` (its job pages, charts, last success and failure). */
  history?: DashboardHistory | undefined;
  /** A distributed executor's queue and workers for the dashboard (e.g. `() => bullmqExecutor.describe()`). */
  executorInfo?: (() => Promise<unknown>) | undefined;
}

export interface StatusServer {
  /** e.g. `http://127.0.0.1:9464` (the bound port, also when 0 was asked). */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  close(): Promise<void>;
}

const loopback = new Set(["127.0.0.1", "::1", "localhost"]);

function digest(text: string): Buffer {
  return createHash("sha256").update(text).digest();
}

function hostForUrl(host: string): string {
  if (host === "0.0.0.0" || host === "::") return host === "::" ? "[::1]" : "127.0.0.1";
  return host.includes(":") ? `[${host}]` : host;
}

/**
 * Serves a runner's state over HTTP, bound to loopback unless `host` says otherwise:
 *
 * - `GET /status`: `runner.snapshot()` as JSON (secrets scrubbed)
 * - `GET /metrics`: Prometheus text (prom-client, in a registry of its own)
 * - `GET /healthz`: `200 ok` while the runner runs, `503` otherwise (starting, stopping, stopped)
 * - `GET /`: the dashboard (see dashboard/), and its `/api/*`; actions (POST) only with a token
 *
 * With a `token`, each request needs `Authorization: Bearer <token>` (else 401), compared
 * in constant time.
 */
export async function startStatusServer(runner: Runner, options: StatusServerOptions): Promise<StatusServer> {
  const host = options.host ?? DEFAULT_STATUS_HOST;
  const token = options.token;
  if (token) registerSecret(token);
  const expected = token ? digest(`Bearer ${token}`) : undefined;
  const metrics = createStatusMetrics(runner);
  const dashboard = createDashboard(runner, { history: options.history, token, executorInfo: options.executorInfo });

  const send = (response: ServerResponse, status: number, type: string, body: string, headers: Record<string, string> = {}) => {
    response.writeHead(status, { "content-type": type, "cache-control": "no-store", ...headers });
    response.end(response.req.method === "HEAD" ? undefined : body);
  };

  let hostAllowed: (host: string | undefined) => boolean = () => false;
  const refusedHosts = new Set<string>();
  const handle = async (request: IncomingMessage, response: ServerResponse) => {
    if (!hostAllowed(request.headers.host)) {
      // Whatever a page sent, cut short and printable: it goes into the log.
      const given = String(request.headers.host).slice(0, 100).replace(/[^\x20-\x7e]/g, "?");
      if (refusedHosts.size < 10 && !refusedHosts.has(given)) {
        refusedHosts.add(given);
        options.logger?.warn({ host: given }, `status server refused a request for Host "${given}" (not a name of this machine): add it to runner.status.allowedHosts, or set runner.status.token`);
      }
      send(response, 403, "text/plain; charset=utf-8", "forbidden: this Host is not allowed; add it to runner.status.allowedHosts (or set runner.status.token)\n");
      return;
    }
    const url = new URL(request.url ?? "/", "http://localhost");
    // The dashboard's page and scripts hold no data: the browser loads them, then sends the token with each API call.
    if (dashboard.isPublic(url.pathname) && (request.method === "GET" || request.method === "HEAD") && (await dashboard.handle(request, response, url))) return;
    if (expected) {
      const given = digest(String(request.headers.authorization ?? ""));
      if (!timingSafeEqual(given, expected)) {
        send(response, 401, "text/plain; charset=utf-8", "unauthorized: send Authorization: Bearer <token>\n", { "www-authenticate": 'Bearer realm="ujr"' });
        return;
      }
    }
    const path = url.pathname;
    if (request.method === "POST" && (await dashboard.handle(request, response, url))) return;
    if (request.method !== "GET" && request.method !== "HEAD") {
      send(response, 405, "text/plain; charset=utf-8", "method not allowed\n", { allow: "GET, HEAD" });
      return;
    }
    switch (path) {
      case "/status":
        send(response, 200, "application/json; charset=utf-8", `${JSON.stringify(scrub(runner.snapshot()), null, 2)}\n`);
        return;
      case "/metrics":
        send(response, 200, metrics.registry.contentType, await metrics.text());
        return;
      case "/healthz": {
        const state = runner.state;
        if (state === "running") send(response, 200, "text/plain; charset=utf-8", "ok\n");
        else send(response, 503, "text/plain; charset=utf-8", `${state === "idle" ? "starting" : state}\n`);
        return;
      }
      default:
        if (await dashboard.handle(request, response, url)) return;
        send(response, 404, "text/plain; charset=utf-8", "not found: try /, /status, /metrics or /healthz\n");
    }
  };

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      options.logger?.error({ err: error }, "status server request failed");
      if (!response.headersSent) send(response, 500, "text/plain; charset=utf-8", "internal error\n");
      else response.destroy();
    });
  });
  let port: number;
  try {
    port = await listenOn(server, host, options.port);
  } catch (error) {
    metrics.dispose();
    dashboard.close();
    throw error;
  }
  server.on("error", (error) => options.logger?.error({ err: error }, "status server error"));
  hostAllowed = createHostCheck({ port, bindHost: host, allowedHosts: options.allowedHosts, token: expected !== undefined });
  const url = `http://${hostForUrl(host)}:${port}`;
  options.logger?.info({ url, auth: token ? "bearer token" : "none" }, `status server listening on ${url} (dashboard at /; /status, /metrics, /healthz)`);
  if (!loopback.has(host) && !token) {
    options.logger?.warn({ host }, "the status server listens beyond loopback without a token: anyone who can reach it sees the runner's state");
  }

  let closed: Promise<void> | undefined;
  return {
    url,
    host,
    port,
    close() {
      closed ??= new Promise<void>((resolve) => {
        metrics.dispose();
        dashboard.close();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
  };
}
