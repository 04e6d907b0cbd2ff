import { readFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Runner } from "@ujr/core";
import { DashboardActions, fromLoopback } from "./actions.js";
import type { DashboardHistory, DashboardRunOutcome } from "./dashboard-history.js";
import { buildJobPage, buildOverview, ExecutorInfoCache, HistoryCache } from "./dashboard-data.js";
import { LiveUpdates } from "./live-updates.js";

export interface DashboardOptions {
  history?: DashboardHistory | undefined;
  /** Actions (pause, resume, ask now, cancel, retry) are on only with a token. */
  token?: string | undefined;
  /** A distributed executor's queue and workers (e.g. BullmqExecutor.describe), shown on the overview. */
  executorInfo?: (() => Promise<unknown>) | undefined;
}

export interface Dashboard {
  /** Pages and assets: no runner data in them, served without the token. */
  isPublic(path: string): boolean;
  /** Answers a dashboard request; false when the path is not the dashboard's. */
  handle(request: IncomingMessage, response: ServerResponse, url: URL): Promise<boolean>;
  close(): void;
}

// Static files live beside the package's dist/ and src/ folders (same depth from both).
const uiFolder = new URL("../../dashboard-ui/", import.meta.url);
const assets: Record<string, { file: string; type: string }> = {
  "/ui/app.js": { file: "app.js", type: "text/javascript; charset=utf-8" },
  "/ui/app.css": { file: "app.css", type: "text/css; charset=utf-8" },
};
const pageTypes = { html: "text/html; charset=utf-8", json: "application/json; charset=utf-8" };

/** Everything the page loads comes from this server: no CDN, no font, no inline script. */
const securityHeaders = {
  "content-security-policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
};

const cache = new Map<string, string>();
function readAsset(file: string): string {
  let text = cache.get(file);
  if (text === undefined) {
    text = readFileSync(new URL(file, uiFolder), "utf8");
    cache.set(file, text);
  }
  return text;
}

function isPage(path: string): boolean {
  return path === "/" || /^\/jobs\/[^/]+$/.test(path);
}

export function createDashboard(runner: Runner, options: DashboardOptions): Dashboard {
  const actionsOn = Boolean(options.token);
  const history = options.history;
  const historyCache = new HistoryCache(history);
  const actions = new DashboardActions(runner);
  const settled = () => historyCache.markStale();
  const settleEvents = ["task:done", "task:failed", "task:timeout", "task:retry", "task:cancelled"] as const;
  for (const name of settleEvents) runner.on(name, settled);
  const executorInfo = new ExecutorInfoCache(options.executorInfo);
  const overview = async (force: boolean) => ({ ...(await buildOverview(runner, historyCache, actionsOn, force, executorInfo)), retryable: actions.retryable() });
  const live = new LiveUpdates(runner, { build: overview });

  const send = (response: ServerResponse, status: number, type: string, body: string, headers: Record<string, string> = {}) => {
    response.writeHead(status, { "content-type": type, "cache-control": "no-store", ...securityHeaders, ...headers });
    response.end(response.req.method === "HEAD" ? undefined : body);
  };
  const json = (response: ServerResponse, status: number, value: unknown) => send(response, status, pageTypes.json, `${JSON.stringify(value)}\n`);

  return {
    isPublic(path) {
      return isPage(path) || path in assets || path === "/favicon.ico";
    },

    async handle(request, response, url) {
      const path = url.pathname;
      const method = request.method ?? "GET";
      if (method === "POST") {
        const match = /^\/api\/(jobs|runs)\/([^/]+)\/(pause|resume|check|cancel|retry)$/.exec(path);
        if (!match) return false;
        const [, kind, rawTarget, action] = match as unknown as [string, string, string, string];
        const forJobs = ["pause", "resume", "check"].includes(action);
        if ((kind === "jobs") !== forJobs) return false;
        if (!actionsOn) {
          json(response, 403, { ok: false, message: "actions are off: set runner.status.token in the config (and send it as Authorization: Bearer <token>) to pause, resume, ask now, cancel or retry from the dashboard" });
          return true;
        }
        if (!fromLoopback(request)) {
          json(response, 403, { ok: false, message: "actions are accepted from this machine only (reach the dashboard through an SSH tunnel)" });
          return true;
        }
        const result = actions.run(action, decodeURIComponent(rawTarget));
        json(response, result.status, result.body);
        return true;
      }
      if (isPage(path)) {
        send(response, 200, pageTypes.html, readAsset("index.html"));
        return true;
      }
      const asset = assets[path];
      if (asset) {
        send(response, 200, asset.type, readAsset(asset.file));
        return true;
      }
      if (path === "/favicon.ico") {
        send(response, 204, "text/plain", "");
        return true;
      }
      if (path === "/api/overview") {
        json(response, 200, await overview(true));
        return true;
      }
      if (path === "/api/events") {
        live.add(response);
        return true;
      }
      const jobPath = /^\/api\/jobs\/([^/]+)(\/runs)?$/.exec(path);
      if (jobPath) {
        const name = decodeURIComponent(jobPath[1] as string);
        if (jobPath[2]) {
          if (!history) {
            json(response, 200, { runs: [], history: false });
            return true;
          }
          await history.settled();
          const outcome = url.searchParams.get("outcome") ?? "";
          const before = Number(url.searchParams.get("before"));
          const limit = Number(url.searchParams.get("limit"));
          const runs = await history.runs({
            job: name,
            ...(outcome === "failed" ? { failed: true } : outcome ? { outcomes: outcome.split(",") as DashboardRunOutcome[] } : {}),
            search: url.searchParams.get("q") ?? undefined,
            ...(Number.isFinite(before) && before > 0 ? { before } : {}),
            limit: Number.isFinite(limit) && limit > 0 ? limit : 50,
          });
          json(response, 200, { runs, history: true });
          return true;
        }
        const page = await buildJobPage(runner, history, name, actionsOn);
        if (page === undefined) json(response, 404, { message: `no job "${name}" runs here or is in the history` });
        else json(response, 200, { ...(page as object), retryable: actions.retryable() });
        return true;
      }
      return false;
    },

    close() {
      for (const name of settleEvents) runner.off(name, settled);
      live.close();
      actions.close();
    },
  };
}
