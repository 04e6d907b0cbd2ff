import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";
import type Database from "better-sqlite3";
import { WRITE_SQL, type WriteSet } from "./batches.js";

const prepared = new WeakMap<Database.Database, Record<keyof typeof WRITE_SQL, Database.Statement>>();

/**
 * Writes the sets in order, one transaction each, until one fails: how many were written,
 * and why the next one was not (the sets not written stay with the caller, to try again).
 */
export function writeSetsInline(db: Database.Database, sets: readonly WriteSet[]): WriteResult {
  let written = 0;
  for (const set of sets) {
    try {
      writeInline(db, set);
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      return { written, reason: (error as Error).message, ...(typeof code === "string" ? { code } : {}) };
    }
    written++;
  }
  return { written };
}

/** How many sets of a write were written; for the first that was not, why (SQLite's code and message). */
export interface WriteResult {
  written: number;
  reason?: string;
  code?: string;
}

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
  if (message.type === "sets") {
    let written = 0;
    let reason;
    let code;
    for (const set of message.sets) {
      try {
        write(set);
      } catch (error) {
        reason = String((error && error.message) || error);
        code = error && typeof error.code === "string" ? error.code : undefined;
        break;
      }
      written++;
    }
    parentPort.postMessage({ type: "written", seq: message.seq, written, reason, code });
  } else if (message.type === "close") {
    db.close();
    parentPort.postMessage({ type: "closed" });
  }
});
`;

export interface WriterThread {
  /** Sends write sets, written in order as writeSetsInline does; resolves with what it answers. */
  write(sets: readonly WriteSet[]): Promise<WriteResult>;
  close(): Promise<void>;
}

export function startWriterThread(file: string): WriterThread {
  const sqlite = createRequire(import.meta.url).resolve("better-sqlite3");
  const worker = new Worker(source, { eval: true, workerData: { file, sqlite, sql: WRITE_SQL } });
  // A batch in flight must not keep a finished process alive: close() waits for it.
  worker.unref();
  let seq = 0;
  const waiting = new Map<number, (result: WriteResult) => void>();
  let closed: (() => void) | undefined;
  let crashed: Error | undefined;
  worker.on("message", (message: { type: string; seq?: number; written?: number; reason?: string; code?: string }) => {
    if (message.type === "written" && message.seq !== undefined) {
      const { written = 0, reason, code } = message;
      waiting.get(message.seq)?.({ written, ...(reason !== undefined ? { reason } : {}), ...(code !== undefined ? { code } : {}) });
      waiting.delete(message.seq);
    }
    if (message.type === "closed") closed?.();
  });
  worker.on("error", (error) => {
    crashed = error;
    for (const [id, resolve] of waiting) {
      resolve({ written: 0, reason: `the writer thread stopped: ${error.message}` });
      waiting.delete(id);
    }
    closed?.();
  });
  return {
    write(sets) {
      if (crashed) return Promise.resolve({ written: 0, reason: `the writer thread stopped: ${crashed.message}` });
      const id = ++seq;
      const done = new Promise<WriteResult>((resolve) => waiting.set(id, resolve));
      worker.postMessage({ type: "sets", seq: id, sets });
      return done;
    },
    async close() {
      if (crashed) return;
      // the thread answers its messages in order: sets sent before are answered before "closed"
      await new Promise<void>((resolve) => {
        closed = resolve;
        worker.postMessage({ type: "close" });
      });
      await worker.terminate();
    },
  };
}
