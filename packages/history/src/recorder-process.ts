import { hostname, uptime } from "node:os";
import { processAlive } from "@ujr/core/task";
import type { RunRecord, RunRow } from "./types.js";

/** The message of a run whose runner ended without recording its outcome. */
export const INTERRUPTED = "the runner ended without recording an outcome (killed or crashed)";

/**
 * A clock set back a little after a boot must not make a live run look older than the boot:
 * only a run begun this long before it counts as cut off by it.
 */
const BOOT_SLACK_MS = 60_000;

/**
 * Whether the process that recorded a run (the coordinator: its host and pid) still runs,
 * as far as this process can tell: `gone` when it ran on this machine and no process has
 * its pid now, or the machine started again since the run began (a pid seen after a boot
 * is another process's); `alive` when its pid is in use on this machine; `unknown` for
 * another machine's runs or runs recorded without host and pid.
 */
export function recorderState(run: Pick<RunRecord, "host" | "pid" | "startedAt" | "queuedAt">, now = Date.now()): "gone" | "alive" | "unknown" {
  if (run.host == null || run.pid == null || run.host !== hostname()) return "unknown";
  const began = run.startedAt ?? run.queuedAt;
  if (began !== undefined && began < now - uptime() * 1000 - BOOT_SLACK_MS) return "gone";
  return run.pid === process.pid || processAlive(run.pid) ? "alive" : "gone";
}

/**
 * A run stored as running whose recorder is gone is shown as interrupted at once, by any
 * reader (`ujr history`, the dashboard), without waiting for the next writer to record it so.
 */
export function asReadNow(run: RunRow): RunRow {
  if (run.outcome !== "running" || recorderState(run) !== "gone") return run;
  return { ...run, outcome: "interrupted", message: run.message ?? INTERRUPTED };
}
