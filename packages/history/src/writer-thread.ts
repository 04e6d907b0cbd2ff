import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";
import type Database from "better-sqlite3";
import { WRITE_SQL, type WriteSet } from "./batches.js";

const prepared = new WeakMap<Database.Database, Record<keyof typeof WRITE_SQL, Database.Statement>>();

/** Writes a WriteSet in one transaction (inline writer; the thread below does the same). */
export function writeInline(db: Database.Database, set: WriteSet): void {
  let statements = prepared.get(db);
  if (!statements) {
    statements = Object.fromEntries(Object.entries(WRITE_SQL).map(([name, sql]) => [name, db.prepare(sql)])) as Record<keyof typeof WRITE_SQL, Database.Statement>;
    prepared.set(db, statements);
  }
  db.transaction(() => {
    for (const b of set.batches) statements.batch.run(b.job, b.host, b.pid, b.firstAt, b.lastAt, b.runs, b.done, b.failures, b.rows);
    for (const s of set.stats) statements.stats.run(s.job, s.plugin, s.jobType, s.runs, s.done, s.failures, s.lastRunAt, s.lastSuccessAt, s.lastFailureAt, s.lastFailureCode, s.lastFailureMessage);
    for (const h of set.hourly) statements.hourly.run(h.hour, h.job, h.runs, h.failures);
    for (const r of set.running) statements.running.run(r.runId, r.job, r.host, r.pid, r.row);
    for (const id of set.settled) statements.settled.run(id);
    for (const e of set.events) statements.event.run(e);
  })();
}

/**
 * The history's writer: a worker thread with its own SQLite connection, so that writing a
 * batch never takes the runner's thread. Plain CommonJS evaluated in the worker: it runs
 * the same from the sources (tests) and the build.
 */
const source = `
const { parentPort, workerData } = require("node:worker_threads");
const Database = require(workerData.sqlite);
const db = new Database(workerData.file);
db.pragma("busy_timeout = 5000");
db.pragma("synchronous = NORMAL");
const st = {};
for (const [name, sql] of Object.entries(workerData.sql)) st[name] = db.prepare(sql);
const write = db.transaction((set) => {
  for (const b of set.batches) st.batch.run(b.job, b.host, b.pid, b.firstAt, b.lastAt, b.runs, b.done, b.failures, b.rows);
  for (const s of set.stats) st.stats.run(s.job, s.plugin, s.jobType, s.runs, s.done, s.failures, s.lastRunAt, s.lastSuccessAt, s.lastFailureAt, s.lastFailureCode, s.lastFailureMessage);
  for (const h of set.hourly) st.hourly.run(h.hour, h.job, h.runs, h.failures);
  for (const r of set.running) st.running.run(r.runId, r.job, r.host, r.pid, r.row);
  for (const id of set.settled) st.settled.run(id);
  for (const e of set.events) st.event.run(e);
});
parentPort.on("message", (message) => {
  if (message.type === "batch") {
    try {
      write(message.set);
      parentPort.postMessage({ type: "written", seq: message.seq });
    } catch (error) {
      const set = message.set;
      parentPort.postMessage({ type: "failed", seq: message.seq, runs: set.batches.reduce((n, b) => n + b.runs, 0), events: set.events.length, message: String((error && error.message) || error) });
    }
  } else if (message.type === "close") {
    db.close();
    parentPort.postMessage({ type: "closed" });
  }
});
`;

export interface WriterThread {
  /** Sends a write set; resolves once written (or its loss reported). */
  write(set: WriteSet): Promise<void>;
  /** Resolves when every set sent so far is written. */
  idle(): Promise<void>;
  close(): Promise<void>;
}

export function startWriterThread(file: string, onFailure: (failure: { runs: number; events: number; message: string }) => void): WriterThread {
  const sqlite = createRequire(import.meta.url).resolve("better-sqlite3");
  const worker = new Worker(source, { eval: true, workerData: { file, sqlite, sql: WRITE_SQL } });
  // A batch in flight must not keep a finished process alive: close() waits for it.
  worker.unref();
  let seq = 0;
  const waiting = new Map<number, Array<() => void>>();
  let closed: (() => void) | undefined;
  let crashed: Error | undefined;
  const release = (id: number) => {
    for (const resolve of waiting.get(id) ?? []) resolve();
    waiting.delete(id);
  };
  worker.on("message", (message: { type: string; seq?: number; runs?: number; events?: number; message?: string }) => {
    if (message.type === "failed") onFailure({ runs: message.runs ?? 0, events: message.events ?? 0, message: message.message ?? "" });
    if (message.seq !== undefined) release(message.seq);
    if (message.type === "closed") closed?.();
  });
  worker.on("error", (error) => {
    crashed = error;
    onFailure({ runs: -1, events: -1, message: error.message });
    for (const id of [...waiting.keys()]) release(id);
    closed?.();
  });
  return {
    write(set) {
      if (crashed) {
        onFailure({ runs: set.batches.reduce((n, b) => n + b.runs, 0), events: set.events.length, message: `the writer thread stopped: ${crashed.message}` });
        return Promise.resolve();
      }
      const id = ++seq;
      const done = new Promise<void>((resolve) => waiting.set(id, [resolve]));
      worker.postMessage({ type: "batch", seq: id, set });
      return done;
    },
    async idle() {
      await Promise.all([...waiting.keys()].map((id) => new Promise<void>((resolve) => waiting.get(id)?.push(resolve))));
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
