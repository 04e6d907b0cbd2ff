import { access, readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { appendDurable, removeTemps, writeFileDurable, type TaskContext } from "@ujr/core/task";
import { writingTo } from "./internal/disk-full.js";
import { URL_CACHE_FILE, sidecarName } from "./internal/layout.js";
import { errorKindOf } from "./internal/url-error-kind.js";
import { loadUrlRetries, saveUrlRetries, type UrlRetryPolicy } from "./internal/url-retries.js";
import { UrlResolver, type Resolution, type UrlResolverOptions } from "./url-resolver.js";

export interface ResolveUrlsArgs {
  job: string;
  stateDir: string;
  rawDir: string;
  /** Raw file names (in rawDir) to resolve the links of. */
  files: string[];
  allowPrivateAddresses: boolean;
  timeoutMs: number;
  maxHops: number;
  concurrency: number;
  perHostConcurrency: number;
  userAgent: string;
  onlyHosts?: string[];
  /** How files whose links failed transiently are tried again (default: 4 tries, 1 min doubling up to 30 min). */
  retry?: UrlRetryPolicy;
}

export interface ResolveUrlsResult {
  /** Files whose sidecar was written. */
  files: string[];
  links: number;
  resolved: number;
  fromCache: number;
  errors: number;
  /** Links written to sidecars with a transient error (their file used all its tries). */
  transient: number;
  /** Files left without a sidecar because some links failed transiently; tried again later. */
  deferred: string[];
}

export const DEFAULT_URL_RETRY: UrlRetryPolicy = { attempts: 4, delayMs: 60_000, maxDelayMs: 30 * 60_000 };

/** One line of a `<raw file>.urls.jsonl` sidecar. */
export interface SidecarLine extends Resolution {
  url: string;
  expanded_url: string | null;
}

interface LinkEntity {
  url?: unknown;
  expanded_url?: unknown;
}

/** Every `entities.urls` link of the tweets (data, includes.tweets) and users (url, description) of a page. */
export function linksOfPage(page: Record<string, unknown>): Array<{ url: string; expanded_url: string | null }> {
  const out: Array<{ url: string; expanded_url: string | null }> = [];
  const add = (list: unknown) => {
    if (!Array.isArray(list)) return;
    for (const item of list as LinkEntity[]) {
      const url = typeof item?.url === "string" ? item.url : typeof item?.expanded_url === "string" ? item.expanded_url : undefined;
      if (!url) continue;
      out.push({ url, expanded_url: typeof item.expanded_url === "string" ? item.expanded_url : null });
    }
  };
  const tweets: unknown[] = [];
  if (Array.isArray(page.data)) tweets.push(...page.data);
  else if (page.data && typeof page.data === "object") tweets.push(page.data);
  const includes = (page.includes ?? {}) as { tweets?: unknown; users?: unknown };
  if (Array.isArray(includes.tweets)) tweets.push(...includes.tweets);
  for (const tweet of tweets) add((tweet as { entities?: { urls?: unknown } })?.entities?.urls);
  if (Array.isArray(includes.users)) {
    for (const user of includes.users as Array<{ entities?: { url?: { urls?: unknown }; description?: { urls?: unknown } } }>) {
      add(user?.entities?.url?.urls);
      add(user?.entities?.description?.urls);
    }
  }
  return out;
}

/**
 * The persisted resolutions of a job: resolved links and permanent failures. Transient
 * failures are skipped, including those a version before kinds were recorded cached
 * (e.g. `"EAI_AGAIN"`): those links are asked again.
 */
export async function loadUrlCache(stateDir: string): Promise<Map<string, Resolution>> {
  const cache = new Map<string, Resolution>();
  let text = "";
  try {
    text = await readFile(join(stateDir, URL_CACHE_FILE), "utf8");
  } catch {
    return cache;
  }
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    try {
      const entry = JSON.parse(line) as Resolution & { url: string };
      const kind = entry.error === null ? null : (entry.error_kind ?? errorKindOf(entry.error));
      if (kind === "transient") continue;
      cache.set(entry.url, { final_url: entry.final_url, status: entry.status, hops: entry.hops, error: entry.error, error_kind: kind });
    } catch {
      /* a line cut by a crash: that link is resolved again */
    }
  }
  return cache;
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * The URL resolution task: for each raw file, resolves every link once (per job: the
 * cache persists in the state folder) and writes the sidecar durably. A file whose
 * sidecar exists is done; a crash before the sidecar's rename means that file is
 * resolved again (mostly from the cache).
 *
 * Only resolved links and permanent failures are cached. A file with links that failed
 * transiently gets no sidecar yet: its tries and next time are recorded in
 * `url-retries.json` and the job offers it again then; after `retry.attempts` tries the
 * sidecar is written with those links marked `"error_kind": "transient"`.
 */
export async function resolveUrlsRun(
  args: ResolveUrlsArgs,
  ctx: Pick<TaskContext, "signal" | "logger" | "progress">,
  testing: { dnsLookup?: UrlResolverOptions["dnsLookup"] } = {},
): Promise<ResolveUrlsResult> {
  await removeTemps(args.rawDir, "urls");
  await removeTemps(args.stateDir, "url-retries");
  const cache = await loadUrlCache(args.stateDir);
  const policy = args.retry ?? DEFAULT_URL_RETRY;
  const retries = await loadUrlRetries(args.stateDir);
  let retriesChanged = false;
  const resolver = new UrlResolver(
    {
      allowPrivateAddresses: args.allowPrivateAddresses,
      timeoutMs: args.timeoutMs,
      maxHops: args.maxHops,
      concurrency: args.concurrency,
      perHostConcurrency: args.perHostConcurrency,
      userAgent: args.userAgent,
      ...(args.onlyHosts ? { onlyHosts: args.onlyHosts } : {}),
      signal: ctx.signal,
      ...(testing.dnsLookup ? { dnsLookup: testing.dnsLookup } : {}),
    },
    cache,
  );
  const result: ResolveUrlsResult = { files: [], links: 0, resolved: 0, fromCache: 0, errors: 0, transient: 0, deferred: [] };
  let fileIndex = 0;
  try {
    for (const file of args.files) {
      fileIndex++;
      const sidecar = join(args.rawDir, sidecarName(file));
      if (await exists(sidecar)) {
        if (retries.delete(file)) retriesChanged = true;
        continue;
      }
      let text: string;
      try {
        text = await readFile(join(args.rawDir, file), "utf8");
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOENT") continue; // archived and removed meanwhile
        throw error;
      }
      const links: Array<{ url: string; expanded_url: string | null }> = [];
      const seen = new Set<string>();
      for (const line of text.split("\n")) {
        if (!line.trim()) continue;
        for (const link of linksOfPage(JSON.parse(line) as Record<string, unknown>)) {
          const key = `${link.url}\u0000${link.expanded_url ?? ""}`;
          if (seen.has(key)) continue;
          seen.add(key);
          links.push(link);
        }
      }
      const before = resolver.resolvedCount;
      const cachedBefore = new Set(links.map((l) => l.expanded_url ?? l.url).filter((u) => cache.has(u)));
      const resolutions = await Promise.all(links.map((link) => resolver.resolve(link.expanded_url ?? link.url)));
      if (ctx.signal.aborted) throw Object.assign(new Error("URL resolution cancelled; the file is resolved again next time"), { code: "UJR_COLLECTOR_CANCELLED", retryable: false });
      const lines: SidecarLine[] = links.map((link, i) => ({ url: link.url, expanded_url: link.expanded_url, ...resolutions[i]! }));
      // New cache entries first (append + fsync), then the sidecar that marks the file done.
      const fresh = [...new Set(links.map((l) => l.expanded_url ?? l.url))].filter((u) => !cachedBefore.has(u) && cache.has(u));
      if (fresh.length > 0) {
        await writingTo(args.stateDir, `the URL cache (${URL_CACHE_FILE})`, () => appendDurable(join(args.stateDir, URL_CACHE_FILE), fresh.map((u) => `${JSON.stringify({ url: u, ...cache.get(u)! })}\n`).join("")));
      }
      result.resolved += resolver.resolvedCount - before;
      result.fromCache += cachedBefore.size;
      const transient = lines.filter((l) => l.error_kind === "transient");
      const tries = (retries.get(file)?.attempts ?? 0) + 1;
      if (transient.length > 0 && tries < policy.attempts) {
        const delay = Math.min(policy.maxDelayMs, policy.delayMs * 2 ** (tries - 1));
        const retryAt = Date.now() + delay;
        retries.set(file, { attempts: tries, retryAt: new Date(retryAt).toISOString(), transient: transient.length });
        retriesChanged = true;
        result.deferred.push(file);
        ctx.logger.info(
          { job: args.job, file, links: transient.length, errors: [...new Set(transient.map((l) => l.error))].slice(0, 5), attempt: tries, attempts: policy.attempts, retryAt: new Date(retryAt).toISOString() },
          `${transient.length} link(s) of ${file} failed transiently; the file is resolved again at ${new Date(retryAt).toISOString()} (try ${tries} of ${policy.attempts})`,
        );
        ctx.progress({ done: fileIndex, total: args.files.length });
        continue;
      }
      if (transient.length > 0) {
        ctx.logger.warn(
          { job: args.job, file, links: transient.length, errors: [...new Set(transient.map((l) => l.error))].slice(0, 5), attempts: tries },
          `${transient.length} link(s) of ${file} still failed transiently after ${tries} tries; the sidecar records them with "error_kind": "transient"`,
        );
      }
      await writingTo(dirname(sidecar), `the resolved links of ${file}`, () => writeFileDurable(sidecar, lines.map((l) => `${JSON.stringify(l)}\n`).join(""), "urls"));
      if (retries.delete(file)) retriesChanged = true;
      result.files.push(file);
      result.links += lines.length;
      result.errors += lines.filter((l) => l.error !== null).length;
      result.transient += transient.length;
      ctx.progress({ done: fileIndex, total: args.files.length });
    }
  } finally {
    // Tries counted so far are kept even when the task is cancelled or fails midway.
    if (retriesChanged) await saveUrlRetries(args.stateDir, retries);
  }
  ctx.logger.debug({ job: args.job, ...result, files: result.files.length, deferred: result.deferred.length }, "links resolved");
  return result;
}
