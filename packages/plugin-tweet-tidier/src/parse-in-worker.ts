import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import type { ParseEvent } from "./parse-events.js";
import { PAGE_TABLES, type PageTable } from "./parse-page.js";
import { insertColumns, table } from "./schema.js";

const WORKER_URL = new URL("./internal/parse-worker.js", import.meta.url);

/** True when the compiled parse worker is available (not when running from sources). */
export const workerAvailable = (): boolean => existsSync(fileURLToPath(WORKER_URL));

/** Events a job may have in flight (parsed by the worker, not yet taken by the loader): bounds memory. */
const WINDOW = 16;

const columnIndex = (t: string, name: string): number => insertColumns(table(t)).findIndex((c) => c.name === name);
/** Row columns holding source_file_id, and page_no, by table. */
const FILE_ID_COLUMNS = PAGE_TABLES.map((t): [PageTable, number] => [t, columnIndex(t, "source_file_id")]).filter(([, i]) => i >= 0);
const PAGE_NO_COLUMNS = PAGE_TABLES.map((t): [PageTable, number] => [t, columnIndex(t, "page_no")]).filter(([, i]) => i >= 0);
const PAGE_FILE_ID = columnIndex("pages", "source_file_id");
const PAGE_PAGE_NO = columnIndex("pages", "page_no");
const SIDECAR_FILE_ID = columnIndex("resolved_urls", "source_file_id");

/** Sets the file id and page number in the rows of an event parsed by the worker. */
function setIds(ev: ParseEvent, fileId: number, pageNo: number): void {
  if (ev.t === "page") {
    const p = ev.parsed;
    p.page[PAGE_FILE_ID] = fileId;
    p.page[PAGE_PAGE_NO] = pageNo;
    for (const [t, i] of FILE_ID_COLUMNS) {
      const rs = p.rows[t];
      for (let k = 0; k < rs.length; k++) rs[k]![i] = fileId;
    }
    for (const [t, i] of PAGE_NO_COLUMNS) {
      const rs = p.rows[t];
      for (let k = 0; k < rs.length; k++) rs[k]![i] = pageNo;
    }
  } else if (ev.t === "sidecar") {
    ev.row[SIDECAR_FILE_ID] = fileId;
  }
}

type FromWorker =
  | { t: "event"; job: number; ev: ParseEvent }
  | { t: "end"; job: number }
  | { t: "fatal"; job: number };

/** A file being read and parsed by a ParseWorker. */
export interface ParseJob {
  /**
   * The file's events in order, with source_file_id set to `fileId`; iterate once.
   *
   * `local()` parses the same file in this thread (parseEvents). Its events are used until
   * the worker has caught up (while the worker's thread starts, and at the start of each
   * file), so that this thread never waits idle for the first pages; the worker's copies
   * of them are dropped. Should the worker fail, the rest of the file is parsed locally.
   */
  events(fileId: number, local: () => AsyncGenerator<ParseEvent>, signal?: AbortSignal): AsyncGenerator<ParseEvent>;
  /** Stops the job (the worker discards the rest of the file). */
  cancel(): void;
}

interface JobState {
  id: number;
  queue: FromWorker[];
  /** Shared with the worker: [0] = events parsed here, which the worker passes over. */
  progress: Int32Array;
  wake?: (() => void) | undefined;
  /** The worker failed (error, exit, fatal): the rest is parsed locally. */
  failed: boolean;
  ended: boolean;
  done: boolean;
}

const idle: ParseWorker[] = [];

/** A parse worker for one file: an idle one of this thread, else a new one. Give it back with releaseParseWorker. */
export function acquireParseWorker(): ParseWorker {
  return idle.pop() ?? new ParseWorker();
}

/** Keeps one idle worker (warm, for the next file; its thread does not keep the process alive); closes others. */
export function releaseParseWorker(w: ParseWorker): void {
  if (idle.length === 0 && w.reusable()) idle.push(w);
  else void w.close();
}

const aborted = () => Object.assign(new Error("aborted"), { name: "AbortError" });

/**
 * A worker thread that reads and JSON-parses raw files into rows, so that the loader's
 * thread only writes them: both run in parallel. Its thread starts with the first job and
 * serves one job at a time; it does not keep the process alive while idle.
 */
export class ParseWorker {
  private worker: Worker | undefined;
  private job: JobState | undefined;
  private nextId = 1;

  /** Starts reading and parsing `path` at once, before the file has an id (see `events`). */
  start(path: string): ParseJob {
    if (this.job && !this.job.done) throw new Error("ParseWorker: one file at a time");
    const w = this.spawn();
    const progress = new Int32Array(new SharedArrayBuffer(4));
    const st: JobState = { id: this.nextId++, queue: [], progress, failed: false, ended: false, done: false };
    this.job = st;
    w.ref();
    w.postMessage({ t: "start", job: st.id, path, window: WINDOW, progress });
    const finish = () => {
      if (st.done) return;
      st.done = true;
      if (!st.ended) this.worker?.postMessage({ t: "cancel", job: st.id });
      if (this.job === st) this.worker?.unref();
    };
    const self = this;
    return {
      async *events(fileId: number, local: () => AsyncGenerator<ParseEvent>, signal?: AbortSignal) {
        const onAbort = () => st.wake?.();
        signal?.addEventListener("abort", onAbort, { once: true });
        const ack = () => self.worker?.postMessage({ t: "ack", job: st.id, n: 1 });
        /** Events yielded so far, and pages among them. */
        let yielded = 0;
        let pages = 0;
        let here: AsyncGenerator<ParseEvent> | undefined = local();
        try {
          // head start: parse here until the worker is ahead
          for (;;) {
            for (let m = st.queue[0]; m?.t === "event" && m.ev.index < yielded; m = st.queue[0]) {
              st.queue.shift(); // already parsed here
              ack();
            }
            if (st.queue.length > 0 && !st.failed) break;
            const r = await here.next();
            if (r.done) return; // the whole file was parsed here
            Atomics.store(st.progress, 0, ++yielded);
            if (r.value.t === "page") pages++;
            yield r.value;
            // let the worker's messages in (the lines of one read chunk do not yield to the event loop)
            await new Promise<void>((res) => setImmediate(res));
          }
          await here.return(undefined);
          here = undefined;
          // the worker's events
          for (;;) {
            if (signal?.aborted) throw aborted();
            const m = st.queue.shift();
            if (m === undefined) {
              if (st.failed) break;
              await new Promise<void>((r) => (st.wake = r));
              st.wake = undefined;
              continue;
            }
            if (m.t === "end") {
              st.ended = true;
              return;
            }
            if (m.t === "fatal") {
              st.failed = true;
              break;
            }
            ack();
            if (m.ev.index < yielded) continue;
            if (m.ev.index > yielded) {
              st.failed = true; // never expected: events come in order, without gaps
              break;
            }
            if (m.ev.t === "page") pages++;
            setIds(m.ev, fileId, pages);
            yielded++;
            yield m.ev;
          }
          // the worker failed: parse the rest here (an error of the file itself shows up again here)
          here = local();
          let n = 0;
          for await (const ev of here) if (n++ >= yielded) yield ev;
        } finally {
          signal?.removeEventListener("abort", onAbort);
          await here?.return(undefined);
          finish();
        }
      },
      cancel: finish,
    };
  }

  /** True when idle with a live thread. */
  reusable(): boolean {
    return this.worker !== undefined && (this.job === undefined || this.job.done);
  }

  private spawn(): Worker {
    if (this.worker) return this.worker;
    const w = new Worker(WORKER_URL);
    w.unref();
    this.worker = w;
    w.on("message", (m: FromWorker) => {
      const st = this.worker === w ? this.job : undefined;
      if (!st || st.id !== m.job || st.done) return;
      st.queue.push(m);
      st.wake?.();
    });
    const gone = () => {
      if (this.worker === w) {
        this.worker = undefined;
        this.failJob();
      }
    };
    w.on("error", gone);
    w.on("exit", gone);
    return w;
  }

  /** The running job's worker is gone: its loader parses the rest itself. */
  private failJob(): void {
    const st = this.job;
    if (st && !st.done) {
      st.failed = true;
      st.wake?.();
    }
  }

  /** Stops the worker thread (a later job starts a new one). */
  async close(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    this.failJob();
    if (w) await w.terminate();
  }
}
