// Records runs into a history, then dies by SIGKILL with one batch not yet written:
// node crash.mjs <file>
import { HistoryStore } from "@ujr/history";

const store = HistoryStore.open({ file: process.argv[2], flushIntervalMs: 60_000 });
const now = Date.now();
store.recordRun({ runId: "done-before", attempt: 1, job: "j", task: "m#t", outcome: "done", startedAt: now, endedAt: now, durationMs: 1 });
store.recordRun({ runId: "running-at-crash", attempt: 1, job: "j", task: "m#t", outcome: "running", startedAt: now });
await store.settled();
store.recordRun({ runId: "in-the-lost-batch", attempt: 1, job: "j", task: "m#t", outcome: "done", startedAt: now, endedAt: now, durationMs: 1 });
process.kill(process.pid, "SIGKILL");
