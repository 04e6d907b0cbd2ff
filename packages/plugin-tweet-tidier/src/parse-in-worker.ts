import { existsSync } from "node:fs";
import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { parseEvents, type ParseEvent } from "./parse-events.js";
import { canStripe, hashFile } from "./read-raw.js";
import { setFileId } from "./page-columns.js";

const WORKER_URL = new URL("./internal/parse-worker.js", import.meta.url);

/** True when the compiled parse worker is available (not when running from sources). */
export const workerAvailable = (): boolean => existsSync(fileURLToPath(WORKER_URL));

/**
 * Parsed events the worker may have in flight (posted, not yet taken by the loader), over
 * all the files it is reading ahead: bounds memory whatever the file sizes.
 */
const WINDOW = 24;

/** A share of a plain file's lines: those whose (lineNo - 1) % of === at. */
export interface Stripe {
  of: number;
  at: number;
}

/** A plain file of at least this many bytes is shared line by line between the parse threads; smaller files alternate between them. */
export const STRIPE_MIN_BYTES = 4 << 20;

/**
 * Parse threads for a batch of `bytes`: parsing a page into rows costs ~1.3x its inserts,
 * so with one parse thread the writer waits for it. Two when the writer and both parse
 * threads can each have a core (three cores or more); on two cores a second parse thread
 * measured no faster and took ~0.5 s more CPU on 163 MB (the cores were already busy).
 * UJR_TIDY_PARSE_THREADS overrides (1 to 8).
 */
export function parseThreads(bytes: number): number {
  const env = Number(process.env.UJR_TIDY_PARSE_THREADS);
  if (Number.isInteger(env) && env >= 1 && env <= 8) return env;
  return bytes >= STRIPE_MIN_BYTES && availableParallelism() >= 3 ? 2 : 1;
}

export type FromWorker =
  | { t: "hash"; job: number; sha256: string; size: number }
  | { t: "event"; job: number; ev: ParseEvent }
  | { t: "end"; job: number }
  | { t: "fatal"; job: number };

/** One raw file as the loader consumes it: its hash first, then its parsed lines. */
export interface FileFeed {
  readonly path: string;
  /**
   * The file as stated before any of it was read (set by ingestAll): its size, and its
   * modification time in microseconds when it may be recorded (see recordedMtime).
   */
  stated?: { size: number; mtimeUs: number | null };
  /** SHA-256 and size of the file's bytes. */
  hash(signal?: AbortSignal): Promise<{ sha256: string; size: number }>;
  /**
   * The file's events in order, with source_file_id set to `fileId`; iterate once.
   * `skipMember`: the loader's verdict on an archive member it has just taken the `member`
   * event of (see parseEvents); a parse thread ahead of the loader asks the database itself.
   */
  events(fileId: number, signal?: AbortSignal, skipMember?: (entry: string) => boolean): AsyncGenerator<ParseEvent>;
  /** The loader needs no more of this file (loaded before, failed, or done). */
  cancel(): void;
}

/**
 * The events of a file after its first `yielded`, read and parsed in this thread: the rest
 * of a file whose worker failed (an error of the file itself shows up again here).
 */
async function* restHere(path: string, fileId: number, yielded: number, signal?: AbortSignal, skipMember?: (entry: string) => boolean): AsyncGenerator<ParseEvent> {
  let n = 0;
  for await (const ev of parseEvents(path, fileId, signal, skipMember)) if (n++ >= yielded) yield ev;
}

/** A file read and parsed in this thread. */
export function localFeed(path: string): FileFeed {
  return {
    path,
    hash: (signal) => hashFile(path, signal),
    events: (fileId, signal, skipMember) => parseEvents(path, fileId, signal, skipMember),
    cancel() {},
  };
}

interface JobState {
  id: number;
  path: string;
  queue: FromWorker[];
  hash?: { sha256: string; size: number } | undefined;
  wake?: (() => void) | undefined;
  /** The worker failed (error, exit, fatal): the rest is read here. */
  failed: boolean;
  done: boolean;
}

const idle: ParseWorker[] = [];

/**
 * An idle parse worker's thread is stopped after this long unused. Batches that follow one
 * another take it warm; a continuous job between its checks would otherwise keep the thread's
 * heap of its last load (~40 MB after the bench's 163 MB) for as long as it runs. The next
 * check that finds enough to parse warms a fresh one (~65 ms of a thread's start).
 */
export const PARSE_WORKER_IDLE_MS = 60_000;
let idleTimer: NodeJS.Timeout | undefined;

/** (Re)starts the countdown after which the idle workers' threads stop. */
function stopIdleLater(): void {
  clearTimeout(idleTimer);
  if (idle.length === 0) return;
  idleTimer = setTimeout(() => {
    idleTimer = undefined;
    for (const w of idle.splice(0)) void w.close();
  }, PARSE_WORKER_IDLE_MS);
  // the countdown does not keep the process alive (nor do the threads: see spawn)
  idleTimer.unref();
}

/** How many parse workers are idle (warm, waiting for a batch). */
export function idleParseWorkers(): number {
  return idle.length;
}

/** `n` parse workers: idle ones of this thread first. Give them back with releaseParseWorkers. */
export function acquireParseWorkers(n: number): ParseWorker[] {
  const ws = Array.from({ length: n }, () => idle.pop() ?? new ParseWorker());
  if (idle.length === 0) clearTimeout(idleTimer);
  return ws;
}

/**
 * Starts a parse worker's thread ahead of a batch that will want one (see worthParseWorker),
 * unless one is idle:
 * its start (~50 ms for the thread, ~15 ms for its modules) then overlaps the work before
 * the batch (listing the files, opening the store) instead of delaying the first file.
 * The thread does not keep the process alive; the next acquireParseWorkers takes it.
 */
export function prewarmParseWorker(): void {
  if (idle.length > 0 || !workerAvailable()) return;
  const w = new ParseWorker();
  w.warm();
  idle.push(w);
  stopIdleLater();
}

/**
 * Keeps the idle workers a next batch can use (warm; their threads do not keep the process
 * alive) for PARSE_WORKER_IDLE_MS; closes others.
 */
export function releaseParseWorkers(ws: readonly ParseWorker[]): void {
  for (const w of ws) {
    w.cancelAll();
    if (idle.length < ws.length && w.reusable()) idle.push(w);
    else void w.close();
  }
  stopIdleLater();
}

/**
 * The feeds of a batch's files over its parse workers, in the batch's order: a plain file of
 * STRIPE_MIN_BYTES or more is shared line by line by every worker; other files go to the
 * workers in turn (each reads ahead its next files).
 */
export function workerFeeds(workers: readonly ParseWorker[], files: readonly { path: string; size: number }[], knownIn?: string): FileFeed[] {
  for (const w of workers) w.begin(knownIn);
  let turn = 0;
  return files.map(({ path, size }) =>
    workers.length > 1 && size >= STRIPE_MIN_BYTES && canStripe(path)
      ? stripedFeed(workers.map((w, at) => w.open(path, { of: workers.length, at }, at === 0)), path)
      : workers[turn++ % workers.length]!.feed(path),
  );
}

const aborted = () => Object.assign(new Error("aborted"), { name: "AbortError" });

/** One file (or one share of its lines) as one worker reads it: its messages, as they arrive. */
class FileJob {
  constructor(
    private readonly owner: ParseWorker,
    readonly st: JobState,
  ) {}

  private async wait(signal?: AbortSignal): Promise<void> {
    const st = this.st;
    if (signal?.aborted) throw aborted();
    const onAbort = () => st.wake?.();
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      await new Promise<void>((r) => (st.wake = r));
    } finally {
      st.wake = undefined;
      signal?.removeEventListener("abort", onAbort);
    }
    if (signal?.aborted) throw aborted();
  }

  /** The file's hash: from the worker, else (it failed) computed here. */
  async hash(signal?: AbortSignal): Promise<{ sha256: string; size: number }> {
    const st = this.st;
    while (!st.hash && !st.failed) {
      const m = st.queue[0];
      if (m?.t === "hash") {
        st.queue.shift();
        st.hash = { sha256: m.sha256, size: m.size };
        break;
      }
      if (m?.t === "fatal") {
        st.failed = true;
        break;
      }
      await this.wait(signal);
    }
    return st.hash ?? (st.hash = await hashFile(st.path, signal));
  }

  /** The next event or end (not taken), waiting for it; undefined once the worker failed. */
  async peek(signal?: AbortSignal): Promise<Extract<FromWorker, { t: "event" | "end" }> | undefined> {
    const st = this.st;
    for (;;) {
      if (st.failed) return undefined;
      const m = st.queue[0];
      if (m === undefined) await this.wait(signal);
      else if (m.t === "hash") {
        st.queue.shift();
        st.hash ??= { sha256: m.sha256, size: m.size };
      } else if (m.t === "fatal") st.failed = true;
      else return m;
    }
  }

  /** Takes the message peek returned (an event's credit goes back to the worker). */
  take(): void {
    if (this.st.queue.shift()?.t === "event") this.owner.ack(1);
  }

  finish(): void {
    this.owner.finish(this.st);
  }
}

/** A file shared line by line by several workers: their events merged back in line order (the loader numbers the pages, see ingest.ts). */
function stripedFeed(jobs: FileJob[], path: string): FileFeed {
  const finish = () => {
    for (const j of jobs) j.finish();
  };
  return {
    path,
    hash: (signal) => jobs[0]!.hash(signal),
    async *events(fileId, signal, skipMember) {
      let yielded = 0;
      let failed = false;
      try {
        const ended = jobs.map(() => false);
        // the next line of the file, and the worker whose share it is
        for (let line = 1; ended.includes(false); line++) {
          const k = (line - 1) % jobs.length;
          if (ended[k]) continue;
          const m = await jobs[k]!.peek(signal);
          if (m === undefined) {
            failed = true;
            break;
          }
          if (m.t === "end") {
            jobs[k]!.take();
            ended[k] = true;
            continue;
          }
          const ev = m.ev;
          if (ev.lineNo > line) continue; // a blank line
          // a share that could not be read to its end (or out of order, never expected): the rest is read here
          if (ev.lineNo < line || (ev.t === "error" && ev.code === "UJR_TIDY_READ_FAILED")) {
            failed = true;
            break;
          }
          jobs[k]!.take();
          ev.index = yielded++;
          setFileId(ev, fileId);
          yield ev;
        }
        if (!failed) return;
        finish();
        yield* restHere(path, fileId, yielded, signal, skipMember);
      } finally {
        finish();
      }
    },
    cancel: finish,
  };
}

/**
 * A worker thread that hashes, reads and JSON-parses raw files into rows, ahead of the
 * loader and in order, so that the loader's thread only writes rows: parsing file N+1
 * while file N is written keeps the cores busy whatever the file sizes. At most WINDOW
 * parsed lines are in flight over all its files. Its thread does not keep the process alive
 * while idle. Should it fail, the loader reads the rest of each file itself.
 */
export class ParseWorker {
  private worker: Worker | undefined;
  private readonly jobs = new Map<number, JobState>();
  private nextId = 1;

  /** Starts the thread (idle, not keeping the process alive) if it has none. */
  warm(): void {
    this.spawn();
  }

  /** Starts a batch: the thread (if none), its credit, and the database it may look archive members up in. */
  begin(knownIn?: string): void {
    const w = this.spawn();
    w.ref();
    w.postMessage({ t: "credit", set: WINDOW });
    w.postMessage({ t: "known", file: knownIn });
  }

  /** Queues a file (or a share of its lines; `hash`: post its hash first) after the others of the batch. */
  open(path: string, stripe?: Stripe, hash = true): FileJob {
    const st: JobState = { id: this.nextId++, path, queue: [], failed: this.worker === undefined, done: false };
    this.jobs.set(st.id, st);
    this.worker?.postMessage({ t: "start", job: st.id, path, stripe, hash });
    return new FileJob(this, st);
  }

  /** A whole file read by this worker. */
  feed(path: string): FileFeed {
    const job = this.open(path);
    const st = job.st;
    return {
      path,
      hash: (signal) => job.hash(signal),
      async *events(fileId, signal, skipMember) {
        let yielded = 0;
        try {
          for (;;) {
            const m = await job.peek(signal);
            if (m === undefined) break;
            job.take();
            if (m.t === "end") return;
            if (m.ev.index !== yielded) {
              st.failed = true; // never expected: events come in order, without gaps
              break;
            }
            setFileId(m.ev, fileId);
            yielded++;
            yield m.ev;
          }
          // the worker failed: the rest is read here
          job.finish();
          yield* restHere(path, fileId, yielded, signal, skipMember);
        } finally {
          job.finish();
        }
      },
      cancel: () => job.finish(),
    };
  }

  /** @internal gives back the credit of `n` events taken. */
  ack(n: number): void {
    if (n > 0) this.worker?.postMessage({ t: "ack", n });
  }

  /** @internal the loader needs no more of this job. */
  finish(st: JobState): void {
    if (st.done) return;
    st.done = true;
    this.jobs.delete(st.id);
    this.worker?.postMessage({ t: "cancel", job: st.id });
    // give back the credit of the events it will never take
    this.ack(st.queue.filter((m) => m.t === "event").length);
    st.queue.length = 0;
    if (this.jobs.size === 0) this.worker?.unref();
  }

  /** Cancels every unfinished file (the end of a batch). */
  cancelAll(): void {
    for (const st of [...this.jobs.values()]) this.finish(st);
  }

  /** True when idle with a live thread. */
  reusable(): boolean {
    return this.worker !== undefined && this.jobs.size === 0;
  }

  private spawn(): Worker {
    if (this.worker) return this.worker;
    const w = new Worker(WORKER_URL);
    w.unref();
    this.worker = w;
    w.on("message", (m: FromWorker) => {
      if (this.worker !== w) return;
      const st = this.jobs.get(m.job);
      if (!st) {
        if (m.t === "event") this.ack(1); // a cancelled file's event, posted before the cancel arrived
        return;
      }
      st.queue.push(m);
      st.wake?.();
    });
    const gone = () => {
      if (this.worker === w) {
        this.worker = undefined;
        this.failJobs();
      }
    };
    w.on("error", gone);
    w.on("exit", gone);
    return w;
  }

  /** The worker is gone: the loader reads the rest of each file itself. */
  private failJobs(): void {
    for (const st of this.jobs.values()) {
      st.failed = true;
      st.wake?.();
    }
  }

  /** Stops the worker thread (a later batch starts a new one). */
  async close(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    this.failJobs();
    if (w) await w.terminate();
  }
}
