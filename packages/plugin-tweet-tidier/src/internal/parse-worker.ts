// Worker thread of ParseWorker (src/parse-in-worker.ts): hashes, reads and parses raw
// files (or a share of a file's lines, see Stripe) in the order the loader will load them,
// and posts each file's hash, then each
// ParseEvent as soon as it is parsed, with credit-based flow control over all files (memory
// stays bounded whatever the file sizes). Rows carry source_file_id 0 (the worker runs
// before the loader has claimed the file): the loader sets it.
import { parentPort } from "node:worker_threads";
import { parseEvents } from "../parse-events.js";
import { KnownContent } from "./known-content.js";
import { hashBytes, hashFile, readSmallFile, setBlockingReads, takeReadBuffer } from "../read-raw.js";
import type { FromWorker, Stripe } from "../parse-in-worker.js";

interface Job {
  id: number;
  path: string;
  cancelled: boolean;
  stripe?: Stripe | undefined;
  /** Post the file's hash first (another thread hashes a striped file). */
  hash: boolean;
}

type ToWorker =
  | { t: "start"; job: number; path: string; stripe?: Stripe; hash?: boolean }
  | { t: "known"; file?: string | undefined }
  | { t: "credit"; set: number }
  | { t: "ack"; n: number }
  | { t: "cancel"; job: number };

const port = parentPort!;
const queue: Job[] = [];
let current: Job | undefined;
let running = false;
let credit = 0;
let wake: (() => void) | undefined;

const post = (m: FromWorker) => port.postMessage(m);
// this thread only reads and parses: its reads block it rather than wait for libuv's pool
setBlockingReads(true);
const smallFileBuffer = takeReadBuffer();
// archive members whose bytes the batch's database holds are passed over unparsed
const known = new KnownContent();

port.on("message", (m: ToWorker) => {
  if (m.t === "start") {
    queue.push({ id: m.job, path: m.path, cancelled: false, stripe: m.stripe, hash: m.hash !== false });
    if (!running) void runQueue();
  } else if (m.t === "known") {
    known.use(m.file);
  } else if (m.t === "credit") {
    credit = m.set;
    wake?.();
  } else if (m.t === "ack") {
    credit += m.n;
    wake?.();
  } else if (m.t === "cancel") {
    const j = current?.id === m.job ? current : queue.find((x) => x.id === m.job);
    if (j) {
      j.cancelled = true;
      wake?.();
    }
  }
});

async function runQueue(): Promise<void> {
  running = true;
  try {
    for (let job = queue.shift(); job !== undefined; job = queue.shift()) {
      if (job.cancelled) continue;
      current = job;
      await run(job);
    }
  } finally {
    current = undefined;
    running = false;
  }
}

async function run(job: Job): Promise<void> {
  // the file's last message (none when it was cancelled), posted once the look-ups'
  // connection is closed: the loader cannot end the file, and so close its store, before
  // this thread's connection is gone
  let last: FromWorker | undefined;
  try {
    // a small file is read once, for its hash and its lines
    // one file at a time: its bytes are read into this thread's buffer, used until the next file
    const bytes = await readSmallFile(job.path, undefined, smallFileBuffer);
    if (job.hash) {
      const { sha256, size } = bytes !== undefined ? hashBytes(bytes) : await hashFile(job.path);
      if (job.cancelled) return;
      post({ t: "hash", job: job.id, sha256, size });
    }
    const st = job.stripe;
    const keepLine = st === undefined ? undefined : (lineNo: number) => (lineNo - 1) % st.of === st.at;
    for await (const ev of parseEvents(job.path, 0, undefined, (_entry, sha256) => known.has(sha256), bytes, keepLine)) {
      while (credit <= 0 && !job.cancelled) await new Promise<void>((r) => (wake = r));
      wake = undefined;
      if (job.cancelled) return;
      credit--;
      post({ t: "event", job: job.id, ev });
    }
    last = { t: "end", job: job.id };
  } catch {
    // the loader reads the file itself (where an error of the file itself shows up again)
    last = { t: "fatal", job: job.id };
  } finally {
    known.close();
    if (last) post(last);
  }
}
