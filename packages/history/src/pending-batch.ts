import { buildWriteSet, type WriteSet } from "./batches.js";
import type { JobEventRecord, RunRecord } from "./types.js";

/** Full batches left waiting for the event loop's next turn before one is written at once. */
const STARVED_BATCHES = 4;

/**
 * What a history store was handed and has not written yet, and when to write it: after
 * `flushIntervalMs`, or at the next turn of the event loop once `maxBatch` are waiting
 * (not inside the caller, a task's settlement, unless the loop has not turned while
 * four batches filled up). The SQLite and PostgreSQL stores keep
 * one each and differ only in how they write what `take()` returns.
 */
export class PendingBatch {
  #runs: RunRecord[] = [];
  /** Runs waiting here while running: the same object, settled, must not be added twice. */
  #waitingRunning = new Set<RunRecord>();
  #events: JobEventRecord[] = [];
  /** Runs written as running: when they settle, their running row is deleted. */
  readonly #writtenRunning = new WeakSet<RunRecord>();
  #writtenRunningCount = 0;
  #timer: NodeJS.Timeout | undefined;
  #soon: NodeJS.Immediate | undefined;

  constructor(
    readonly flushIntervalMs: number,
    readonly maxBatch: number,
    /** The store's flush, called when the batch is due. */
    readonly flush: () => void,
  ) {}

  /** A run, new or updated: the same object recorded again is written once, as it is then. */
  addRun(run: RunRecord): void {
    // The busiest path (a task settled, recorded once) only pushes; a run recorded while
    // running (a sweep) may come again, settled, before its batch is written.
    if (this.#waitingRunning.size === 0 || !this.#waitingRunning.has(run)) {
      this.#runs.push(run);
      if (run.outcome === "running") this.#waitingRunning.add(run);
    } else if (run.outcome !== "running") this.#waitingRunning.delete(run);
    this.#schedule();
  }

  addEvent(event: JobEventRecord): void {
    this.#events.push(event);
    this.#schedule();
  }

  get size(): number {
    return this.#runs.length + this.#events.length;
  }

  /** Takes what is waiting as one write set (undefined when nothing waits); a scheduled flush is cancelled. */
  take(): WriteSet | undefined {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#soon) clearImmediate(this.#soon);
    this.#soon = undefined;
    if (this.size === 0) return undefined;
    const runs = this.#runs;
    const set = buildWriteSet(runs, (run) => this.#writtenRunningCount > 0 && this.#writtenRunning.has(run));
    if (this.#writtenRunningCount > 0 || this.#waitingRunning.size > 0) {
      for (const run of runs) {
        if (run.outcome === "running") {
          if (!this.#writtenRunning.has(run)) this.#writtenRunningCount++;
          this.#writtenRunning.add(run);
        } else if (this.#writtenRunning.delete(run)) this.#writtenRunningCount--;
      }
    }
    set.events = this.#events.map((event) => [event.at, event.job, event.event, event.code ?? null, event.message ?? null]);
    this.#runs = [];
    this.#waitingRunning = new Set();
    this.#events = [];
    return set;
  }

  #schedule(): void {
    if (this.size >= this.maxBatch) {
      // A loop that does not turn (tasks settling in microtasks only, in-process) would
      // let the batch grow without bound, and big batches cost the garbage collector
      // more than writing them: past a few full batches it is written at once.
      if (this.size >= this.maxBatch * STARVED_BATCHES) this.flush();
      else this.#soon ??= setImmediate(() => this.flush());
      return;
    }
    if (this.#timer) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.flush();
    }, this.flushIntervalMs);
    // A pending batch must not keep a finished process alive; close() writes it.
    this.#timer.unref();
  }
}
