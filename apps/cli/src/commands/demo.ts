import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join, relative, resolve } from "node:path";
import { createLogger, type LogLevel } from "@ujr/core";
import { ConfigFileRunner } from "@ujr/runner-local";
import { checkLogLevel, parse, UsageError } from "../args.js";
import { exitCodeForRun } from "../exit-codes.js";
import type { Output } from "../output.js";

export const demoHelp = `ujr demo [--dir ./ujr-demo] [--continue] [--log-level warn]
  Runs the whole Twitter/X pipeline on embedded defaults, with no credentials and no
  servers: a local X API emulator (bundled sample of real pages) → collector (pages,
  URL resolution, archive) → tidier (SQLite) → summary (report.html, CSV, JSON).
  Starts clean unless --continue (then it collects only what is new and tidies only new files).`;

const MARKER = ".ujr-demo";
// The emulator's token: a stand-in for X_BEARER_TOKEN, passed through the environment
// exactly as a real token would be.
const DEMO_TOKEN = "ujr-demo-token";
const JOBS = { collect: "collect", tidy: "tidy", summary: "summary" } as const;

function moduleFile(specifier: string): string {
  return new URL(import.meta.resolve(specifier)).pathname;
}

export function demoConfig(options: { apiUrl: string }): string {
  return `# Written by \`ujr demo\`: the seed's pipeline against a local X API emulator.
# The same pipeline against the real API is in examples/twitter-pipeline/ujr.config.yaml.
runner:
  workers: 2
  isolation: process
  dataDir: ./data
  checkInterval: 5s
jobs:
  ${JOBS.collect}:
    plugin: ${JSON.stringify(moduleFile("@ujr/plugin-twitter-collector"))}
    type: search
    config:
      query: "#brexit OR from:ObservatoryTeam OR has:links"
      baseUrl: ${options.apiUrl}
      bearerToken: \${UJR_DEMO_TOKEN}
      mode: once
      maxResults: 50
      pagesPerTask: 5
      urlResolution:
        allowPrivateAddresses: true   # the emulator's short links are on 127.0.0.1
        onlyHosts: [127.0.0.1]        # the sample's other links point at the internet: skip them
        timeout: 2s
      archive:
        everyFiles: 5
  ${JOBS.tidy}:
    plugin: ${JSON.stringify(moduleFile("@ujr/plugin-tweet-tidier"))}
    type: tidy
    config:
      inputs: [./data/${JOBS.collect}/raw]
      database: ./tidy.sqlite
      mode: once
  ${JOBS.summary}:
    plugin: ${JSON.stringify(moduleFile("@ujr/plugin-dataset-summary"))}
    type: summary
    config:
      database: ./tidy.sqlite
      outDir: ./reports
      title: ujr demo
      schedule:
        once: true
`;
}

async function prepare(dir: string, keep: boolean): Promise<void> {
  if (existsSync(dir) && !keep) {
    const entries = await readdir(dir);
    if (entries.length > 0 && !entries.includes(MARKER)) {
      throw new UsageError(`${dir} exists and was not made by \`ujr demo\`; choose another folder with --dir`);
    }
    await rm(dir, { recursive: true, force: true });
  }
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, MARKER), "made by `ujr demo`; safe to delete\n");
}

async function countFiles(dir: string, suffix: string): Promise<number> {
  if (!existsSync(dir)) return 0;
  return (await readdir(dir)).filter((name) => name.endsWith(suffix)).length;
}

export async function demoCommand(argv: string[], output: Output): Promise<number> {
  const { values } = parse(argv, {
    dir: { type: "string" },
    continue: { type: "boolean" },
    "log-level": { type: "string" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) {
    output.out(demoHelp);
    return 0;
  }
  checkLogLevel(values["log-level"] as string | undefined);
  const dir = resolve((values.dir as string | undefined) ?? "ujr-demo");
  const keep = values.continue === true;
  const started = Date.now();
  await prepare(dir, keep);

  const { startEmulator } = await import("@ujr/x-api-emulator");
  const emulator = await startEmulator({ port: 0, bearerToken: DEMO_TOKEN });
  const logLevel = ((values["log-level"] as string | undefined) ?? "warn") as LogLevel;
  const logger = createLogger({ level: logLevel, pretty: process.stdout.isTTY === true });
  try {
    const configFile = join(dir, "ujr.config.yaml");
    await writeFile(configFile, demoConfig({ apiUrl: emulator.url }));
    output.out(`ujr demo in ${dir}${keep ? " (continuing)" : ""}: X API emulator at ${emulator.url}`);
    const env = { ...process.env, UJR_DEMO_TOKEN: DEMO_TOKEN };
    const phases: Array<[string, string]> = [
      [JOBS.collect, "collecting pages from the API, resolving links, archiving"],
      [JOBS.tidy, "tidying raw pages into SQLite"],
      [JOBS.summary, "running the summary queries and writing the report"],
    ];
    for (const [job, what] of phases) {
      const phaseStart = Date.now();
      output.out(`- ${job}: ${what}...`);
      const runner = await ConfigFileRunner.fromFile(configFile, { only: [job], watch: false, env, logger, logLevel });
      const result = await runner.run();
      const code = exitCodeForRun(result);
      output.out(`  ${result.tasks.done} task(s) done, ${result.tasks.failed} failed, in ${((Date.now() - phaseStart) / 1000).toFixed(1)} s`);
      if (code !== 0) {
        output.err(`ujr demo: the ${job} job did not finish cleanly (${result.failedJobs.length ? `failed: ${result.failedJobs.join(", ")}` : `${result.tasks.failed} task(s) failed`}); see the log lines above.`);
        return code;
      }
    }
    const rawDir = join(dir, "data", JOBS.collect, "raw");
    const database = join(dir, "tidy.sqlite");
    const reportDir = join(dir, "reports", JOBS.summary, "latest");
    const manifest = JSON.parse(await readFile(join(reportDir, "summary.json"), "utf8")) as { queries?: Array<{ name: string; rows?: number; error?: unknown }> };
    const { openStore } = await import("@ujr/plugin-tweet-tidier");
    const store = await openStore(database);
    const tweets = await store.count("tweets");
    const users = await store.count("users");
    await store.close();
    output.out("");
    output.out(`Done in ${((Date.now() - started) / 1000).toFixed(1)} s.`);
    output.out(`  raw pages:   ${relative(process.cwd(), rawDir)}/ (${await countFiles(rawDir, ".jsonl") - (await countFiles(rawDir, ".urls.jsonl"))} files, ${await countFiles(rawDir, ".urls.jsonl")} URL sidecars)`);
    output.out(`  archives:    ${relative(process.cwd(), join(dir, "data", JOBS.collect, "archive"))}/ (${await countFiles(join(dir, "data", JOBS.collect, "archive"), ".tar.gz")})`);
    output.out(`  database:    ${relative(process.cwd(), database)} (${tweets} tweets, ${users} users)`);
    output.out(`  report:      ${relative(process.cwd(), join(reportDir, "report.html"))} (${manifest.queries?.length ?? 0} queries, CSV and JSON beside it)`);
    output.out(`  config:      ${relative(process.cwd(), configFile)} (run it again with: ujr run ${relative(process.cwd(), configFile)} --job ${JOBS.tidy})`);
    return 0;
  } finally {
    await emulator.close();
  }
}
