import { readdir, readFile } from "node:fs/promises";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { registerSecret, removeTemps, writeFileDurable, type TaskContext } from "@ujr/core/task";
import { collectorError } from "./errors.js";
import { EVERYTHING } from "./fields.js";
import { apiGet, apiUrl, type ApiOutcome, type RateInfo } from "./internal/api.js";
import { rawFileName, rawFileSeq } from "./internal/layout.js";
import { acquireLock } from "./internal/lock.js";
import { pyDumps } from "./internal/pyjson.js";
import { writingTo } from "./internal/disk-full.js";
import { makeFolder } from "./internal/folders.js";
import { loadState, newState, saveState, type CollectorState, type Sweep } from "./internal/state.js";
import { COLLECTOR_VERSION } from "./version.js";

/** Arguments of the fetch task (structured-clonable; the token is registered as a secret where the task runs). */
export interface FetchArgs {
  job: string;
  stateDir: string;
  rawDir: string;
  kind: "search" | "timeline";
  endpoint: "recent" | "all";
  query?: string | undefined;
  userId?: string | undefined;
  username?: string | undefined;
  exclude?: string[] | undefined;
  mode: "continuous" | "once";
  startTime?: string | undefined;
  endTime?: string | undefined;
  baseUrl: string;
  bearerToken: string;
  maxResults: number;
  pagesPerTask: number;
  requestTimeoutMs: number;
  rateLimitSlackMs: number;
}

export interface FetchResult {
  /** Pages received (stored or empty) in this task, recovered ones included. */
  pages: number;
  /** Raw files this task stored or found already stored after a crash. */
  files: string[];
  tweets: number;
  /** Pages found on disk whose cursor step had not been recorded (a crash between rename and state write). */
  recovered: number;
  sweepComplete: boolean;
  /** once mode: the whole range is stored. */
  done: boolean;
  /** Epoch ms before which the API must not be asked again (rate limit), or null. */
  rateLimitedUntil: number | null;
  /**
   * A retryable error (5xx, reset, timeout, truncated body) that ended this task after it
   * stored pages: the task succeeds with what it stored, and the job fetches again at once.
   * Only a try that made no progress fails (and is retried): a flaky API that still lets
   * the collection advance is not a failure of the job.
   */
  interrupted: { code: string; message: string } | null;
  sinceId: string | null;
  nextToken: string | null;
  nextSeq: number;
}

/** The cursor of a request: what the file records in `__twarc.ujr.cursor`. */
export interface Cursor {
  since_id?: string;
  start_time?: string;
  end_time?: string;
  next_token?: string;
}

/** What is being collected: a different fingerprint means the old cursor does not apply. */
export function fingerprintOf(args: Pick<FetchArgs, "kind" | "endpoint" | "query" | "userId" | "username" | "exclude" | "mode" | "startTime" | "endTime">): string {
  const what = {
    kind: args.kind,
    endpoint: args.kind === "search" ? args.endpoint : "timeline",
    query: args.query ?? null,
    user: args.userId ?? (args.username ? `@${args.username.toLowerCase()}` : null),
    exclude: args.exclude ? [...args.exclude].sort() : null,
    mode: args.mode,
    startTime: args.startTime ?? null,
    endTime: args.endTime ?? null,
  };
  return createHash("sha256").update(JSON.stringify(what)).digest("hex").slice(0, 16);
}

function cursorOf(sweep: Sweep): Cursor {
  const cursor: Cursor = {};
  if (sweep.sinceId) cursor.since_id = sweep.sinceId;
  if (sweep.startTime) cursor.start_time = sweep.startTime;
  if (sweep.endTime) cursor.end_time = sweep.endTime;
  if (sweep.nextToken) cursor.next_token = sweep.nextToken;
  return cursor;
}

function sameCursor(a: unknown, b: Cursor): boolean {
  if (typeof a !== "object" || a === null) return false;
  const keys = ["since_id", "start_time", "end_time", "next_token"] as const;
  return keys.every((key) => ((a as Cursor)[key] ?? null) === (b[key] ?? null));
}

function startSweep(state: CollectorState, args: FetchArgs): Sweep {
  // A continuous job's first sweep starts at startTime; later sweeps ask for tweets newer than since_id.
  const sinceId = args.mode === "continuous" ? state.sinceId : null;
  return {
    sinceId,
    startTime: sinceId ? null : (args.startTime ?? null),
    endTime: args.mode === "once" ? (args.endTime ?? null) : null,
    nextToken: null,
    newestId: null,
    pages: 0,
    startedAt: new Date().toISOString(),
  };
}

function compareIds(a: string, b: string): number {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

function isoSeconds(date: Date): string {
  // twarc2's retrieved_at: Python's isoformat(timespec="seconds") in UTC.
  return `${date.toISOString().slice(0, 19)}+00:00`;
}

/**
 * How far this machine's clock is from the API's (its `Date` header), when that is more
 * than the header's whole seconds and a transfer explain: 0 otherwise.
 */
export const CLOCK_SKEW_TOLERANCE_MS = 2_000;
export function clockSkewMs(rate: RateInfo, now = Date.now()): number {
  if (rate.serverNowMs === undefined) return 0;
  const skew = now - rate.serverNowMs;
  return Math.abs(skew) > CLOCK_SKEW_TOLERANCE_MS ? skew : 0;
}

/**
 * When to ask again after a rate limit: the reset time (`x-rate-limit-reset`, epoch
 * seconds, fractions honoured) plus `slackMs` for clock skew, to the millisecond.
 * `refused` (a 429): when the reset is already past or unknown, our clock and the
 * server's disagree, so wait at least a second rather than ask again at once.
 * Not refused (a 200 with `remaining: 0`): a reset already past means the window is over.
 * When this machine's clock is off the API's by more than CLOCK_SKEW_TOLERANCE_MS (a
 * laptop's clock set wrong, set back, not yet synchronised after a sleep), the reset is
 * read on the API's clock: the wait is the reset less the API's `Date`, from now. A slow
 * clock would otherwise wait its lag on top of every window, and a fast one ask into
 * every used-up window again and again until its reset.
 */
export function resumeAt(rate: RateInfo, slackMs: number, now = Date.now(), refused = true): number {
  if (rate.resetMs !== undefined && clockSkewMs(rate, now) !== 0) {
    // the Date header counts whole seconds (rounded down): the wait read from it is never early
    const waitMs = rate.resetMs - rate.serverNowMs!;
    if (waitMs > 0) return now + waitMs + slackMs;
    return refused ? now + Math.max(1000, slackMs) : now;
  }
  if (rate.resetMs !== undefined && rate.resetMs + slackMs > now) return rate.resetMs + slackMs;
  if (!refused && rate.resetMs !== undefined) return now;
  return now + (rate.resetMs !== undefined ? Math.max(1000, slackMs) : 60_000);
}

function skewText(skewMs: number): string {
  if (skewMs === 0) return "";
  const seconds = Math.round(Math.abs(skewMs) / 1000);
  return `; this machine's clock is ${seconds} s ${skewMs > 0 ? "ahead of" : "behind"} the API's (its Date header), so the pause follows the API's clock: check the clock's synchronisation (NTP)`;
}

function requestFor(args: FetchArgs, state: CollectorState, cursor: Cursor): { url: URL; label: string } {
  if (args.kind === "search") {
    const path = args.endpoint === "all" ? "/2/tweets/search/all" : "/2/tweets/search/recent";
    const url = apiUrl(args.baseUrl, path, {
      ...EVERYTHING,
      query: args.query,
      max_results: String(args.maxResults),
      start_time: cursor.start_time,
      end_time: cursor.end_time,
      since_id: cursor.since_id,
      next_token: cursor.next_token,
    });
    return { url, label: `search/${args.endpoint}` };
  }
  const url = apiUrl(args.baseUrl, `/2/users/${encodeURIComponent(state.userId ?? "")}/tweets`, {
    ...EVERYTHING,
    max_results: String(args.maxResults),
    exclude: args.exclude?.length ? args.exclude.join(",") : undefined,
    start_time: cursor.start_time,
    end_time: cursor.end_time,
    since_id: cursor.since_id,
    pagination_token: cursor.next_token,
  });
  return { url, label: "users/tweets" };
}

function dataCount(page: Record<string, unknown>): number {
  return Array.isArray(page.data) ? page.data.length : page.data ? 1 : 0;
}

function userNotFound(page: Record<string, unknown>): string | undefined {
  if (page.data !== undefined) return undefined;
  const errors = Array.isArray(page.errors) ? (page.errors as Array<Record<string, unknown>>) : [];
  const error = errors.find((e) => e.resource_type === "user" || e.title === "Not Found Error");
  return error ? String(error.detail ?? error.title ?? "not found") : undefined;
}

async function readStoredPage(path: string): Promise<Record<string, unknown> | undefined> {
  try {
    const text = await readFile(path, "utf8");
    const line = text.split("\n").find((l) => l.trim() !== "");
    return line ? (JSON.parse(line) as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The fetch task: fetches up to `pagesPerTask` pages from the saved cursor. Each page is
 * one durable step: the page file is written (temp, fsync, rename, fsync folder) and only
 * then the cursor advances (state file written the same way). A page file whose step was
 * not recorded (crash between the two writes) is recognised by its sequence number and
 * recorded cursor, and the step completes without asking the API again.
 */
export async function fetchPagesRun(args: FetchArgs, ctx: Pick<TaskContext, "signal" | "logger" | "progress">): Promise<FetchResult> {
  registerSecret(args.bearerToken);
  // one plain mkdir per level: a recursive one spins for ever under /proc (see makeFolder)
  makeFolder(args.stateDir, "state");
  const release = await acquireLock(join(args.stateDir, "fetch.lock"), "fetch", { signal: ctx.signal });
  try {
    return await fetchLocked(args, ctx);
  } finally {
    await release();
  }
}

async function fetchLocked(args: FetchArgs, ctx: Pick<TaskContext, "signal" | "logger" | "progress">): Promise<FetchResult> {
  const fingerprint = fingerprintOf(args);
  // the state folder was made by fetchPagesRun, before its lock file was taken in it
  makeFolder(args.rawDir, "raw");
  await removeTemps(args.rawDir, "page");
  await removeTemps(args.stateDir, "state");

  // Page files at or beyond the cursor: at most one (the unrecorded step), unless the state was lost.
  const onDisk = new Map<number, string>();
  let maxSeq = 0;
  for (const name of await readdir(args.rawDir)) {
    const seq = rawFileSeq(name);
    if (seq === undefined) continue;
    onDisk.set(seq, name);
    maxSeq = Math.max(maxSeq, seq);
  }

  let state = await loadState(args.stateDir);
  if (!state) {
    state = newState(fingerprint, maxSeq + 1);
    await saveState(args.stateDir, state);
  } else if (state.fingerprint !== fingerprint) {
    ctx.logger.warn({ job: args.job }, "what the job collects changed (query, user, times or mode): starting a new collection in the same folder");
    state = newState(fingerprint, Math.max(state.nextSeq, maxSeq + 1));
    await saveState(args.stateDir, state);
  }

  const result: FetchResult = {
    pages: 0,
    files: [],
    tweets: 0,
    recovered: 0,
    sweepComplete: false,
    done: state.done,
    rateLimitedUntil: null,
    interrupted: null,
    sinceId: state.sinceId,
    nextToken: state.sweep?.nextToken ?? null,
    nextSeq: state.nextSeq,
  };
  const finish = (): FetchResult => {
    result.done = state.done;
    result.sinceId = state.sinceId;
    result.nextToken = state.sweep?.nextToken ?? null;
    result.nextSeq = state.nextSeq;
    return result;
  };
  if (state.done) return finish();

  if (args.kind === "timeline" && !state.userId) {
    if (args.userId) state.userId = args.userId;
    else {
      const url = apiUrl(args.baseUrl, `/2/users/by/username/${encodeURIComponent(args.username ?? "")}`, {});
      const outcome = await apiGet(url, { token: args.bearerToken, timeoutMs: args.requestTimeoutMs, signal: ctx.signal, label: "users/by/username" });
      if (outcome.kind === "rate-limited") {
        result.rateLimitedUntil = resumeAt(outcome.rate, args.rateLimitSlackMs);
        return finish();
      }
      const data = outcome.body.data as { id?: unknown } | undefined;
      if (!data || typeof data.id !== "string") {
        throw collectorError("UJR_COLLECTOR_USER_NOT_FOUND", { user: `@${args.username}`, detail: userNotFound(outcome.body) ?? "no user in the answer" });
      }
      state.userId = data.id;
    }
    await saveState(args.stateDir, state);
  }

  let prefetched: { href: string; outcome: Promise<ApiOutcome> } | undefined;
  for (let step = 0; step < args.pagesPerTask; step++) {
    if (ctx.signal.aborted) throw collectorError("UJR_COLLECTOR_CANCELLED", { reason: "the task was stopped" });
    state.sweep ??= startSweep(state, args);
    const sweep = state.sweep;
    const cursor = cursorOf(sweep);
    const seq = state.nextSeq;
    let page: Record<string, unknown>;
    let stored: string | null = null;
    let rate: RateInfo = {};

    const existing = onDisk.get(seq);
    if (existing !== undefined) {
      const found = await readStoredPage(join(args.rawDir, existing));
      const meta = (found?.__twarc as { ujr?: { cursor?: unknown; fingerprint?: unknown } } | undefined)?.ujr;
      if (!found || meta?.fingerprint !== fingerprint || !sameCursor(meta?.cursor, cursor)) {
        // A file of another request holds this number: keep it, and number pages after it.
        ctx.logger.warn({ job: args.job, file: existing }, "a raw file already holds the next sequence number; keeping it and skipping the number");
        state.nextSeq = seq + 1;
        await saveState(args.stateDir, state);
        continue;
      }
      ctx.logger.info({ job: args.job, file: existing }, "found a stored page whose cursor step was not recorded (crash recovery); advancing without refetching");
      page = found;
      stored = existing;
      result.recovered++;
    } else {
      const { url, label } = requestFor(args, state, cursor);
      let outcome: ApiOutcome;
      try {
        if (prefetched && prefetched.href === url.href) outcome = await prefetched.outcome;
        else outcome = await apiGet(url, { token: args.bearerToken, timeoutMs: args.requestTimeoutMs, signal: ctx.signal, label });
      } catch (error) {
        const failure = error as { code?: unknown; message?: unknown; retryable?: unknown };
        if (result.pages > 0 && failure.retryable === true && typeof failure.code === "string" && !ctx.signal.aborted) {
          result.interrupted = { code: failure.code, message: String(failure.message) };
          ctx.logger.warn(
            { job: args.job, code: failure.code, pages: result.pages },
            `${String(failure.message)} (after ${result.pages} page(s) of this task were stored: the task ends with them and the job fetches again)`,
          );
          break;
        }
        throw error;
      }
      prefetched = undefined;
      if (outcome.kind === "rate-limited") {
        const now = Date.now();
        result.rateLimitedUntil = resumeAt(outcome.rate, args.rateLimitSlackMs, now);
        const waitMs = Math.max(0, result.rateLimitedUntil - now);
        const skewMs = clockSkewMs(outcome.rate, now);
        ctx.logger.info(
          { job: args.job, status: 429, until: new Date(result.rateLimitedUntil).toISOString(), waitMs, ...(skewMs ? { clockSkewMs: skewMs } : {}) },
          `rate limited (HTTP 429): collection pauses until ${new Date(result.rateLimitedUntil).toISOString()} (${waitMs} ms)${skewText(skewMs)}`,
        );
        break;
      }
      page = outcome.body;
      rate = outcome.rate;
      if (args.kind === "timeline") {
        const missing = userNotFound(page);
        if (missing) throw collectorError("UJR_COLLECTOR_USER_NOT_FOUND", { user: state.userId ?? "", detail: missing });
      }
      // Ask for the next page while this one is written: the network and the server work
      // during our fsyncs. Its answer is used only after this page's step is recorded (and
      // dropped if we stop or crash first), so the durability order is unchanged.
      const nextToken = (page.meta as { next_token?: unknown } | undefined)?.next_token;
      if (step + 1 < args.pagesPerTask && typeof nextToken === "string" && nextToken !== "" && rate.remaining !== 0 && !onDisk.has(seq + 1) && !onDisk.has(seq)) {
        const next = requestFor(args, state, { ...cursor, next_token: nextToken });
        const pending = apiGet(next.url, { token: args.bearerToken, timeoutMs: args.requestTimeoutMs, signal: ctx.signal, label: next.label });
        pending.catch(() => undefined); // surfaced when awaited
        prefetched = { href: next.url.href, outcome: pending };
      }
      if (dataCount(page) > 0) {
        const now = new Date();
        const name = rawFileName(now, seq);
        const twarc = { url: url.href, version: COLLECTOR_VERSION, retrieved_at: isoSeconds(now), ujr: { job: args.job, seq, fingerprint, cursor } };
        await writingTo(args.rawDir, `raw page ${name}`, () => writeFileDurable(join(args.rawDir, name), `${pyDumps({ ...page, __twarc: twarc })}\n`, "page"));
        stored = name;
      }
    }

    // The page is durable (or empty): now the cursor may advance past it.
    const meta = (page.meta ?? {}) as { newest_id?: unknown; next_token?: unknown };
    if (sweep.pages === 0 && typeof meta.newest_id === "string") sweep.newestId = meta.newest_id;
    sweep.pages++;
    const tweets = dataCount(page);
    if (stored !== null) {
      state.nextSeq = seq + 1;
      state.pagesStored++;
      state.tweetsStored += tweets;
      result.files.push(stored);
      onDisk.delete(seq);
    }
    result.pages++;
    result.tweets += tweets;
    if (typeof meta.next_token === "string" && meta.next_token !== "") {
      sweep.nextToken = meta.next_token;
    } else {
      if (sweep.newestId && (!state.sinceId || compareIds(sweep.newestId, state.sinceId) > 0)) state.sinceId = sweep.newestId;
      state.sweep = null;
      state.sweepsCompleted++;
      state.lastSweepEndedAt = new Date().toISOString();
      if (args.mode === "once") state.done = true;
      result.sweepComplete = true;
    }
    await saveState(args.stateDir, state);
    ctx.progress({ done: step + 1, total: args.pagesPerTask, message: `${state.pagesStored} pages stored` });
    if (result.sweepComplete) break;
    if (rate.remaining === 0 && rate.resetMs !== undefined) {
      // The window is used up: stop before a request that would only get a 429.
      const now = Date.now();
      result.rateLimitedUntil = resumeAt(rate, args.rateLimitSlackMs, now, false);
      const waitMs = Math.max(0, result.rateLimitedUntil - now);
      const skewMs = clockSkewMs(rate, now);
      ctx.logger.info(
        {
          job: args.job,
          remaining: 0,
          reset: new Date(rate.resetMs).toISOString(),
          until: new Date(result.rateLimitedUntil).toISOString(),
          waitMs,
          ...(skewMs ? { clockSkewMs: skewMs } : {}),
        },
        `rate limit window used up (x-rate-limit-remaining: 0): collection pauses until ${new Date(result.rateLimitedUntil).toISOString()} (${waitMs} ms)${skewText(skewMs)}`,
      );
      break;
    }
  }
  return finish();
}
