/**
 * @ujr/plugin-dataset-summary: scheduled queries on a tidy tweet database, stored
 * results (CSV, JSON, summary.json, report.html) and notifications (webhook, email,
 * folder).
 */
import { definePlugin, defineJobType, PLUGIN_API_VERSION } from "@ujr/core";
import { summaryConfigSchema } from "./config.js";
import { SummaryJob } from "./job.js";

export const summaryJobType = defineJobType({
  description: "Runs queries (built-in reports or SQL) on a tidy tweet database on a schedule, stores CSV/JSON/HTML results and notifies webhooks, email and folders.",
  config: summaryConfigSchema,
  create: (config, ctx) => new SummaryJob(config, ctx),
});

const plugin = definePlugin({
  name: "@ujr/plugin-dataset-summary",
  apiVersion: PLUGIN_API_VERSION,
  jobs: { summary: summaryJobType },
});

export default plugin;

export { summaryConfigSchema, targetName, type SummaryConfig, type SummaryConfigInput, type TargetConfig, type QueryConfig } from "./config.js";
export { SummaryJob, toSchedule, toQuerySpecs, type SummaryJobOptions } from "./job.js";
export { nextRunAt, isDue, recordRun, startWaiting, nextCronSlot, missedSlotCount, systemClock, type Schedule, type ScheduleState, type Clock } from "./schedule.js";
export { BUILTIN_REPORTS, BUILTIN_DESCRIPTIONS, builtinQuery, type BuiltinReport, type BuiltinOptions, type ChartSpec } from "./queries/builtin.js";
export { runSummary, readStoredManifest, type RunQueriesArgs } from "./run.js";
export type { Manifest, QueryOutcome, QuerySpec } from "./manifest.js";
export { openReadOnly } from "./db/open.js";
export type { ReadOnlyDatabase, QueryResult, Dialect } from "./db/types.js";
export { toCsv } from "./report/csv.js";
export { renderReportHtml } from "./report/html.js";
export { lineChart, barChart, LINE_COLOUR, BAR_COLOUR } from "./report/svg.js";
export { isPrivateAddress, checkHost } from "./notify/address-guard.js";
export { sendWebhook, redactUrl } from "./notify/webhook.js";
export { sendEmail } from "./notify/email.js";
export { copyToFolder } from "./notify/folder.js";
export { notify, type NotifyArgs, type NotifyResult } from "./notify/send.js";
export { SummaryError, SummaryErrorCode, hasCode } from "./errors.js";
