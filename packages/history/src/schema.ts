import type Database from "better-sqlite3";
import { historyError } from "./errors.js";

/**
 * Version of the tables below (PRAGMA user_version). 2: a batch's `rows` may be packed
 * (packed-rows.ts); version 1 files are opened as they are, their batches still read.
 */
export const HISTORY_SCHEMA_VERSION = 2;

/**
 * Runs are stored in batches: one row per job and written batch, its runs packed in one JSON
 * text (see packed-rows.ts). Writing a run costs a share of one insert instead of an
 * insert and its index updates each; readers expand the batches they need. Per-job totals
 * and per-hour counts are kept beside, updated in the same transaction, so that the
 * dashboard's overview never expands anything.
 */
const ddl = `
CREATE TABLE IF NOT EXISTS run_batches (
  id INTEGER PRIMARY KEY,
  job TEXT NOT NULL,
  host TEXT,
  pid INTEGER,
  first_at INTEGER NOT NULL,
  last_at INTEGER NOT NULL,
  runs INTEGER NOT NULL,
  done INTEGER NOT NULL,
  failures INTEGER NOT NULL,
  rows TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS run_batches_job ON run_batches (job, id);
CREATE TABLE IF NOT EXISTS running_runs (
  run_id TEXT PRIMARY KEY,
  job TEXT NOT NULL,
  host TEXT,
  pid INTEGER,
  row TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS job_stats (
  job TEXT PRIMARY KEY,
  plugin TEXT,
  job_type TEXT,
  runs INTEGER NOT NULL DEFAULT 0,
  done INTEGER NOT NULL DEFAULT 0,
  failures INTEGER NOT NULL DEFAULT 0,
  last_run_at INTEGER,
  last_success_at INTEGER,
  last_failure_at INTEGER,
  last_failure_code TEXT,
  last_failure_message TEXT
);
CREATE TABLE IF NOT EXISTS hourly (
  hour INTEGER NOT NULL,
  job TEXT NOT NULL,
  runs INTEGER NOT NULL,
  failures INTEGER NOT NULL,
  PRIMARY KEY (hour, job)
);
CREATE TABLE IF NOT EXISTS job_events (
  id INTEGER PRIMARY KEY,
  at INTEGER NOT NULL,
  job TEXT NOT NULL,
  event TEXT NOT NULL,
  code TEXT,
  message TEXT
);
CREATE INDEX IF NOT EXISTS job_events_job ON job_events (job, id);
CREATE TABLE IF NOT EXISTS paused_jobs (
  job TEXT PRIMARY KEY,
  at INTEGER NOT NULL
);
`;

/** Creates or checks the tables; a file from a newer ujr is refused, never rewritten. */
export function migrate(db: Database.Database, file: string): void {
  const version = db.pragma("user_version", { simple: true }) as number;
  if (version > HISTORY_SCHEMA_VERSION) throw historyError("UJR_HISTORY_NEWER", { file, actual: version, expected: HISTORY_SCHEMA_VERSION });
  if (version === HISTORY_SCHEMA_VERSION) return;
  db.exec(ddl);
  db.pragma(`user_version = ${HISTORY_SCHEMA_VERSION}`);
}
