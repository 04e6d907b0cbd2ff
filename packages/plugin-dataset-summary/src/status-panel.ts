import path from "node:path";
import type { StatusPanel, StatusPanelField } from "@ujr/core";
import type { Schedule } from "./schedule.js";
import type { SummaryState } from "./state.js";

export interface SummaryPanelInput {
  job: string;
  schedule: Schedule;
  state: Readonly<SummaryState> | undefined;
  nextRunAt: number | null;
  running: boolean;
  reportBaseUrl?: string | undefined;
  /** The SQLite file a due run waits for (it does not exist yet). */
  waitingForDatabase?: string | undefined;
}

function describeSchedule(schedule: Schedule): string {
  if (schedule.kind === "once") return "once";
  if (schedule.kind === "interval") return `every ${Math.round(schedule.everyMs / 1000)} s`;
  return `cron ${schedule.expressions.join(", ")}${schedule.timezone ? ` (${schedule.timezone})` : ""}`;
}

/**
 * The summary's panel on the dashboard, `ujr status` and `/status`: its last report
 * (linked when `reportBaseUrl` says where reports are served), its last error and its
 * next run. Built from the job's state in memory.
 */
export function summaryPanel(input: SummaryPanelInput, now = Date.now()): StatusPanel {
  const state = input.state;
  const report = state?.lastRunDir ? path.join(state.lastRunDir, "report.html") : undefined;
  const href =
    input.reportBaseUrl && state?.lastRunId
      ? `${input.reportBaseUrl.replace(/\/+$/, "")}/${encodeURIComponent(input.job)}/${encodeURIComponent(state.lastRunId)}/report.html`
      : undefined;
  const fields: StatusPanelField[] = [
    { label: "Schedule", value: describeSchedule(input.schedule) },
    { label: "Runs", value: state?.runs ?? 0 },
    { label: "Last run", value: state?.lastRunAt ?? null, format: "time" },
    { label: "Last report", value: href ?? report ?? null, ...(href ? { href } : {}) },
    input.running
      ? { label: "Next run", value: "running now" }
      : input.waitingForDatabase !== undefined
        ? { label: "Next run", value: `when ${input.waitingForDatabase} exists (it does not yet)`, tone: "warning" as const }
        : { label: "Next run", value: input.nextRunAt === null ? "none (done)" : input.nextRunAt <= now ? "now" : new Date(input.nextRunAt).toISOString(), format: input.nextRunAt !== null && input.nextRunAt > now ? "time" : "text" },
    { label: "Notifications pending", value: state?.pending.length ?? 0, ...((state?.pending.length ?? 0) > 0 ? { tone: "warning" as const } : {}) },
    { label: "Last error", value: state?.lastError ? `${state.lastError.code}: ${state.lastError.message}` : null, ...(state?.lastError ? { tone: "error" as const } : {}) },
  ];
  return { title: "Summary reports", fields };
}
