import { existsSync } from "node:fs";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join, relative, resolve } from "node:path";
import { createLogger, type LogLevel, type RunResult } from "@ujr/core";
import { ConfigFileRunner } from "@ujr/runner-local";
import { startEmulator } from "@ujr/x-api-emulator";
import { openStore } from "@ujr/plugin-tweet-tidier";
import { DEMO_JOBS, demoConfig } from "./config.js";
import { linkPlugins, prepareDemoFolder } from "./folder.js";

// The emulator's token: a stand-in for X_BEARER_TOKEN, passed through the environment
// exactly as a real token would be.
const DEMO_TOKEN = "ujr-demo-token";

export interface DemoOptions {
  /** The demo's folder (default ./ujr-demo); cleared first unless `continue`. */
  dir?: string | undefined;
  /** Keep the folder: collect only what is new and tidy only new files. */
  continue?: boolean | undefined;
  /** Log level of the runs (default warn). */
  logLevel?: LogLevel | undefined;
  /** Where progress and the closing summary go (default stdout / stderr). */
  out?: ((text: string) => void) | undefined;
  err?: ((text: string) => void) | undefined;
  /** How a phase's run maps to an exit code (the CLI passes its own rule). */
  exitCodeForRun?: ((result: RunResult) => number) | undefined;
}

/** `ujr run`'s rule: 1 a job failed; 130 stopped before every job was done; 0 otherwise (tasks that failed for good inside a job that finished are warnings). */
export function defaultExitCode(result: RunResult): number {
  if (result.failedJobs.length > 0) return 1;
  if (result.reason !== "done") return 130;
  return 0;
}

async function countFiles(dir: string, suffix: string): Promise<number> {
  if (!existsSync(dir)) return 0;
  return (await readdir(dir)).filter((name) => name.endsWith(suffix)).length;
}

/**
 * Runs the whole Twitter/X pipeline on embedded defaults: a local X API emulator (bundled
 * sample of real pages) → collector → tidier (SQLite) → summary (report.html, CSV, JSON),
 * one job after the other, each with `ujr run`'s config runner. Returns the exit code;
 * throws catalogue errors (exit code 2) for a folder it may not use.
 */
export async function runDemo(options: DemoOptions = {}): Promise<number> {
  const out = options.out ?? ((text: string) => process.stdout.write(`${text}\n`));
  const err = options.err ?? ((text: string) => process.stderr.write(`${text}\n`));
  const exitCodeForRun = options.exitCodeForRun ?? defaultExitCode;
  const dir = resolve(options.dir ?? "ujr-demo");
  const keep = options.continue === true;
  const started = Date.now();
  await prepareDemoFolder(dir, keep);
  await linkPlugins(dir);

  const emulator = await startEmulator({ port: 0, bearerToken: DEMO_TOKEN });
  const logLevel = options.logLevel ?? "warn";
  const logger = createLogger({ level: logLevel, pretty: process.stdout.isTTY === true });
  try {
    const configFile = join(dir, "ujr.config.yaml");
    await writeFile(configFile, demoConfig({ apiUrl: emulator.url, token: DEMO_TOKEN }));
    out(`ujr demo in ${dir}${keep ? " (continuing)" : ""}: X API emulator at ${emulator.url}`);
    const env = { ...process.env, UJR_DEMO_TOKEN: DEMO_TOKEN };
    const phases: Array<[string, string]> = [
      [DEMO_JOBS.collect, "collecting pages from the API, resolving links, archiving"],
      [DEMO_JOBS.tidy, "tidying raw pages into SQLite"],
      [DEMO_JOBS.summary, "running the summary queries and writing the report"],
    ];
    for (const [job, what] of phases) {
      const phaseStart = Date.now();
      out(`- ${job}: ${what}...`);
      const runner = await ConfigFileRunner.fromFile(configFile, { only: [job], watch: false, env, logger, logLevel });
      const result = await runner.run();
      const code = exitCodeForRun(result);
      out(`  ${result.tasks.done} task(s) done, ${result.tasks.failed} failed, in ${((Date.now() - phaseStart) / 1000).toFixed(1)} s`);
      if (code !== 0) {
        err(`ujr demo: the ${job} job did not finish cleanly (${result.failedJobs.length ? `failed: ${result.failedJobs.join(", ")}` : `${result.tasks.failed} task(s) failed`}); see the log lines above.`);
        return code;
      }
    }
    const rawDir = join(dir, "data", DEMO_JOBS.collect, "raw");
    const archiveDir = join(dir, "data", DEMO_JOBS.collect, "archive");
    const database = join(dir, "tidy.sqlite");
    const reportDir = join(dir, "reports", DEMO_JOBS.summary, "latest");
    const manifest = JSON.parse(await readFile(join(reportDir, "summary.json"), "utf8")) as { queries?: Array<{ name: string }> };
    const store = await openStore(database);
    const tweets = await store.count("tweets");
    const users = await store.count("users");
    await store.close();
    const sidecars = await countFiles(rawDir, ".urls.jsonl");
    const shown = (path: string) => relative(process.cwd(), path);
    out("");
    out(`Done in ${((Date.now() - started) / 1000).toFixed(1)} s.`);
    out(`  raw pages:   ${shown(rawDir)}/ (${(await countFiles(rawDir, ".jsonl")) - sidecars} files, ${sidecars} URL sidecars)`);
    out(`  archives:    ${shown(archiveDir)}/ (${await countFiles(archiveDir, ".tar.gz")})`);
    out(`  database:    ${shown(database)} (${tweets} tweets, ${users} users)`);
    out(`  report:      ${shown(join(reportDir, "report.html"))} (${manifest.queries?.length ?? 0} queries, CSV and JSON beside it)`);
    out(`  config:      ${shown(configFile)} (run it again with: ujr run ${shown(configFile)} --job ${DEMO_JOBS.tidy})`);
    return 0;
  } finally {
    await emulator.close();
  }
}
