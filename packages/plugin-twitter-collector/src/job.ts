import { readdir } from "node:fs/promises";
import { resolve } from "node:path";
import { JobDone, JobFailed, registerSecret, type Job, type JobContext, type StatusPanel, type Task, type TaskFailure } from "@ujr/core";
import type { CollectorConfig } from "./config.js";
import { FATAL_CODES } from "./errors.js";
import type { FetchArgs, FetchResult } from "./fetch.js";
import { checkOutputFolders } from "./internal/folders.js";
import { layout, parseListing, sidecarName, type Layout, type RawListing } from "./internal/layout.js";
import { loadArchiveState, loadState, type ArchiveState, type CollectorState } from "./internal/state.js";
import { loadUrlRetries, type UrlRetry } from "./internal/url-retries.js";
import { archiveFiles, fetchPages, resolveUrls } from "./tasks.js";
import { collectorPanel } from "./status-panel.js";
import { NO_WAIT, systemClocks, waitEndsAt, waitFor, waitOver, waitUntil, type Clocks, type Wait } from "./internal/wait.js";

const HOUR_MS = 3_600_000;

/** A read-only view of the job for status displays and tests. */
export interface CollectorJobStatus {
  state: CollectorState | undefined;
  archive: ArchiveState | undefined;
  /** Epoch ms before which no fetch task is emitted (poll interval, rate limit or backoff). */
  fetchNotBefore: number;
  lastFetch: FetchResult | undefined;
  rawFiles: number;
  unresolvedFiles: number;
}

/**
 * The collector job (search or timeline). It decides what runs when:
 * - fetch: one task at a time (signature "fetch"); after a sweep of a continuous job it
 *   waits `pollInterval`, after a rate limit until the reset time, after a task that used
 *   all its retries `failureBackoff` (doubling up to 15 minutes);
 * - URL resolution: raw files without a sidecar (signature "urls");
 * - archive: when `archive.everyFiles` files or `archive.everyHours` hours are reached,
 *   and for what is left when a one-off job ends (signature "archive").
 * Its knowledge comes from the files the tasks write (state files, raw listing), so it is
 * right after a crash and whatever process the tasks ran in.
 */
export class CollectorJob implements Job {
  readonly name: string;
  nextCheck: number | undefined;
  readonly config: CollectorConfig;
  readonly paths: Layout;
  readonly #context: JobContext;
  #state: CollectorState | undefined;
  #archive: ArchiveState | undefined;
  #listing: RawListing = { raw: [], sidecars: new Set() };
  /** Files whose links failed transiently: not offered again before their retry time. */
  #urlRetries = new Map<string, UrlRetry>();
  #dirty = true;
  // pauses end on whichever clock says first (internal/wait.ts): a sleep, or a clock set back
  #fetchNotBefore: Wait = NO_WAIT;
  #fetchFailures = 0;
  #urlsNotBefore: Wait = NO_WAIT;
  #urlsFailures = 0;
  #archiveNotBefore: Wait = NO_WAIT;
  #archiveFailures = 0;
  readonly #clocks: Clocks;
  /** What ends the job (JobFailed), with the code of why (its causes): a fatal failure wins over giving up. */
  #fatal: { message: string; code: string } | undefined;
  #gaveUp: { message: string; code: string | undefined } | undefined;
  readonly #createdAt: number;
  #lastFetch: FetchResult | undefined;

  constructor(config: CollectorConfig, context: JobContext, options: { clocks?: Clocks } = {}) {
    this.#clocks = options.clocks ?? systemClocks;
    this.#createdAt = this.#clocks.wall();
    registerSecret(config.bearerToken);
    this.name = context.name;
    this.config = config;
    this.#context = context;
    const outputDir = config.outputDir ? resolve(context.configDir, config.outputDir) : context.stateDir;
    this.paths = layout(context.stateDir, outputDir);
    // a folder the tasks cannot make (a file in the way, a path under /proc or /sys, a
    // read-only disk) is said now, by `ujr validate` too, rather than by the first task and
    // the job's pauses; what the check makes it removes again
    checkOutputFolders(
      [
        [this.paths.rawDir, "raw"],
        [this.paths.archiveDir, "archive"],
      ],
      context.logger,
    );
  }

  status(): CollectorJobStatus {
    return {
      state: this.#state,
      archive: this.#archive,
      fetchNotBefore: waitEndsAt(this.#fetchNotBefore, this.#clocks),
      lastFetch: this.#lastFetch,
      rawFiles: this.#listing.raw.length,
      unresolvedFiles: this.#unresolved().length,
    };
  }

  /** The dashboard's and `ujr status`'s panel (see status-panel.ts). */
  statusPanel(): StatusPanel {
    return collectorPanel(this.config, this.status());
  }

  /** Ends the job once something did: a fatal failure (a rejected token...), else giving up. */
  #throwIfEnded(): void {
    if (this.#fatal) throw new JobFailed(`Job "${this.name}" stopped: ${this.#fatal.message}`, { causes: [this.#fatal.code] });
    if (this.#gaveUp) throw new JobFailed(this.#gaveUp.message, { causes: this.#gaveUp.code ? [this.#gaveUp.code] : [] });
  }

  async getRunnableTasks(): Promise<Task[]> {
    this.#throwIfEnded();
    if (this.#dirty) await this.#refresh();
    this.#throwIfEnded();
    const clocks = this.#clocks;
    const now = clocks.wall();
    const config = this.config;
    const tasks: Task[] = [];
    const dueTimes: number[] = [];
    const fetchDone = this.#state?.done === true;

    if (!fetchDone) {
      if (waitOver(this.#fetchNotBefore, clocks)) tasks.push(fetchPages.with(this.#fetchArgs(), { signature: "fetch", retry: config.retry }));
      else dueTimes.push(waitEndsAt(this.#fetchNotBefore, clocks));
    }

    const unresolved = this.#unresolved();
    const waiting = unresolved.map((file) => Date.parse(this.#urlRetries.get(file)?.retryAt ?? "")).filter((at) => at > now);
    const resolvable = unresolved.filter((file) => !(Date.parse(this.#urlRetries.get(file)?.retryAt ?? "") > now));
    if (waiting.length > 0) dueTimes.push(Math.min(...waiting));
    if (resolvable.length > 0) {
      if (waitOver(this.#urlsNotBefore, clocks)) {
        const u = config.urlResolution;
        tasks.push(
          resolveUrls.with(
            {
              job: this.name,
              stateDir: this.paths.stateDir,
              rawDir: this.paths.rawDir,
              files: resolvable.slice(0, u.filesPerTask),
              allowPrivateAddresses: u.allowPrivateAddresses,
              timeoutMs: u.timeout,
              maxHops: u.maxHops,
              concurrency: u.concurrency,
              perHostConcurrency: u.perHostConcurrency,
              userAgent: u.userAgent,
              onlyHosts: u.onlyHosts,
              retry: { attempts: u.retry.attempts, delayMs: u.retry.delay, maxDelayMs: u.retry.maxDelay },
            },
            { signature: "urls" },
          ),
        );
      } else dueTimes.push(waitEndsAt(this.#urlsNotBefore, clocks));
    }

    let unarchived = 0;
    if (config.archive) {
      const archive = config.archive;
      const through = this.#archive?.archivedThroughSeq ?? 0;
      const pending = this.#listing.raw.filter((f) => f.seq > through);
      unarchived = pending.length;
      const ready: string[] = [];
      for (const file of pending) {
        if (config.urlResolution.enabled && !this.#listing.sidecars.has(sidecarName(file.name))) break;
        ready.push(file.name);
      }
      const lastAt = this.#archive?.lastArchiveAt ? Date.parse(this.#archive.lastArchiveAt) : this.#createdAt;
      const hoursDue = archive.everyHours !== undefined ? lastAt + archive.everyHours * HOUR_MS : Infinity;
      const due =
        ready.length > 0 &&
        ((archive.everyFiles !== undefined && ready.length >= archive.everyFiles) || now >= hoursDue || (fetchDone && ready.length === pending.length));
      if (due && waitOver(this.#archiveNotBefore, clocks)) {
        tasks.push(
          archiveFiles.with(
            {
              job: this.name,
              stateDir: this.paths.stateDir,
              rawDir: this.paths.rawDir,
              archiveDir: this.paths.archiveDir,
              files: ready.slice(0, archive.maxFilesPerArchive),
              removeOriginals: archive.removeOriginals,
            },
            { signature: "archive" },
          ),
        );
      } else if (due) dueTimes.push(waitEndsAt(this.#archiveNotBefore, clocks));
      else if (ready.length > 0 && Number.isFinite(hoursDue)) dueTimes.push(hoursDue);
    }

    if (tasks.length === 0 && fetchDone && unresolved.length === 0 && unarchived === 0) throw new JobDone();
    this.nextCheck = tasks.length > 0 || dueTimes.length === 0 ? undefined : Math.min(...dueTimes);
    return tasks;
  }

  onTaskDone(task: Task, result: unknown): void {
    this.#dirty = true;
    if (task.ref.export === fetchPages.ref.export) {
      const r = result as FetchResult;
      this.#lastFetch = r;
      this.#fetchFailures = 0;
      // After progress then a passing fault (r.interrupted) the next try starts at once: if
      // the fault persists it stores nothing, fails, and the runner's retry backoff applies.
      if (r.rateLimitedUntil !== null) this.#fetchNotBefore = waitUntil(r.rateLimitedUntil, this.#clocks);
      else if (r.sweepComplete && this.config.mode === "continuous") this.#fetchNotBefore = waitFor(this.config.pollInterval, this.#clocks);
      else this.#fetchNotBefore = NO_WAIT;
      this.nextCheck = undefined;
    } else if (task.ref.export === resolveUrls.ref.export) {
      this.#urlsFailures = 0;
    } else {
      this.#archiveFailures = 0;
    }
  }

  onTaskFailed(task: Task, failure: TaskFailure): void {
    this.#dirty = true;
    if (failure.code && FATAL_CODES.has(failure.code)) {
      this.#fatal = { message: failure.message, code: failure.code };
      this.nextCheck = undefined;
      return;
    }
    const c = this.config;
    // The ladder: failureBackoff, × failureBackoffFactor per further failed task in a row, up to failureBackoffMax.
    const backoff = (streak: number) => Math.min(c.failureBackoffMax, c.failureBackoff * c.failureBackoffFactor ** (streak - 1));
    const what = task.ref.export === fetchPages.ref.export ? "fetch" : task.ref.export === resolveUrls.ref.export ? "URL resolution" : "archive";
    let streak: number;
    let until: number;
    if (task.ref.export === fetchPages.ref.export) {
      streak = ++this.#fetchFailures;
      this.#fetchNotBefore = waitFor(backoff(streak), this.#clocks);
      until = this.#fetchNotBefore.wall;
    } else if (task.ref.export === resolveUrls.ref.export) {
      streak = ++this.#urlsFailures;
      this.#urlsNotBefore = waitFor(backoff(streak), this.#clocks);
      until = this.#urlsNotBefore.wall;
    } else {
      streak = ++this.#archiveFailures;
      this.#archiveNotBefore = waitFor(backoff(streak), this.#clocks);
      until = this.#archiveNotBefore.wall;
    }
    const limit = c.failureLimit ?? (c.mode === "once" ? 5 : 0);
    if (limit > 0 && streak >= limit) {
      // a raw error's message often begins with its code (ENOSPC: ...): said once
      const last = failure.code && !failure.message.startsWith(failure.code) ? `${failure.code}: ${failure.message}` : failure.message;
      const advice =
        failure.code === "UJR_COLLECTOR_DISK_FULL"
          ? "What is stored is kept: free space on that disk, and a new run resumes from the saved position."
          : "What is stored is kept and a new run resumes from it; raise failureLimit (0: never give up) to keep trying longer.";
      this.#gaveUp = { message: `Job "${this.name}" gave up: ${streak} ${what} tasks in a row failed after their retries (last: ${last}). ${advice}`, code: failure.code };
      this.nextCheck = undefined;
      this.#context.logger.error({ job: this.name, code: failure.code, failures: streak, failureLimit: limit }, this.#gaveUp.message);
      return;
    }
    this.#context.logger.warn(
      { job: this.name, code: failure.code, failures: streak, ...(limit > 0 ? { failureLimit: limit } : {}), retryAt: new Date(until).toISOString() },
      `${what} failed after its retries (${streak} in a row); the job pauses until ${new Date(until).toISOString()} and resumes from the saved position`,
    );
  }

  #unresolved(): string[] {
    if (!this.config.urlResolution.enabled) return [];
    const through = this.config.archive?.removeOriginals ? (this.#archive?.archivedThroughSeq ?? 0) : 0;
    return this.#listing.raw.filter((f) => f.seq > through && !this.#listing.sidecars.has(sidecarName(f.name))).map((f) => f.name);
  }

  async #refresh(): Promise<void> {
    this.#dirty = false;
    try {
      this.#state = await loadState(this.paths.stateDir);
      this.#archive = await loadArchiveState(this.paths.stateDir);
      if (this.config.urlResolution.enabled) this.#urlRetries = await loadUrlRetries(this.paths.stateDir);
    } catch (error) {
      const failure = error as { code?: string; message?: string };
      if (failure.code && FATAL_CODES.has(failure.code)) this.#fatal = { message: failure.message ?? failure.code, code: failure.code };
      else throw error;
    }
    let names: string[] = [];
    try {
      names = await readdir(this.paths.rawDir);
    } catch {
      /* nothing fetched yet */
    }
    this.#listing = parseListing(names);
  }

  #fetchArgs(): FetchArgs {
    const c = this.config;
    return {
      job: this.name,
      stateDir: this.paths.stateDir,
      rawDir: this.paths.rawDir,
      kind: c.kind,
      endpoint: c.kind === "search" ? c.endpoint : "recent",
      query: c.kind === "search" ? c.query : undefined,
      userId: c.kind === "timeline" ? c.userId : undefined,
      username: c.kind === "timeline" ? c.username : undefined,
      exclude: c.kind === "timeline" ? c.exclude : undefined,
      mode: c.mode,
      startTime: c.startTime,
      endTime: c.endTime,
      baseUrl: c.baseUrl,
      bearerToken: c.bearerToken,
      maxResults: c.maxResults ?? (c.kind === "search" && c.endpoint === "all" ? 500 : 100),
      pagesPerTask: c.pagesPerTask,
      requestTimeoutMs: c.requestTimeout,
      rateLimitSlackMs: c.rateLimitSlack,
    };
  }
}
