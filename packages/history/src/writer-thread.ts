import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";

/**
 * The history's writer: a worker thread with its own SQLite connection, so that inserting
 * a batch never takes the runner's thread. It gets each batch as one JSON string (cheaper
 * to send than structured objects) and writes it in one transaction.
 *
 * Plain CommonJS evaluated in the worker: it runs the same from the sources (tests) and
 * the build.
 */
const source = `
const { parentPort, workerData } = require("node:worker_threads");
const Database = require(workerData.sqlite);
const db = new Database(workerData.file);
db.pragma("busy_timeout = 5000");
db.pragma("synchronous = NORMAL");
const columns = workerData.columns;
const marks = columns.split(",").map(() => "?").join(", ");
const putRun = db.prepare("INSERT OR REPLACE INTO runs (id, " + columns + ") VALUES (?, " + marks + ")");
const putEvent = db.prepare("INSERT INTO job_events (at, job, event, code, message) VALUES (?, ?, ?, ?, ?)");
const write = db.transaction((runs, events) => {
  for (const row of runs) putRun.run(row);
  for (const row of events) putEvent.run(row);
});
parentPort.on("message", (message) => {
  if (message.type === "batch") {
    const runs = JSON.parse(message.runs);
    const events = JSON.parse(message.events);
    try {
      write(runs, events);
      parentPort.postMessage({ type: "written", seq: message.seq });
    } catch (error) {
      parentPort.postMessage({ type: "failed", seq: message.seq, runs: runs.length, events: events.length, message: String(error && error.message || error) });
    }
  } else if (message.type === "close") {
    db.close();
    parentPort.postMessage({ type: "closed" });
  }
});
`;

export interface WriterThread {
  /** Sends a batch (rows as positional parameters); resolves once written (or its loss logged). */
  write(runs: unknown[][], events: unknown[][]): Promise<void>;
  /** Resolves when every batch sent so far is written. */
  idle(): Promise<void>;
  close(): Promise<void>;
}

export function startWriterThread(file: string, columns: string, onFailure: (failure: { runs: number; events: number; message: string }) => void): WriterThread {
  const sqlite = createRequire(import.meta.url).resolve("better-sqlite3");
  const worker = new Worker(source, { eval: true, workerData: { file, sqlite, columns } });
  // A batch in flight must not keep a finished process alive: close() waits for it.
  worker.unref();
  let seq = 0;
  const waiting = new Map<number, () => void>();
  let closed: (() => void) | undefined;
  let crashed: Error | undefined;
  worker.on("message", (message: { type: string; seq?: number; runs?: number; events?: number; message?: string }) => {
    if (message.type === "failed") onFailure({ runs: message.runs ?? 0, events: message.events ?? 0, message: message.message ?? "" });
    if (message.seq !== undefined) {
      waiting.get(message.seq)?.();
      waiting.delete(message.seq);
    }
    if (message.type === "closed") closed?.();
  });
  worker.on("error", (error) => {
    crashed = error;
    onFailure({ runs: -1, events: -1, message: error.message });
    for (const resolve of waiting.values()) resolve();
    waiting.clear();
    closed?.();
  });
  return {
    write(runs, events) {
      if (crashed) {
        onFailure({ runs: runs.length, events: events.length, message: `the writer thread stopped: ${crashed.message}` });
        return Promise.resolve();
      }
      const id = ++seq;
      const done = new Promise<void>((resolve) => waiting.set(id, resolve));
      worker.postMessage({ type: "batch", seq: id, runs: JSON.stringify(runs), events: JSON.stringify(events) });
      return done;
    },
    async idle() {
      await Promise.all([...waiting.keys()].map((key) => new Promise<void>((resolve) => {
        const previous = waiting.get(key);
        waiting.set(key, () => {
          previous?.();
          resolve();
        });
      })));
    },
    async close() {
      if (crashed) return;
      await this.idle();
      await new Promise<void>((resolve) => {
        closed = resolve;
        worker.postMessage({ type: "close" });
      });
      await worker.terminate();
    },
  };
}
