// Runs one search job of the collector with LocalJobsRunner (2 process workers) until it
// is done: the parent test kills this process with SIGKILL mid-collection and runs it again.
//   node crash-child.mjs <emulator url> <state dir> <query>
import { createLogger } from "@ujr/core";
import { LocalJobsRunner } from "@ujr/runner-local";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import plugin from "@ujr/plugin-twitter-collector";

const [baseUrl, stateDir, query, isolation = "process"] = process.argv.slice(2);
const packageDir = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const jobType = plugin.jobs.search;
const config = jobType.config.parse({
  query,
  baseUrl,
  bearerToken: process.env.X_BEARER_TOKEN,
  mode: "once",
  maxResults: 10,
  pagesPerTask: 5,
  urlResolution: { enabled: false },
  retry: { attempts: 5, baseMs: 10, maxMs: 100 },
});
const logger = createLogger({ level: "warn", destination: process.stderr });
const job = await jobType.create(config, { name: "crash", stateDir, configDir: stateDir, logger });
const runner = new LocalJobsRunner({ jobs: [job], workers: 2, isolation, logger, resolveFrom: [packageDir], checkInterval: 1000 });
const result = await runner.run();
process.stdout.write(`${JSON.stringify(result)}\n`);
process.exit(result.failedJobs.length > 0 ? 1 : 0);
