// Child process of src/store/sqlite-errors.test.ts: runs the built SQLite store where the test
// process cannot (as another user, under a file size limit) and prints, as one JSON line,
// what each step did. argv[2]: JSON `{ steps: [{ database, files?, opts? }] }`.
import { SqliteTidyStore } from "../../dist/store/sqlite.js";

const { steps } = JSON.parse(process.argv[2]);
const described = (e) => ({ code: e?.code, message: e?.message, retryable: e?.retryable, stack: typeof e?.stack });
const results = [];
for (const { database, files = [], opts = {}, createJob = false } of steps) {
  const logs = [];
  if (createJob) {
    // the tidy job made as a runner makes it (what `ujr validate` and `ujr run` do first)
    const { plugin } = await import("../../dist/plugin.js");
    const type = plugin.jobs.tidy;
    try {
      const ctx = { name: "tidy", stateDir: process.cwd(), configDir: process.cwd(), logger: { debug() {}, info() {}, warn() {}, error() {}, child() { return this; } } };
      await type.create(type.config.parse({ inputs: ["raw"], database }), ctx);
      results.push({ created: true, logs });
    } catch (e) {
      results.push({ thrown: described(e), logs });
    }
    continue;
  }
  const logger = { debug() {}, info() {}, warn: (o, msg) => logs.push({ ...o, msg }) };
  try {
    const store = new SqliteTidyStore(database, opts);
    try {
      const outcomes = await store.ingestFiles(files, { logger });
      results.push({ outcomes: outcomes.map((o) => ({ path: o.path, status: o.result?.status, ...(o.error !== undefined ? { error: described(o.error) } : {}) })), logs });
    } finally {
      await store.close();
    }
  } catch (e) {
    results.push({ thrown: described(e), logs });
  }
}
process.stdout.write(`${JSON.stringify(results)}\n`);
