// Worker thread of ParseWorker (src/parse-in-worker.ts): reads and parses raw files, one
// job at a time, and posts each ParseEvent to the loader as soon as it is parsed, with
// credit-based flow control (memory stays bounded whatever the file size). Rows carry
// source_file_id 0 (the worker starts before the loader has claimed the file) and page
// numbers that skip the lines the loader parsed itself: the loader sets both.
import { parentPort } from "node:worker_threads";
import { parseEvents } from "../parse-events.js";

interface Job {
  id: number;
  path: string;
  /** progress[0]: events the loader has parsed itself (at the start of a file): passed over. */
  progress: Int32Array;
  credit: number;
  cancelled: boolean;
  wake?: (() => void) | undefined;
}

const port = parentPort!;
const queue: Job[] = [];
let current: Job | undefined;
let running = false;

port.on("message", (m: { t: string; job: number; path?: string; window?: number; progress?: Int32Array; n?: number }) => {
  if (m.t === "start") {
    queue.push({ id: m.job, path: m.path!, progress: m.progress!, credit: m.window!, cancelled: false });
    if (!running) void runQueue();
  } else if (m.t === "ack") {
    if (current?.id === m.job) {
      current.credit += m.n ?? 1;
      current.wake?.();
    }
  } else if (m.t === "cancel") {
    const j = current?.id === m.job ? current : queue.find((x) => x.id === m.job);
    if (j) {
      j.cancelled = true;
      j.wake?.();
    }
  }
});

async function runQueue(): Promise<void> {
  running = true;
  try {
    for (let job = queue.shift(); job !== undefined; job = queue.shift()) {
      current = job;
      await run(job);
    }
  } finally {
    current = undefined;
    running = false;
  }
}

async function run(job: Job): Promise<void> {
  try {
    // lines the loader has already parsed itself are passed over (not even JSON-parsed)
    const done = (index: number) => index < Atomics.load(job.progress, 0);
    for await (const ev of parseEvents(job.path, 0, undefined, done)) {
      if (done(ev.index)) continue;
      while (job.credit <= 0 && !job.cancelled) await new Promise<void>((r) => (job.wake = r));
      job.wake = undefined;
      if (job.cancelled) return;
      job.credit--;
      port.postMessage({ t: "event", job: job.id, ev });
    }
    port.postMessage({ t: "end", job: job.id });
  } catch {
    // the loader parses the rest itself (where an error of the file itself shows up again)
    port.postMessage({ t: "fatal", job: job.id });
  }
}
