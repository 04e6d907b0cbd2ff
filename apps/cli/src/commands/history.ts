import { existsSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { isDuration, parseDuration } from "@ujr/core";
import { loadRunnerSettings } from "@ujr/runner-local";
import { DEFAULT_CONFIG, parse, UsageError } from "../args.js";
import type { Output } from "../output.js";
import type * as History from "@ujr/history";
import { importOptional } from "../optional-package.js";
import { HISTORY_PACKAGE } from "../run-history.js";

export const historyHelp = `ujr history [config|file|url] [options]
  What ran and how it ended, kept across restarts in the run history of a config
  (runner.history; default <dataDir>/_history.sqlite; needs @ujr/history). config: default
  ./${DEFAULT_CONFIG}; a .sqlite file or a postgres:// URL also works. One line per run,
  oldest first, or a per-job summary.
  --job <name>         only this job (repeat for several)
  --since <when>       runs since a duration ago (30m, 2h, 7d) or a date (2026-03-01T00:00Z)
  --failed             only runs that failed (failed, timed out, retried, interrupted)
  --summary            one line per job: runs, failures, last success, last failure
  --limit <n>          the runs that started last (default 50)
  --json               JSON for tools ({ runs } or { jobs })
  --schema <name>      with a postgres:// URL: the history's schema (default ujr_history)`;

const DAY_MS = 86_400_000;

function sinceMs(value: string | undefined, now: number): number | undefined {
  if (value === undefined) return undefined;
  const days = /^(\d+(?:\.\d+)?)d$/.exec(value);
  if (days) return now - Number(days[1]) * DAY_MS;
  if (isDuration(value)) return now - parseDuration(value);
  const date = Date.parse(value);
  if (Number.isNaN(date)) throw new UsageError(`--since must be a duration such as 30m, 2h or 7d, or a date such as 2026-03-01T00:00Z (got "${value}")`);
  return date;
}

const time = (ms: number | undefined) => (ms === undefined ? "-" : new Date(ms).toISOString().replace("T", " ").replace(/\.\d{3}Z$/, "Z"));

function duration(ms: number | undefined): string {
  if (ms === undefined) return "-";
  if (ms < 1000) return `${ms}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  return `${Math.floor(ms / 60_000)}m${String(Math.round((ms % 60_000) / 1000)).padStart(2, "0")}s`;
}

/**
 * The history file of a config (or the file given). Only the config's `runner` section
 * is read: the jobs' plugins and secrets are not needed to read what ran.
 */
async function historyFileOf(target: string): Promise<{ file: string; config: string; url?: string | undefined; schema?: string | undefined }> {
  if (/\.(sqlite3?|db)$/i.test(target)) return { file: target, config: DEFAULT_CONFIG };
  // Only the keys used here: `executor.redis: ${REDIS_URL}` is for `ujr run`, not for reading.
  const { runner, dir } = await loadRunnerSettings(target, ["dataDir", "history"]);
  const settings = runner.history;
  if (settings === false) throw new UsageError(`${target} sets runner.history: false, so nothing is recorded. Remove it (or give history settings) and run again.`);
  const { historyFile } = await importOptional<typeof History>(HISTORY_PACKAGE, "history", [dir]);
  return { file: historyFile(settings, resolve(dir, runner.dataDir), dir), config: target, url: settings?.url, schema: settings?.schema };
}

export async function historyCommand(argv: string[], output: Output): Promise<number> {
  const { values, positionals } = parse(argv, {
    job: { type: "string", multiple: true },
    since: { type: "string" },
    failed: { type: "boolean" },
    summary: { type: "boolean" },
    limit: { type: "string" },
    json: { type: "boolean" },
    schema: { type: "string" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) {
    output.out(historyHelp);
    return 0;
  }
  const limit = values.limit === undefined ? 50 : Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1) throw new UsageError(`--limit must be a positive whole number (got "${String(values.limit)}")`);
  const since = sinceMs(values.since as string | undefined, Date.now());
  const given = positionals[0] ?? DEFAULT_CONFIG;
  const isUrl = /^postgres(ql)?:\/\//.test(given);
  const target = isUrl ? given : resolve(given);
  if (!isUrl && !existsSync(target)) throw new UsageError(`${target} does not exist: pass a ujr config file (default ./${DEFAULT_CONFIG}), a history .sqlite file or a postgres:// URL`);
  const where = isUrl ? { file: "", config: DEFAULT_CONFIG, url: given, schema: values.schema as string | undefined } : await historyFileOf(target);
  const { HistoryStore, PgHistoryStore, byNewestBegun } = await importOptional<typeof History>(HISTORY_PACKAGE, "history", [isUrl ? process.cwd() : dirname(target)]);
  const store = where.url ? await PgHistoryStore.open({ url: where.url, schema: where.schema, readOnly: true }) : HistoryStore.openReadOnly(where.file, { config: where.config });
  try {
    const jobs = (values.job as string[] | undefined) ?? [undefined];
    if (values.summary) {
      const summaries = (await Promise.all(jobs.map((job) => store.jobSummaries({ since, job })))).flat();
      if (values.json) output.out(JSON.stringify({ jobs: summaries }, null, 2));
      else if (summaries.length === 0) output.out("No runs recorded yet.");
      else
        for (const summary of summaries) {
          const failure = summary.lastFailure ? `last failure ${time(summary.lastFailure.at)} ${summary.lastFailure.code ?? ""} ${summary.lastFailure.message ?? ""}`.trimEnd() : "no failure";
          output.out(`${summary.job}: ${summary.runs} runs, ${summary.done} done, ${summary.failures} failed; last success ${time(summary.lastSuccessAt)}; ${failure}`);
        }
      return 0;
    }
    // Ordered by when each run began, the time its line shows (the store keeps them in the
    // order they ended: a long run would sit among runs that began after it).
    const runs = (await Promise.all(jobs.map((job) => store.runs({ job, since, failed: values.failed === true, limit, order: "started" }))))
      .flat()
      .sort(byNewestBegun)
      .slice(0, limit)
      .reverse();
    if (values.json) {
      output.out(JSON.stringify({ runs }, null, 2));
      return 0;
    }
    if (runs.length === 0) {
      output.out(values.failed ? "No failed runs recorded (for these filters)." : "No runs recorded (for these filters).");
      return 0;
    }
    for (const run of runs) {
      const cells = [
        time(run.startedAt ?? run.queuedAt ?? run.endedAt),
        run.job,
        run.outcome.padEnd(11),
        duration(run.durationMs).padStart(7),
        run.attempt > 1 ? `attempt ${run.attempt}` : "",
        run.signature ? `[${run.signature}]` : run.task.replace(/^.*\//, ""),
        run.code ?? "",
        run.message ?? (run.progress ? `(${run.progress})` : ""),
      ];
      output.out(cells.filter((cell) => cell !== "").join("  "));
    }
    return 0;
  } finally {
    await store.close();
  }
}
