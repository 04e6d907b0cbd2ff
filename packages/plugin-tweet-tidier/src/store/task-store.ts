import { isPostgresUrl, openStore } from "./index.js";
import type { TidyStore } from "./types.js";

/** A task's store, and how to let it go once the task is done. */
export interface TaskStore {
  store: TidyStore;
  /** `failed`: a file or the batch failed; the next task opens the store anew. True when it was closed. */
  release(failed: boolean): Promise<boolean>;
}

interface Kept {
  opening: Promise<TidyStore>;
  /** Tasks using it now: once it is no longer kept (a task using it failed), the last of them closes it. */
  users: number;
}

/** PostgreSQL stores kept open in this process between tasks, by URL. */
const kept = new Map<string, Kept>();

/**
 * The store a task loads into. A PostgreSQL store stays open in the worker process for the
 * next task: opening one (connecting, checking the schema, creating the connection's
 * staging tables) took 130–200 ms, paid by every batch, and a job's last batches are small
 * (each takes half of what is left, to keep the loaders busy till the end: 10 batches for
 * 279 files, most of them on one loader). A SQLite store is opened and closed per task:
 * its close builds the indexes a first load deferred and ends with the final checkpoint.
 * After a failure the store is closed, so that the next task checks the schema again (it
 * may have been dropped or changed meanwhile) on a new connection.
 */
export async function taskStore(database: string): Promise<TaskStore> {
  if (!isPostgresUrl(database)) {
    const store = await openStore(database, { poolSize: 1 });
    return { store, release: async () => (await store.close(), true) };
  }
  let k = kept.get(database);
  if (k === undefined) {
    const entry: Kept = { opening: openStore(database, { poolSize: 1 }), users: 0 };
    kept.set(database, entry);
    entry.opening.catch(() => {
      if (kept.get(database) === entry) kept.delete(database);
    });
    k = entry;
  }
  const entry = k;
  // counted before the wait: a failed task's release must not close it under this one
  entry.users++;
  let store: TidyStore;
  try {
    store = await entry.opening;
  } catch (e) {
    entry.users--;
    throw e;
  }
  return {
    store,
    async release(failed) {
      entry.users--;
      if (failed && kept.get(database) === entry) kept.delete(database);
      if (kept.get(database) === entry || entry.users > 0) return false;
      await store.close();
      return true;
    },
  };
}
