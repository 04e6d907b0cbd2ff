import { createServer } from "node:http";
import type { Registry } from "prom-client";
import { promClient } from "./prom-client.js";
import type { Logger } from "@ujr/core";
import { listenOn } from "./listen.js";

export interface ProbeServerOptions {
  /** 0 picks a free port (read it from `url`). */
  port: number;
  /** Bind address; default 127.0.0.1 (loopback only). */
  host?: string | undefined;
  /** "ok" while the process does its work; anything else is answered 503 with that word. */
  health: () => string;
  /** Gauges read at scrape time: name → help and value. */
  gauges?: Record<string, { help: string; value: () => number }> | undefined;
  logger?: Logger | undefined;
  /** What the log line calls it, e.g. "worker probes". */
  name?: string | undefined;
}

export interface ProbeServer {
  readonly url: string;
  close(): Promise<void>;
}

/**
 * A small HTTP server for orchestrators' probes and Prometheus, for processes without a
 * runner of their own (`ujr worker`): `GET /healthz` (200 `ok`, else 503 and the state)
 * and `GET /metrics` (process metrics and the given gauges, in a registry of its own).
 * Loopback by default.
 */
export async function startProbeServer(options: ProbeServerOptions): Promise<ProbeServer> {
  const host = options.host ?? "127.0.0.1";
  const { collectDefaultMetrics, Gauge, Registry } = promClient();
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  for (const [name, gauge] of Object.entries(options.gauges ?? {})) {
    new Gauge({
      name,
      help: gauge.help,
      registers: [registry],
      collect() {
        this.set(gauge.value());
      },
    });
  }
  const server = createServer((request, response) => {
    const path = new URL(request.url ?? "/", "http://localhost").pathname;
    const send = (status: number, type: string, body: string) => {
      response.writeHead(status, { "content-type": type, "cache-control": "no-store" });
      response.end(request.method === "HEAD" ? undefined : body);
    };
    if (request.method !== "GET" && request.method !== "HEAD") return send(405, "text/plain; charset=utf-8", "method not allowed\n");
    if (path === "/healthz") {
      const state = options.health();
      return send(state === "ok" ? 200 : 503, "text/plain; charset=utf-8", `${state}\n`);
    }
    if (path === "/metrics") {
      registry.metrics().then(
        (text) => send(200, registry.contentType, text),
        () => send(500, "text/plain; charset=utf-8", "metrics failed\n"),
      );
      return;
    }
    send(404, "text/plain; charset=utf-8", "not found: try /healthz or /metrics\n");
  });
  const port = await listenOn(server, host, options.port);
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
  options.logger?.info({ url }, `${options.name ?? "probes"} listening on ${url} (/healthz, /metrics)`);
  return {
    url,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
