// Runs one fetch task of the collector in this process and prints its outcome as JSON.
// The parent test runs it under a file-size limit (`ulimit -f`) so that writing a page fails
// midway, as on a full disk.
//   node fetch-once-child.mjs <emulator url> <state dir> <query>
import { createLogger } from "@ujr/core";
import { fetchPages } from "@ujr/plugin-twitter-collector/tasks";
import { join } from "node:path";

const [baseUrl, stateDir, query] = process.argv.slice(2);
const args = {
  job: "disk",
  stateDir,
  rawDir: join(stateDir, "raw"),
  kind: "search",
  endpoint: "recent",
  query,
  mode: "once",
  baseUrl,
  bearerToken: process.env.X_BEARER_TOKEN,
  maxResults: 100,
  pagesPerTask: 1,
  requestTimeoutMs: 10_000,
  rateLimitSlackMs: 0,
};
const ctx = { signal: new AbortController().signal, logger: createLogger({ level: "silent" }), attempt: 1, job: "disk", taskId: "1", progress: () => {} };
try {
  const result = await fetchPages.run(args, ctx);
  process.stdout.write(`${JSON.stringify({ ok: true, result })}\n`);
} catch (error) {
  process.stdout.write(`${JSON.stringify({ ok: false, code: error.code, message: error.message })}\n`);
}
