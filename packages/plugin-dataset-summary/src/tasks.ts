/**
 * Task module of @ujr/plugin-dataset-summary: runs in a worker. Arguments and results are
 * structured-clonable. Referenced as "@ujr/plugin-dataset-summary/tasks".
 */
import { defineTask } from "@ujr/core/task";
import type { Manifest } from "./manifest.js";
import { notify, type NotifyArgs, type NotifyResult } from "./notify/send.js";
import { runSummary, type RunQueriesArgs } from "./run.js";

export const TASKS_MODULE = "@ujr/plugin-dataset-summary/tasks";

/** Runs the queries, stores CSV/JSON/summary.json/report.html; returns the manifest. */
export const runQueries = defineTask<RunQueriesArgs, Manifest>({
  module: TASKS_MODULE,
  name: "runQueries",
  async run(args, ctx) {
    return runSummary(args, { signal: ctx.signal, logger: ctx.logger });
  },
});

/** Sends one stored run to one notify target. */
export const notifyTarget = defineTask<NotifyArgs, NotifyResult>({
  module: TASKS_MODULE,
  name: "notifyTarget",
  async run(args, ctx) {
    return notify(args, { logger: ctx.logger, signal: ctx.signal });
  },
});

export type { RunQueriesArgs, NotifyArgs, NotifyResult, Manifest };
