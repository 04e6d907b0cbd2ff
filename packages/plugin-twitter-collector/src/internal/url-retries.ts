import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { writeFileDurable } from "@ujr/core/task";

export const URL_RETRIES_FILE = "url-retries.json";

/** How a file whose links failed transiently is tried again. */
export interface UrlRetryPolicy {
  /** Tries of a file in all, the first included; after the last, the sidecar is written anyway. */
  attempts: number;
  /** Wait before the second try; doubles each try. */
  delayMs: number;
  maxDelayMs: number;
}

/** A file waiting for another try: how many it had and when the next may start. */
export interface UrlRetry {
  attempts: number;
  retryAt: string;
  /** Links that failed transiently in the last try. */
  transient: number;
}

/**
 * `<stateDir>/url-retries.json`: files whose links failed transiently. A file so
 * recorded has no sidecar yet; the job offers it again at `retryAt`. Unreadable content
 * counts as empty: at worst a file is tried sooner or once more than configured.
 */
export async function loadUrlRetries(stateDir: string): Promise<Map<string, UrlRetry>> {
  try {
    const data = JSON.parse(await readFile(join(stateDir, URL_RETRIES_FILE), "utf8")) as { files?: Record<string, UrlRetry> };
    return new Map(Object.entries(data.files ?? {}).filter(([, entry]) => typeof entry?.attempts === "number" && typeof entry.retryAt === "string"));
  } catch {
    return new Map();
  }
}

export async function saveUrlRetries(stateDir: string, retries: Map<string, UrlRetry>): Promise<void> {
  await writeFileDurable(join(stateDir, URL_RETRIES_FILE), `${JSON.stringify({ version: 1, files: Object.fromEntries(retries) }, null, 2)}\n`, "url-retries");
}
