import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { collectorError } from "../errors.js";
import { writeFileDurable } from "@ujr/core/task";
import { writingTo } from "./disk-full.js";
import { ARCHIVE_STATE_FILE, STATE_FILE } from "./layout.js";

/** One pagination run: from a since_id (or start/end time) to the page without next_token. */
export interface Sweep {
  sinceId: string | null;
  startTime: string | null;
  endTime: string | null;
  /** Token of the next page to ask for; null for the first page. */
  nextToken: string | null;
  /** meta.newest_id of the sweep's first page: the since_id of the next sweep. */
  newestId: string | null;
  pages: number;
  startedAt: string;
}

/** The fetch cursor, in `<stateDir>/collector-state.json`. */
export interface CollectorState {
  version: 1;
  /** Hash of what is collected (query / user, endpoint, times, mode): a change starts over. */
  fingerprint: string;
  /** Sequence number the next stored page file gets. */
  nextSeq: number;
  /** Timeline jobs: the user id (looked up once from the username). */
  userId: string | null;
  /** Newest tweet id of the completed sweeps: the next sweep asks for newer ones. */
  sinceId: string | null;
  sweep: Sweep | null;
  sweepsCompleted: number;
  /** once mode: every page of the range is stored. */
  done: boolean;
  pagesStored: number;
  tweetsStored: number;
  lastSweepEndedAt: string | null;
  updatedAt: string;
}

export function newState(fingerprint: string, nextSeq = 1): CollectorState {
  return {
    version: 1,
    fingerprint,
    nextSeq,
    userId: null,
    sinceId: null,
    sweep: null,
    sweepsCompleted: 0,
    done: false,
    pagesStored: 0,
    tweetsStored: 0,
    lastSweepEndedAt: null,
    updatedAt: new Date().toISOString(),
  };
}

async function readJson<T>(path: string): Promise<T | undefined> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw collectorError("UJR_COLLECTOR_STATE_CORRUPT", { path, reason: (error as Error).message });
  }
  try {
    return JSON.parse(text) as T;
  } catch (error) {
    throw collectorError("UJR_COLLECTOR_STATE_CORRUPT", { path, reason: (error as Error).message });
  }
}

export async function loadState(stateDir: string): Promise<CollectorState | undefined> {
  const path = join(stateDir, STATE_FILE);
  const state = await readJson<CollectorState>(path);
  if (state !== undefined && (state.version !== 1 || typeof state.nextSeq !== "number")) {
    throw collectorError("UJR_COLLECTOR_STATE_CORRUPT", { path, reason: "unknown format" });
  }
  return state;
}

export async function saveState(stateDir: string, state: CollectorState): Promise<void> {
  state.updatedAt = new Date().toISOString();
  await writingTo(stateDir, `the saved position (${STATE_FILE})`, () => writeFileDurable(join(stateDir, STATE_FILE), `${JSON.stringify(state, null, 2)}\n`, "state"));
}

/** What has been archived, in `<stateDir>/archive-state.json`. */
export interface ArchiveState {
  version: 1;
  /** Every raw file with seq <= this is in a verified archive. */
  archivedThroughSeq: number;
  lastArchiveAt: string | null;
  archives: Array<{ name: string; firstSeq: number; lastSeq: number; files: number; bytes: number; createdAt: string }>;
}

export async function loadArchiveState(stateDir: string): Promise<ArchiveState> {
  return (await readJson<ArchiveState>(join(stateDir, ARCHIVE_STATE_FILE))) ?? { version: 1, archivedThroughSeq: 0, lastArchiveAt: null, archives: [] };
}

export async function saveArchiveState(stateDir: string, state: ArchiveState): Promise<void> {
  await writingTo(stateDir, `the archive state (${ARCHIVE_STATE_FILE})`, () => writeFileDurable(join(stateDir, ARCHIVE_STATE_FILE), `${JSON.stringify(state, null, 2)}\n`, "archive-state"));
}
