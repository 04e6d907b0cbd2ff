import { normalizeStatusPanel, statusPanelLines, type RunnerSnapshot } from "@ujr/core";

export interface RenderStatusOptions {
  /** The time relative times ("in 25s", "running 1m 12s") are computed from; default: now. */
  now?: number | undefined;
  /** Running tasks shown at most (default 8); the rest are counted. */
  maxTasks?: number | undefined;
  /** Tasks running at least this long (ms) are listed even without progress (default 2000). */
  longTaskMs?: number | undefined;
  /** Also each job's own status panel (`ujr status`; the live view has no room for them). */
  panels?: boolean | undefined;
}

type Progress = NonNullable<RunnerSnapshot["running"][number]["progress"]>;

/** `1.2s`, `45s`, `3m 05s`, `2h 01m`. */
export function formatElapsed(ms: number): string {
  const seconds = Math.max(0, ms) / 1000;
  if (seconds < 10) return `${seconds.toFixed(1)}s`;
  if (seconds < 60) return `${Math.floor(seconds)}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m ${String(Math.floor(seconds % 60)).padStart(2, "0")}s`;
  return `${Math.floor(minutes / 60)}h ${String(minutes % 60).padStart(2, "0")}m`;
}

/** `[####------] 40/100 40% message`, or just the message, or done only. */
export function formatProgress(progress: Progress): string {
  const parts: string[] = [];
  const { done, total, message } = progress;
  if (done !== undefined && total !== undefined && total > 0) {
    const share = Math.min(1, Math.max(0, done / total));
    const filled = Math.floor(share * 10);
    parts.push(`[${"#".repeat(filled)}${"-".repeat(10 - filled)}] ${done}/${total} ${Math.floor(share * 100)}%`);
  } else if (done !== undefined) {
    parts.push(`${done} done`);
  }
  if (message) parts.push(message);
  return parts.join(" ");
}

/** The short name of a task's code: the last segment of its module and the export. */
function shortLabel(label: string): string {
  const hash = label.lastIndexOf("#");
  const module = hash >= 0 ? label.slice(0, hash) : label;
  const name = hash >= 0 ? label.slice(hash + 1) : "";
  const file = module.replace(/\/+$/, "").split("/").pop() ?? module;
  return name ? `${file}#${name}` : file;
}

function fit(line: string, width: number): string {
  if (line.length <= width) return line;
  return width <= 1 ? line.slice(0, width) : `${line.slice(0, width - 1)}…`;
}

function when(iso: string | undefined, now: number): string {
  if (iso === undefined) return "now";
  const at = Date.parse(iso);
  return at <= now ? "now" : `in ${formatElapsed(at - now)}`;
}

function table(rows: string[][], alignRight: Set<number>): string[] {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows.map((row) =>
    row
      .map((cell, column) => (alignRight.has(column) ? cell.padStart(widths[column]!) : cell.padEnd(widths[column]!)))
      .join("  ")
      .trimEnd(),
  );
}

/**
 * The status of a runner as text lines no wider than `width`: a summary line, a table of
 * jobs (state, next check, running/done/failed tasks) and the long or progressing running
 * tasks with their progress. A pure function of the snapshot, used by `ujr run`'s live
 * view and by `ujr status`.
 */
export function renderStatus(snapshot: RunnerSnapshot, width: number, options: RenderStatusOptions = {}): string {
  const now = options.now ?? Date.now();
  const maxTasks = options.maxTasks ?? 8;
  const longTaskMs = options.longTaskMs ?? 2000;
  const width_ = Math.max(20, Math.floor(width));
  const { totals, executor } = snapshot;
  const busy = executor.size - executor.free;
  const summary = [
    `ujr ${snapshot.state}`,
    // the runner's own count (monotonic) when it gives one: right when the wall clock jumped
    snapshot.uptimeMs !== undefined ? `up ${formatElapsed(snapshot.uptimeMs)}` : snapshot.startedAt ? `up ${formatElapsed(now - Date.parse(snapshot.startedAt))}` : undefined,
    `${snapshot.jobs.length} job${snapshot.jobs.length === 1 ? "" : "s"}`,
    `${busy}/${executor.size} slots busy`,
    `done ${totals.done}`,
    `failed ${totals.failed}`,
    totals.retried > 0 ? `retried ${totals.retried}` : undefined,
    totals.cancelled > 0 ? `cancelled ${totals.cancelled}` : undefined,
    snapshot.queueDepth > 0 ? `waiting retry ${snapshot.queueDepth}` : undefined,
  ]
    .filter((part) => part !== undefined)
    .join(" · ");
  const lines = [summary];

  if (snapshot.jobs.length === 0) {
    lines.push("no jobs");
  } else {
    const rows = [["JOB", "STATE", "NEXT CHECK", "RUNNING", "DONE", "FAILED"]];
    for (const job of [...snapshot.jobs].sort((a, b) => a.name.localeCompare(b.name))) {
      const backingOff = job.backoffUntil !== undefined && Date.parse(job.backoffUntil) > now;
      const state = backingOff ? "backoff" : job.status;
      const next = job.status !== "active" ? "-" : backingOff ? when(job.backoffUntil, now) : when(job.nextCheck, now);
      const running = job.waitingRetry > 0 ? `${job.running}+${job.waitingRetry}r` : String(job.running);
      rows.push([job.name, state, next, running, String(job.counters.done), String(job.counters.failed)]);
    }
    lines.push(...table(rows, new Set([3, 4, 5])));
    for (const job of snapshot.jobs) {
      if (job.lastError && job.status === "active" && job.backoffUntil !== undefined) lines.push(`  ${job.name}: ${job.lastError.message.split("\n")[0]}`);
    }
  }

  const shown = snapshot.running
    .map((task) => ({ task, elapsed: task.elapsedMs ?? now - Date.parse(task.startedAt) }))
    .filter(({ task, elapsed }) => task.progress !== undefined || elapsed >= longTaskMs)
    .sort((a, b) => b.elapsed - a.elapsed);
  if (shown.length > 0) {
    lines.push("");
    const rows = shown.slice(0, maxTasks).map(({ task, elapsed }) => [
      task.job,
      shortLabel(task.task) + (task.signature ? ` ${task.signature}` : ""),
      task.attempt > 1 ? `try ${task.attempt}` : "",
      formatElapsed(elapsed),
      task.progress ? formatProgress(task.progress) : "",
    ]);
    lines.push(...table(rows, new Set([3])).map((line) => `  ${line}`));
    if (shown.length > maxTasks) lines.push(`  … and ${shown.length - maxTasks} more running`);
  }
  if (options.panels) {
    for (const job of [...snapshot.jobs].sort((a, b) => a.name.localeCompare(b.name))) {
      const panel = normalizeStatusPanel((job as { panel?: unknown }).panel);
      if (!panel) continue;
      lines.push("", `${job.name}${panel.title ? ` — ${panel.title}` : ""}`, ...statusPanelLines(panel).map((line) => `  ${line}`));
    }
  }
  return lines.map((line) => fit(line, width_)).join("\n");
}
