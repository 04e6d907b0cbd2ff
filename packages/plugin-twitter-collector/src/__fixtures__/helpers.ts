import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { createLogger, toTaskFailure, type Logger, type Task } from "@ujr/core";
import { CollectorJob } from "../job.js";
import { searchConfigSchema, timelineConfigSchema } from "../config.js";
import { archiveFiles, fetchPages, resolveUrls } from "../tasks.js";

export const TOKEN = "test-token";

export async function tempDir(prefix = "ujr-collector-"): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** A logger whose JSON lines are kept in `lines` (debug level: everything). */
export function captureLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, callback) {
      lines.push(String(chunk));
      callback();
    },
  });
  return { logger: createLogger({ level: "debug", destination }), lines };
}

export function searchJob(config: Record<string, unknown>, stateDir: string, logger?: Logger, name = "test-search"): CollectorJob {
  const parsed = searchConfigSchema.parse({ bearerToken: TOKEN, urlResolution: { enabled: false }, ...config });
  return new CollectorJob({ kind: "search", ...parsed }, { name, stateDir, configDir: stateDir, logger: logger ?? captureLogger().logger });
}

export function timelineJob(config: Record<string, unknown>, stateDir: string, logger?: Logger): CollectorJob {
  const parsed = timelineConfigSchema.parse({ bearerToken: TOKEN, urlResolution: { enabled: false }, ...config });
  return new CollectorJob({ kind: "timeline", ...parsed }, { name: "test-timeline", stateDir, configDir: stateDir, logger: logger ?? captureLogger().logger });
}

const definitions = { fetchPages, resolveUrls, archiveFiles } as Record<string, { run: (args: any, ctx: any) => Promise<unknown> }>;

export interface DriveResult {
  outcome: "done" | "failed" | "idle" | "rounds";
  error?: { code?: string; message: string; causes?: string[] };
  tasks: Array<{ export: string; ok: boolean; attempt: number; result?: unknown; error?: { code?: string; message: string; retryable?: boolean } }>;
}

/**
 * A deterministic mini-runner: asks the job, runs its tasks in order in this thread
 * (with the tasks' retry attempts, no delays), reports back, until the job is done,
 * failed, or has nothing to run now (e.g. waiting for its poll interval).
 */
export async function drive(job: CollectorJob, options: { logger?: Logger; maxRounds?: number; signal?: AbortSignal } = {}): Promise<DriveResult> {
  const logger = options.logger ?? captureLogger().logger;
  const tasks: DriveResult["tasks"] = [];
  for (let round = 0; round < (options.maxRounds ?? 500); round++) {
    let produced: Task[];
    try {
      produced = [...(await job.getRunnableTasks())];
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code === "UJR_JOB_DONE") return { outcome: "done", tasks };
      if (code === "UJR_JOB_FAILED") {
        const causes = (error as { details?: { causes?: string[] } }).details?.causes;
        return { outcome: "failed", error: { code, message: (error as Error).message, ...(causes ? { causes } : {}) }, tasks };
      }
      throw error;
    }
    if (produced.length === 0) return { outcome: "idle", tasks };
    for (const task of produced) {
      const definition = definitions[task.ref.export]!;
      const attempts = task.retry?.attempts ?? 1;
      for (let attempt = 1; ; attempt++) {
        const ctx = { signal: options.signal ?? new AbortController().signal, logger, attempt, job: job.name, taskId: `t${round}`, progress: () => {} };
        try {
          const result = await definition.run(task.args, ctx);
          tasks.push({ export: task.ref.export, ok: true, attempt, result });
          await job.onTaskDone(task, result);
          break;
        } catch (error) {
          const failure = toTaskFailure(error);
          tasks.push({ export: task.ref.export, ok: false, attempt, error: failure });
          if (failure.retryable !== false && attempt < attempts) continue;
          await job.onTaskFailed(task, failure);
          break;
        }
      }
    }
  }
  return { outcome: "rounds", tasks };
}

export interface StoredPage {
  file: string;
  page: Record<string, any>;
}

export async function readRawPages(rawDir: string): Promise<StoredPage[]> {
  let names: string[] = [];
  try {
    names = (await readdir(rawDir)).filter((n) => /^\d{8}T\d{9}Z-\d+\.jsonl$/.test(n)).sort();
  } catch {
    return [];
  }
  const pages: StoredPage[] = [];
  for (const file of names) {
    for (const line of (await readFile(join(rawDir, file), "utf8")).split("\n")) if (line.trim()) pages.push({ file, page: JSON.parse(line) });
  }
  return pages;
}

/** Every `data` tweet id of the stored pages, in order (duplicates kept, to be checked). */
export function dataIds(pages: StoredPage[]): string[] {
  return pages.flatMap(({ page }) => (Array.isArray(page.data) ? page.data.map((t: { id: string }) => t.id) : []));
}

/** The ids a plain client gets for a search by following next_token (the expected set). */
export async function expectedSearchIds(baseUrl: string, query: string, extra: Record<string, string> = {}): Promise<string[]> {
  const ids: string[] = [];
  let token: string | undefined;
  do {
    const url = new URL("/2/tweets/search/recent", baseUrl);
    url.searchParams.set("query", query);
    url.searchParams.set("max_results", "100");
    for (const [k, v] of Object.entries(extra)) url.searchParams.set(k, v);
    if (token) url.searchParams.set("next_token", token);
    const res = await fetch(url, { headers: { authorization: `Bearer ${TOKEN}` } });
    const body = (await res.json()) as { data?: Array<{ id: string }>; meta?: { next_token?: string } };
    ids.push(...(body.data ?? []).map((t) => t.id));
    token = body.meta?.next_token;
  } while (token);
  return ids;
}

export function apiRequests(emulator: { requests: Array<{ endpoint?: string }> }, endpoint = "search/recent"): number {
  return emulator.requests.filter((r) => r.endpoint === endpoint).length;
}
