import { join } from "node:path";

/** Where a job keeps what. */
export interface Layout {
  stateDir: string;
  /** `<outputDir>/raw`: one API page per file. */
  rawDir: string;
  /** `<outputDir>/archive`: tar.gz archives. */
  archiveDir: string;
}

export function layout(stateDir: string, outputDir: string): Layout {
  return { stateDir, rawDir: join(outputDir, "raw"), archiveDir: join(outputDir, "archive") };
}

export const STATE_FILE = "collector-state.json";
export const URL_CACHE_FILE = "url-cache.jsonl";
export const ARCHIVE_STATE_FILE = "archive-state.json";
export const SIDECAR_SUFFIX = ".urls.jsonl";

const RAW_NAME = /^(\d{8}T\d{9}Z)-(\d{8,})\.jsonl$/;

/** `20240501T120000123Z`: UTC, sortable, safe on every file system. */
export function fileTimestamp(date: Date): string {
  return date.toISOString().replace(/[-:.]/g, "");
}

export function rawFileName(date: Date, seq: number): string {
  return `${fileTimestamp(date)}-${String(seq).padStart(8, "0")}.jsonl`;
}

/** The sequence number of a raw page file, or undefined for other names. */
export function rawFileSeq(name: string): number | undefined {
  const match = RAW_NAME.exec(name);
  return match ? Number(match[2]) : undefined;
}

export function sidecarName(rawName: string): string {
  return `${rawName}${SIDECAR_SUFFIX}`;
}

export interface RawListing {
  /** Raw page files sorted by sequence number. */
  raw: Array<{ name: string; seq: number }>;
  /** Names of the sidecars present. */
  sidecars: Set<string>;
}

export function parseListing(names: readonly string[]): RawListing {
  const raw: Array<{ name: string; seq: number }> = [];
  const sidecars = new Set<string>();
  for (const name of names) {
    if (name.endsWith(SIDECAR_SUFFIX)) {
      sidecars.add(name);
      continue;
    }
    const seq = rawFileSeq(name);
    if (seq !== undefined) raw.push({ name, seq });
  }
  raw.sort((a, b) => a.seq - b.seq);
  return { raw, sidecars };
}
