import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";

const WORKER_URL = new URL("../internal/checkpoint-worker.js", import.meta.url);

export type ToCheckpointer = "checkpoint" | "close";
export type FromCheckpointer = { t: "checkpointed"; walFrames: number } | { t: "closed" };

/**
 * Checkpoints of a SQLite database in WAL mode, run by a second connection in a thread of
 * its own while the loader goes on writing. Each checkpoint copies the committed pages
 * from the WAL into the database and syncs both files; run by the writer (SQLite's
 * automatic checkpoint at a commit), that blocks the writing thread for the copy and
 * both syncs, ~0.2 s for each 30 MB committed on the development machine's disk, about
 * every second of a load.
 *
 * SQLite starts the WAL over only when a write transaction begins after a checkpoint
 * that copied every frame, which a writer that never pauses does not see: the writer
 * counts what it commits and, past its bound, makes a checkpoint itself (what is
 * left to copy then is mostly the last commit), after which its next write starts the
 * WAL over.
 */
export class BackgroundCheckpointer {
  /** Frames in the WAL at the last checkpoint's end (0 before any). */
  walFrames = 0;
  /** Its thread has failed or exited: the writer checkpoints again. */
  failed = false;
  /**
   * Why its thread failed (a checkpoint's SQLITE_FULL, say), for the writer's warning. A
   * driver's error reaches this thread as a plain object with its `code`, maybe no message.
   */
  error: unknown;
  private running = false;
  /** Callers waiting for the running checkpoint, and for the one after it. */
  private waiting: (() => void)[] = [];
  private next: (() => void)[] = [];
  private closing: Promise<void> | undefined;

  private constructor(private readonly worker: Worker) {
    worker.on("message", (m: FromCheckpointer) => {
      if (m.t !== "checkpointed") return;
      this.walFrames = m.walFrames;
      this.running = false;
      for (const resolve of this.waiting.splice(0)) resolve();
      if (this.next.length > 0) {
        this.waiting = this.next;
        this.next = [];
        this.run();
      }
    });
    const gone = () => {
      this.failed = true;
      this.running = false;
      for (const resolve of [...this.waiting.splice(0), ...this.next.splice(0)]) resolve();
    };
    worker.on("error", (e) => {
      this.error = e;
      gone();
    });
    worker.on("exit", gone);
    // idle between checkpoints: the thread does not keep the process alive
    worker.unref();
  }

  /**
   * A checkpointer for the database file, or undefined where its thread cannot start (its
   * compiled code is not there when running from sources; no thread can be made): the
   * writer then keeps SQLite's own checkpoints.
   */
  static start(file: string): BackgroundCheckpointer | undefined {
    if (!existsSync(fileURLToPath(WORKER_URL))) return undefined;
    try {
      return new BackgroundCheckpointer(new Worker(WORKER_URL, { workerData: { file } }));
    } catch {
      return undefined;
    }
  }

  /**
   * Copies what is committed, now or, if one is running, right after it (requests made
   * meanwhile share that one). Resolves once it is done (or the thread failed).
   */
  request(): Promise<void> {
    if (this.failed || this.closing) return Promise.resolve();
    return new Promise<void>((resolve) => {
      if (this.running) this.next.push(resolve);
      else {
        this.waiting.push(resolve);
        this.run();
      }
    });
  }

  private run(): void {
    this.running = true;
    this.worker.postMessage("checkpoint" satisfies ToCheckpointer);
  }

  /**
   * Closes its connection after the running checkpoint: call it after the writer's
   * connection closed, so that this one, the last, makes SQLite's final checkpoint and
   * removes the WAL.
   */
  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      if (this.failed) return resolve();
      this.worker.ref();
      const done = () => resolve();
      this.worker.once("exit", done);
      this.worker.on("message", (m: FromCheckpointer) => {
        if (m.t === "closed") void this.worker.terminate();
      });
      this.worker.postMessage("close" satisfies ToCheckpointer);
    });
    return this.closing;
  }
}
