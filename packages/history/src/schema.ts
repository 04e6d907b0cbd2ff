import type Database from "better-sqlite3";
import { historyError } from "./errors.js";

/** Version of the tables below (PRAGMA user_version). */
export const HISTORY_SCHEMA_VERSION = 1;

const ddl = `
CREATE TABLE IF NOT EXISTS runs (
  id INTEGER PRIMARY KEY,
  run_id TEXT NOT NULL,
  attempt INTEGER NOT NULL,
  job TEXT NOT NULL,
  plugin TEXT,
  job_type TEXT,
  task TEXT NOT NULL,
  signature TEXT,
  queued_at INTEGER,
  started_at INTEGER,
  ended_at INTEGER,
  outcome TEXT NOT NULL,
  code TEXT,
  message TEXT,
  duration_ms INTEGER,
  host TEXT,
  pid INTEGER,
  progress TEXT
);
-- The only index on runs: each one costs every insert (bench/runner.mjs prints the price).
CREATE INDEX IF NOT EXISTS runs_job ON runs (job, id);
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
