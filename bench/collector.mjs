// Twitter collector benchmark: pages/s collected end to end vs. a bare fetch() loop, in the same run.
//   node bench/collector.mjs [--tweets 50000] [--workers 2] [--isolation process|thread] [--pages-per-task 50]
// Starts the X API emulator (no latency, no rate limit) with a generated corpus, then:
//  1. bare: a loop of fetch() requests following next_token (twarc2's fields, max_results 100),
//     reading and parsing each page: the physical limit of this client against this server;
//  2. collector: one `search` job (mode once) through LocalJobsRunner with a pool of workers:
//     every page written durably (temp file, fsync, rename, fsync dir) before the cursor
//     advances (state file written the same way). URL resolution is off (it would fetch
//     the links of the pages, which is not what is measured here).
// Prints both rates and their ratio (target >= 0.7).
//
// Rate-limit mode: node bench/collector.mjs --tweets 2000 --rate-limit 2 --window-ms 500 [--slack 250]
// The emulator allows N requests per window (reset sent with milliseconds). The bare loop
// then waits exactly until x-rate-limit-reset when x-rate-limit-remaining reaches 0 (the
// least a client can wait); the collector waits as configured (rateLimitSlack). Prints
// the time each took, the windows' minimum, and the collector's wait overhead per pause.
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = fileURLToPath(new URL(".", import.meta.url));
const pkgDir = join(here, "..", "packages", "plugin-twitter-collector");
const load = (rel) => import(pathToFileURL(join(pkgDir, rel)).href);
const { startEmulator } = await load("node_modules/@ujr/x-api-emulator/dist/index.js");
const { LocalJobsRunner } = await load("node_modules/@ujr/runner-local/dist/index.js");
const { createLogger } = await load("node_modules/@ujr/core/dist/index.js");
const { default: plugin, EVERYTHING } = await load("dist/index.js");

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? dflt : process.argv[i + 1];
};
const nTweets = Number(arg("tweets", "50000"));
const workers = Number(arg("workers", "2"));
const isolation = arg("isolation", "process");
const pagesPerTask = Number(arg("pages-per-task", "50"));
const rateLimit = arg("rate-limit", undefined) === undefined ? undefined : Number(arg("rate-limit"));
const windowMs = Number(arg("window-ms", "1000"));
const slack = arg("slack", undefined);
const TOKEN = "bench-token";
const QUERY = "benchq";

const emulator = await startEmulator({
  port: 0,
  bearerToken: TOKEN,
  rateLimit: rateLimit === undefined ? { limit: 1e9, windowMs: 900_000 } : { limit: rateLimit, windowMs, resetPrecision: "milliseconds" },
});
emulator.generateTweets(nTweets, { textPrefix: `${QUERY} ` });

async function bare() {
  let pages = 0;
  let tweets = 0;
  let token;
  const started = performance.now();
  do {
    const url = new URL("/2/tweets/search/recent", emulator.url);
    for (const [k, v] of Object.entries(EVERYTHING)) url.searchParams.set(k, v);
    url.searchParams.set("query", QUERY);
    url.searchParams.set("max_results", "100");
    if (token) url.searchParams.set("next_token", token);
    const res = await fetch(url, { headers: { authorization: `Bearer ${TOKEN}` } });
    const body = await res.json();
    if (res.headers.get("x-rate-limit-remaining") === "0") {
      const reset = Number(res.headers.get("x-rate-limit-reset")) * 1000;
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, reset - Date.now())));
    }
    pages++;
    tweets += body.data?.length ?? 0;
    token = body.meta?.next_token;
  } while (token);
  const seconds = (performance.now() - started) / 1000;
  return { pages, tweets, seconds, rate: pages / seconds };
}

async function collector() {
  const dir = mkdtempSync(join(tmpdir(), "ujr-bench-collector-"));
  try {
    const jobType = plugin.jobs.search;
    const config = jobType.config.parse({
      query: QUERY,
      baseUrl: emulator.url,
      bearerToken: TOKEN,
      mode: "once",
      maxResults: 100,
      pagesPerTask,
      urlResolution: { enabled: false },
      ...(slack === undefined ? {} : { rateLimitSlack: Number(slack) }),
    });
    const logger = createLogger({ level: process.env.BENCH_LOG ?? "warn", destination: process.stderr });
    const job = await jobType.create(config, { name: "bench", stateDir: dir, configDir: dir, logger });
    const runner = new LocalJobsRunner({ jobs: [job], workers, isolation, logger, resolveFrom: [pkgDir], handleSignals: false });
    const started = performance.now();
    const result = await runner.run();
    const seconds = (performance.now() - started) / 1000;
    if (result.failedJobs.length) throw new Error(`job failed: ${JSON.stringify(result)}`);
    const pages = readdirSync(join(dir, "raw")).filter((n) => n.endsWith(".jsonl")).length;
    return { pages, seconds, rate: pages / seconds };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (rateLimit !== undefined) {
  const b = await bare();
  emulator.resetRateLimits();
  const c = await collector();
  const pauses = Math.ceil(b.pages / rateLimit) - 1;
  const minimum = (pauses * windowMs) / 1000;
  const slackMs = slack === undefined ? plugin.jobs.search.config.parse({ query: "q", bearerToken: "t" }).rateLimitSlack : Number(slack);
  console.log(`rate limit: ${rateLimit} requests per ${windowMs} ms window; ${b.pages} pages, so ${pauses} pauses, at least ${minimum.toFixed(2)} s`);
  console.log(`bare loop waiting exactly until each reset: ${b.seconds.toFixed(2)} s`);
  console.log(`collector (${isolation}, ${workers} workers, rateLimitSlack ${slackMs} ms): ${c.seconds.toFixed(2)} s (${c.pages} pages)`);
  console.log(`ratio collector / bare: ${(c.seconds / b.seconds).toFixed(3)}; collector time beyond the bare loop's, per pause, less the slack: ${(((c.seconds - b.seconds) * 1000) / pauses - slackMs).toFixed(1)} ms (pool start-up and durable writes included)`);
  await emulator.close();
  process.exit(0);
}

await bare(); // warm-up (JIT, sockets, emulator caches)
const b1 = await bare();
const c = await collector();
const b2 = await bare();
const bareRate = (b1.rate + b2.rate) / 2;
const fmt = (n) => n.toFixed(1);
console.log(`corpus: ${nTweets} generated tweets; ${b1.pages} pages of max_results 100 (${b1.tweets} tweets)`);
console.log(`bare fetch loop:         ${fmt(b1.rate)} / ${fmt(b2.rate)} pages/s (before / after), mean ${fmt(bareRate)}`);
console.log(`collector (${isolation}, ${workers} workers, ${pagesPerTask} pages/task, durable writes): ${fmt(c.rate)} pages/s (${c.pages} pages in ${c.seconds.toFixed(2)} s)`);
console.log(`ratio collector / bare:  ${(c.rate / bareRate).toFixed(2)} (target >= 0.7)`);
await emulator.close();
if (c.pages !== b1.pages) {
  console.error(`page count mismatch: collector ${c.pages}, bare ${b1.pages}`);
  process.exit(1);
}
