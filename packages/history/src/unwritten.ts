import type { WriteSet } from "./batches.js";

/** How much an unwritable history keeps in memory before it drops the oldest runs. */
export interface UnwrittenLimit {
  /** Runs (default 100,000). */
  runs: number;
  /** Bytes of stored rows (default 32 MiB). */
  bytes: number;
}

export const DEFAULT_UNWRITTEN_LIMIT: UnwrittenLimit = { runs: 100_000, bytes: 32 * 1024 * 1024 };

/** Runs of one job dropped from the run list while the history could not be written. */
export interface DroppedRuns {
  runs: number;
  failures: number;
}

type Stat = WriteSet["stats"][number];
type Hour = WriteSet["hourly"][number];

const runsOf = (set: WriteSet): number => set.batches.reduce((n, b) => n + b.runs, 0) + set.running.length;
const bytesOf = (set: WriteSet): number =>
  set.batches.reduce((n, b) => n + b.rows.length, 0) + set.running.reduce((n, r) => n + r.row.length, 0) + set.settled.reduce((n, id) => n + id.length, 0);

/** Adds `add`'s counts into `into` the way job_stats' upsert does, so one row per job is enough. */
function mergeStat(into: Stat, add: Stat): void {
  into.plugin ??= add.plugin;
  into.jobType ??= add.jobType;
  into.runs += add.runs;
  into.done += add.done;
  into.failures += add.failures;
  const later = (a: number | null, b: number | null) => (a === null ? b : b === null ? a : Math.max(a, b));
  into.lastRunAt = later(into.lastRunAt, add.lastRunAt);
  into.lastSuccessAt = later(into.lastSuccessAt, add.lastSuccessAt);
  if (add.lastFailureAt !== null && (into.lastFailureAt === null || add.lastFailureAt >= into.lastFailureAt)) {
    into.lastFailureAt = add.lastFailureAt;
    into.lastFailureCode = add.lastFailureCode;
    into.lastFailureMessage = add.lastFailureMessage;
  }
}

/**
 * Write sets a history store could not write (a full disk, a locked file), oldest first,
 * written in order at the next flushes so that a passing failure loses nothing. Past the
 * limit the oldest sets are dropped, but not all of them: their runs leave the run list,
 * while what they add to the job totals and hourly counts, their job events and the
 * deletion of the running rows of their runs are kept (a few rows per job) and written
 * first. So a dropped run still counts, and a run recorded as running before its outcome
 * was dropped never reads as "killed or crashed" later.
 */
export class UnwrittenSets {
  #sets: WriteSet[] = [];
  #runs = 0;
  #bytes = 0;
  /** What the dropped sets leave, merged: one stats row per job, one hourly row per job and hour. */
  #stats = new Map<string, Stat>();
  #hours = new Map<string, Hour>();
  #settled: string[] = [];
  #events: WriteSet["events"] = [];
  readonly #dropped = new Map<string, DroppedRuns>();

  constructor(readonly limit: UnwrittenLimit = DEFAULT_UNWRITTEN_LIMIT) {}

  /** Runs waiting (dropped ones not counted). */
  get runs(): number {
    return this.#runs;
  }

  /** Job events waiting (the dropped sets' included). */
  get events(): number {
    return this.#sets.reduce((n, set) => n + set.events.length, this.#events.length);
  }

  get empty(): boolean {
    return this.#sets.length === 0 && !this.#hasResidue();
  }

  /** Adds a set after the others; returns the runs dropped to stay within the limit. */
  push(set: WriteSet): DroppedRuns {
    this.#sets.push(set);
    this.#runs += runsOf(set);
    this.#bytes += bytesOf(set);
    const dropped = { runs: 0, failures: 0 };
    // the newest set always stays: it holds what the runner recorded last
    while (this.#sets.length > 1 && (this.#runs > this.limit.runs || this.#bytes > this.limit.bytes)) this.#dropOldest(dropped);
    return dropped;
  }

  /** Drops every set to its residue (a runner that stops cannot wait for the disk any more). */
  dropAll(): DroppedRuns {
    const dropped = { runs: 0, failures: 0 };
    while (this.#sets.length > 0) this.#dropOldest(dropped);
    return dropped;
  }

  /**
   * What to write, oldest first: the residue of the dropped sets (with one job event per job
   * saying what was dropped, from `droppedEvent`), then the sets kept. They stay here until
   * `written(count)` says how many of them are in the file.
   */
  toWrite(droppedEvent: (job: string, dropped: DroppedRuns) => WriteSet["events"][number]): WriteSet[] {
    if (!this.#hasResidue()) return [...this.#sets];
    const residue: WriteSet = {
      batches: [],
      stats: [...this.#stats.values()],
      hourly: [...this.#hours.values()],
      running: [],
      settled: this.#settled,
      events: [...this.#events, ...[...this.#dropped].map(([job, dropped]) => droppedEvent(job, dropped))],
    };
    return [residue, ...this.#sets];
  }

  /** The first `count` sets of the last `toWrite()` are in the file. */
  written(count: number): void {
    if (count === 0) return;
    let sets = count;
    if (this.#hasResidue()) {
      this.#stats = new Map();
      this.#hours = new Map();
      this.#settled = [];
      this.#events = [];
      this.#dropped.clear();
      sets--;
    }
    for (const set of this.#sets.splice(0, sets)) {
      this.#runs -= runsOf(set);
      this.#bytes -= bytesOf(set);
    }
  }

  #hasResidue(): boolean {
    return this.#stats.size > 0 || this.#settled.length > 0 || this.#events.length > 0;
  }

  #dropOldest(total: DroppedRuns): void {
    const set = this.#sets.shift()!;
    this.#runs -= runsOf(set);
    this.#bytes -= bytesOf(set);
    for (const stat of set.stats) {
      const known = this.#stats.get(stat.job);
      if (known) mergeStat(known, stat);
      else this.#stats.set(stat.job, { ...stat });
      const dropped = this.#dropped.get(stat.job) ?? { runs: 0, failures: 0 };
      dropped.runs += stat.runs;
      dropped.failures += stat.failures;
      this.#dropped.set(stat.job, dropped);
      total.runs += stat.runs;
      total.failures += stat.failures;
    }
    for (const hour of set.hourly) {
      const key = `${hour.hour}\u0000${hour.job}`;
      const known = this.#hours.get(key);
      if (known) {
        known.runs += hour.runs;
        known.failures += hour.failures;
      } else this.#hours.set(key, { ...hour });
    }
    // Runs that were running when dropped: a later set records them when they settle.
    for (const id of set.settled) this.#settled.push(id);
    for (const event of set.events) this.#events.push(event);
  }
}
