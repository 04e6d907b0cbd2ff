/** The job's persisted state (`<stateDir>/summary-state.json`). */
import { mkdir, readFile } from "node:fs/promises";
import path from "node:path";
import { writeFileDurable } from "@ujr/core/task";
import type { ScheduleState } from "./schedule.js";

export interface PendingNotification {
  runId: string;
  runDir: string;
  target: string;
  /** Failed attempts so far. */
  attempts: number;
  /** Epoch ms before which it is not tried again. */
  notBefore: number;
}

export interface SummaryState extends ScheduleState {
  version: 1;
  /** Watermark of the last run, for new_tweets. */
  since?: string | null | undefined;
  lastRunId?: string | undefined;
  lastRunDir?: string | undefined;
  lastError?: { code: string; message: string } | undefined;
  pending: PendingNotification[];
}

export const STATE_FILE = "summary-state.json";

export async function loadState(stateDir: string): Promise<SummaryState> {
  try {
    const raw = JSON.parse(await readFile(path.join(stateDir, STATE_FILE), "utf8")) as Partial<SummaryState>;
    return { version: 1, ...raw, pending: Array.isArray(raw.pending) ? raw.pending : [] };
  } catch {
    return { version: 1, pending: [] };
  }
}

export async function saveState(stateDir: string, state: SummaryState): Promise<void> {
  await mkdir(stateDir, { recursive: true });
  await writeFileDurable(path.join(stateDir, STATE_FILE), JSON.stringify(state, null, 2) + "\n");
}
