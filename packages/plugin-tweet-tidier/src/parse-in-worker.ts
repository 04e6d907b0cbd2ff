import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { parseEvents, type ParseEvent } from "./parse-events.js";
import { PAGE_TABLES, type PageTable } from "./parse-page.js";
import { hashFile } from "./read-raw.js";
import { insertColumns, table } from "./schema.js";

const WORKER_URL = new URL("./internal/parse-worker.js", import.meta.url);

/** True when the compiled parse worker is available (not when running from sources). */
export const workerAvailable = (): boolean => existsSync(fileURLToPath(WORKER_URL));

/**
 * Parsed events the worker may have in flight (posted, not yet taken by the loader), over
 * all the files it is reading ahead: bounds memory whatever the file sizes.
 */
const WINDOW = 24;

const columnIndex = (t: string, name: string): number => insertColumns(table(t)).findIndex((c) => c.name === name);
/** Row columns holding source_file_id, by table. */
const FILE_ID_COLUMNS = PAGE_TABLES.map((t): [PageTable, number] => [t, columnIndex(t, "source_file_id")]).filter(([, i]) => i >= 0);
const PAGE_FILE_ID = columnIndex("pages", "source_file_id");
const SIDECAR_FILE_ID = columnIndex("resolved_urls", "source_file_id");

/** Sets the file id in the rows of an event parsed by the worker (which parses before the file is claimed). */
function setFileId(ev: ParseEvent, fileId: number): void {
  if (ev.t === "page") {
    const p = ev.parsed;
    p.page[PAGE_FILE_ID] = fileId;
    for (const [t, i] of FILE_ID_COLUMNS) {
      const rs = p.rows[t];
      for (let k = 0; k < rs.length; k++) rs[k]![i] = fileId;
    }
  } else if (ev.t === "sidecar") {
    ev.row[SIDECAR_FILE_ID] = fileId;
  }
}

export type FromWorker =
  | { t: "hash"; job: number; sha256: string; size: number }
  | { t: "event"; job: number; ev: ParseEvent }
  | { t: "end"; job: number }
  | { t: "fatal"; job: number };

/** One raw file as the loader consumes it: its hash first, then its parsed lines. */
export interface FileFeed {
  readonly path: string;
  /** SHA-256 and size of the file's bytes. */
  hash(signal?: AbortSignal): Promise<{ sha256: string; size: number }>;
  /** The file's events in order, with source_file_id set to `fileId`; iterate once. */
  events(fileId: number, signal?: AbortSignal): AsyncGenerator<ParseEvent>;
  /** The loader needs no more of this file (loaded before, failed, or done). */
  cancel(): void;
}

/** A file read and parsed in this thread. */
export function localFeed(path: string): FileFeed {
  return {
    path,
    hash: (signal) => hashFile(path, signal),
    events: (fileId, signal) => parseEvents(path, fileId, signal),
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

/** A parse worker: an idle one of this thread, else a new one. Give it back with releaseParseWorker. */
export function acquireParseWorker(): ParseWorker {
  return idle.pop() ?? new ParseWorker();
}

/** Keeps one idle worker (warm, for the next batch; its thread does not keep the process alive); closes others. */
export function releaseParseWorker(w: ParseWorker): void {
  w.cancelAll();
  if (idle.length === 0 && w.reusable()) idle.push(w);
  else void w.close();
}

const aborted = () => Object.assign(new Error("aborted"), { name: "AbortError" });

/**
 * A worker thread that hashes, reads and JSON-parses raw files into rows, ahead of the
 * loader and in order, so that the loader's thread only writes rows: parsing file N+1
 * while file N is written keeps both cores busy whatever the file sizes. At most WINDOW
 * parsed lines are in flight over all files. Its thread does not keep the process alive
 * while idle. Should it fail, the loader reads the rest of each file itself.
 */
export class ParseWorker {
  private worker: Worker | undefined;
  private readonly jobs = new Map<number, JobState>();
  private nextId = 1;

  /** Feeds for `paths`, read by the worker in this order (call once per batch). */
  feeds(paths: readonly string[]): FileFeed[] {
    const w = this.spawn();
    w.ref();
    w.postMessage({ t: "credit", set: WINDOW });
    return paths.map((path) => this.feed(w, path));
  }

  private feed(w: Worker, path: string): FileFeed {
    const st: JobState = { id: this.nextId++, path, queue: [], failed: false, done: false };
    this.jobs.set(st.id, st);
    w.postMessage({ t: "start", job: st.id, path });
    const wait = async (signal?: AbortSignal) => {
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
    };
    const self = this;
    return {
      path,
      async hash(signal) {
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
          await wait(signal);
        }
        return st.hash ?? (st.hash = await hashFile(path, signal));
      },
      async *events(fileId, signal) {
        let yielded = 0;
        try {
          while (!st.failed) {
            const m = st.queue.shift();
            if (m === undefined) {
              await wait(signal);
              continue;
            }
            if (m.t === "hash") continue;
            if (m.t === "end") return;
            if (m.t === "fatal") {
              st.failed = true;
              break;
            }
            self.ack(1);
            if (m.ev.index !== yielded) {
              st.failed = true; // never expected: events come in order, without gaps
              break;
            }
            setFileId(m.ev, fileId);
            yielded++;
            yield m.ev;
          }
          // the worker failed: read the rest here (an error of the file itself shows up again here)
          let n = 0;
          for await (const ev of parseEvents(path, fileId, signal)) if (n++ >= yielded) yield ev;
        } finally {
          self.finish(st);
        }
      },
      cancel: () => self.finish(st),
    };
  }

  private ack(n: number): void {
    if (n > 0) this.worker?.postMessage({ t: "ack", n });
  }

  private finish(st: JobState): void {
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
