/**
 * One summary run: open the database read-only, run every query (a failing query is
 * recorded with its name and the others still run), write one CSV and one JSON file per
 * query, summary.json and report.html into a new run folder, point `latest` at it and
 * prune old runs. Independent of the runner: the runQueries task calls it.
 */
import { readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { freeSpaceText, noSpaceCode, writeFileDurable } from "@ujr/core/task";
import { openReadOnly } from "./db/open.js";
import type { QueryResult, ReadOnlyDatabase } from "./db/types.js";
import { SummaryErrorCode, summaryError, toErrorInfo } from "./errors.js";
import { FolderRefused } from "./internal/folders.js";
import type { Manifest, QueryOutcome, QuerySpec } from "./manifest.js";
import { commitRunDir, prepareRunDir, pruneRuns, runIdFor } from "./output.js";
import { builtinQuery, datasetRangeQuery } from "./queries/builtin.js";
import { toCsv } from "./report/csv.js";
import { renderReportHtml, type ReportData } from "./report/html.js";
import { stringifyJson, toQueryJson } from "./report/json.js";

export interface RunQueriesArgs {
  job: string;
  /** SQLite path (relative to baseDir) or postgres:// URL. */
  database: string;
  baseDir: string;
  /** Absolute output folder; the run goes to `<outDir>/<job>/<timestamp>/`. */
  outDir: string;
  keep: number;
  queries: QuerySpec[];
  from?: string | null | undefined;
  to?: string | null | undefined;
  since?: string | null | undefined;
  title?: string | undefined;
  /** Run folders that must survive pruning (notifications still pending). */
  protect?: string[] | undefined;
}

export interface RunLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export interface RunOptions {
  signal?: AbortSignal;
  logger?: RunLogger;
  now?: () => number;
  /**
   * A monotonic clock in ms for durations (default performance.now): the wall clock
   * (`now`) jumps when a laptop wakes or NTP sets it, and a run's or query's duration must not.
   */
  elapsed?: () => number;
  /**
   * Writes one file of the run (tests inject a failing one to provoke a full disk);
   * default: a plain write for the per-query files, a durable one for report and manifest.
   */
  writeFile?: (file: string, data: string) => Promise<void>;
}

/**
 * The error of a failed write into the run's folder: it names the folder and says what to
 * do; a full disk (or quota) says so with the space left there, not as a query's failure.
 */
export function outputError(err: unknown, job: string, jobDir: string, doing: string): Error {
  const cause = (err as Error | null)?.message ?? String(err);
  const noSpace = noSpaceCode(err);
  if (noSpace !== undefined) {
    const free = freeSpaceText(jobDir);
    const full = noSpace === "EDQUOT" ? "the disk quota of this user is used up there" : "the disk is full";
    return summaryError(
      SummaryErrorCode.OUTPUT,
      `summary job "${job}" could not ${doing} in "${jobDir}": ${full} (${noSpace}${free === undefined ? "" : `, ${free} free`}). ` +
        `Free space there or point the job's "outDir" at another disk; nothing of this run was kept, and the next run writes the results again.`,
      { cause: err },
    );
  }
  if (err instanceof FolderRefused) {
    // the folder itself cannot be made there (a kernel filesystem such as /proc, a read-only one, a file in the way)
    return summaryError(
      SummaryErrorCode.OUTPUT,
      `summary job "${job}" could not ${doing} in "${jobDir}": ${cause}. ` +
        `Set the job's "outDir" (now "${path.dirname(jobDir)}") to a folder that can be made, on a writable disk where the user running ujr may write.`,
      { cause: err.refusal.error },
    );
  }
  return summaryError(SummaryErrorCode.OUTPUT, `summary job "${job}" could not ${doing} in "${jobDir}": ${cause}. Check that the job's "outDir" is writable.`, { cause: err });
}

export async function runSummary(args: RunQueriesArgs, options: RunOptions = {}): Promise<Manifest> {
  const started = (options.now ?? Date.now)();
  const startedElapsed = (options.elapsed ?? (() => performance.now()))();
  const jobDir = path.join(args.outDir, args.job);
  const db: ReadOnlyDatabase = await openReadOnly(args.database, args.baseDir);
  let tmpDir: string | undefined;
  try {
    const prepared = await prepareRunDir(jobDir, runIdFor(new Date(started))).catch((err: unknown) => {
      throw outputError(err, args.job, jobDir, "create its run folder");
    });
    tmpDir = prepared.tmpDir;
    return await runInto(args, options, db, { jobDir, tmpDir, runId: prepared.runId, started, startedElapsed });
  } catch (err) {
    // a failed run leaves nothing behind: its half-written folder would only take space
    if (tmpDir !== undefined) await rm(tmpDir, { recursive: true, force: true }).catch(() => {});
    throw err;
  } finally {
    await db.close();
  }
}

interface RunFolder {
  jobDir: string;
  tmpDir: string;
  runId: string;
  started: number;
  startedElapsed: number;
}

async function runInto(args: RunQueriesArgs, options: RunOptions, db: ReadOnlyDatabase, { jobDir, tmpDir, runId, started, startedElapsed }: RunFolder): Promise<Manifest> {
  const now = options.now ?? Date.now;
  const elapsed = options.elapsed ?? (() => performance.now());
  const startedAt = new Date(started);
  const writeQueryFile = options.writeFile ?? ((file: string, data: string) => writeFile(file, data));
  const writeFinalFile = options.writeFile ?? writeFileDurable;
  const outcomes: QueryOutcome[] = [];
  const data = new Map<string, ReportData>();
  let firstTweetAt: string | null = null;
  let lastTweetAt: string | null = null;
  let watermark: string | null = null;
  let tables: Map<string, Set<string>> | undefined;
  const getTables = async () => (tables ??= await db.tables());
  const common = { from: args.from ?? null, to: args.to ?? null, since: args.since ?? null };

  if ((await getTables()).has("tweets")) {
    try {
      const r = await db.query(datasetRangeQuery(db.dialect), common, { queryName: "(time range)", timeoutMs: 60_000, maxRows: 1, signal: options.signal });
      firstTweetAt = (r.rows[0]?.[0] as string | null) ?? null;
      lastTweetAt = (r.rows[0]?.[1] as string | null) ?? null;
    } catch (err) {
      options.logger?.warn({ err: toErrorInfo(err) }, "could not compute the time range of the dataset");
    }
  }

  for (const spec of args.queries) {
    if (options.signal?.aborted) throw summaryError(SummaryErrorCode.ABORTED, `run of job "${args.job}" was cancelled.`);
    const t0 = elapsed();
    const isBuiltin = spec.builtin !== undefined;
    let title = spec.title ?? spec.name;
    let chart = spec.chart;
    let result: QueryResult;
    try {
      let sql: string;
      if (isBuiltin) {
        const b = builtinQuery(spec.builtin!, db.dialect, spec.options ?? {});
        title = spec.title ?? b.title;
        chart = spec.chart ?? b.chart;
        const have = await getTables();
        const missing = b.requires.filter((t) => !have.has(t));
        if (missing.length > 0) {
          throw summaryError(
            SummaryErrorCode.QUERY_FAILED,
            `built-in report "${spec.builtin}" needs the table(s) ${missing.join(", ")} of the tidy schema, which the database lacks: point "database" at a database written by the tweet tidier.`,
            { query: spec.name },
          );
        }
        sql = b.sql;
      } else if (spec.file) {
        try {
          sql = await readFile(spec.file, "utf8");
        } catch (err) {
          throw summaryError(SummaryErrorCode.QUERY_FILE, `query "${spec.name}": cannot read its SQL file "${spec.file}" (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); paths are relative to the config file's folder.`, { query: spec.name });
        }
      } else {
        sql = spec.sql ?? "";
      }
      sql = sql.trim().replace(/;\s*$/, "");
      const params = { ...common, limit: spec.options?.limit ?? 20, ...(spec.params ?? {}) };
      result = await db.query(sql, params, { queryName: spec.name, timeoutMs: spec.timeoutMs, maxRows: spec.maxRows, signal: options.signal });
    } catch (err) {
      if ((err as { code?: string }).code === SummaryErrorCode.ABORTED) throw err;
      const info = toErrorInfo(err);
      options.logger?.warn({ query: spec.name, code: info.code }, `query "${spec.name}" failed: ${info.message}`);
      outcomes.push({
        name: spec.name,
        title,
        kind: isBuiltin ? "builtin" : "sql",
        ...(isBuiltin ? { builtin: spec.builtin! } : {}),
        rows: 0,
        columns: [],
        truncated: false,
        durationMs: Math.round(elapsed() - t0),
        error: info,
      });
      continue;
    }
    const base = safeFileName(spec.name);
    const files = { csv: `${base}.csv`, json: `${base}.json` };
    try {
      await writeQueryFile(path.join(tmpDir, files.csv), toCsv(result.columns, result.rows));
      await writeQueryFile(path.join(tmpDir, files.json), stringifyJson(toQueryJson(spec.name, result.columns, result.rows, result.truncated)));
    } catch (err) {
      // the query ran; its results cannot be stored, nor will the next query's: the run ends here
      throw outputError(err, args.job, jobDir, `write the results of query "${spec.name}"`);
    }
    data.set(spec.name, { columns: result.columns, rows: result.rows });
    if (spec.builtin === "new_tweets") {
      const wi = result.columns.indexOf("watermark");
      const w = wi >= 0 ? (result.rows[0]?.[wi] as string | null | undefined) : undefined;
      watermark = w ?? args.since ?? null;
    }
    outcomes.push({
      name: spec.name,
      title,
      kind: isBuiltin ? "builtin" : "sql",
      ...(isBuiltin ? { builtin: spec.builtin! } : {}),
      rows: result.rows.length,
      columns: result.columns,
      truncated: result.truncated,
      durationMs: Math.round(elapsed() - t0),
      files,
      ...(chart ? { chart } : {}),
    });
  }

  const finished = now();
  const finalDir = path.join(jobDir, runId);
  const errors = outcomes.filter((o) => o.error).length;
  const manifest: Manifest = {
    version: 1,
    job: args.job,
    runId,
    startedAt: startedAt.toISOString(),
    finishedAt: new Date(finished).toISOString(),
    durationMs: Math.round(elapsed() - startedElapsed),
    database: { dialect: db.dialect, location: db.label },
    timeRange: { from: args.from ?? null, to: args.to ?? null, since: args.since ?? null, firstTweetAt, lastTweetAt },
    queries: outcomes,
    errors,
    ok: errors === 0,
    dir: finalDir,
    report: path.join(finalDir, "report.html"),
    watermark: watermark ?? args.since ?? null,
  };
  try {
    await writeFinalFile(path.join(tmpDir, "report.html"), renderReportHtml(manifest, data, args.title ? { title: args.title } : {}));
    await writeFinalFile(path.join(tmpDir, "summary.json"), stringifyJson(manifest));
    await commitRunDir(jobDir, tmpDir, runId);
  } catch (err) {
    throw outputError(err, args.job, jobDir, "write the report");
  }
  await pruneRuns(jobDir, args.keep, args.protect ?? []).catch(() => {});
  // the task's logger already carries job and runId (the task's run): this run's id goes under its own key
  options.logger?.info({ summaryRun: runId, queries: outcomes.length, errors }, `summary run ${runId} stored (${outcomes.length} queries, ${errors} failed)`);
  return manifest;
}


/** A query name as a file name (names are validated, this is a second fence). */
export function safeFileName(name: string): string {
  return name.replace(/[^A-Za-z0-9_.-]/g, "_").replace(/^\.+/, "_") || "query";
}

/** Reads a stored run's manifest; the notify tasks only ever send stored results. */
export async function readStoredManifest(runDir: string): Promise<Manifest> {
  try {
    return JSON.parse(await readFile(path.join(runDir, "summary.json"), "utf8")) as Manifest;
  } catch {
    throw summaryError(SummaryErrorCode.NO_RESULTS, `the stored results of run "${runDir}" are missing (was the folder pruned or moved?): the notification cannot be sent.`);
  }
}
