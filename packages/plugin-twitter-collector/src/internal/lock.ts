import { open, readFile, unlink } from "node:fs/promises";
import { setTimeout as delay } from "node:timers/promises";
import { processAlive } from "@ujr/core/task";
import { collectorError } from "../errors.js";

/**
 * How long a live holder is waited for before the try fails (retryable). The usual holder
 * is the pool worker of a runner killed a moment ago: it was told to stop when its runner
 * went away and lets go within a second or two (longer on a loaded machine); failing at
 * once made the job back off for a minute after every restart that came too soon.
 */
export const LOCK_WAIT_MS = 15_000;

/**
 * An exclusive lock file holding the owner's pid. A lock whose process is gone (crash,
 * kill -9) is taken over; a lock held by another live process (e.g. an orphaned worker
 * of a killed runner still finishing its task) is waited for, up to `waitMs`, and then
 * makes the caller fail with a retryable error, so two fetches of one job never write at
 * once.
 */
export async function acquireLock(path: string, what: string, opts: { waitMs?: number; signal?: AbortSignal } = {}): Promise<() => Promise<void>> {
  const until = Date.now() + (opts.waitMs ?? LOCK_WAIT_MS);
  let pause = 20;
  for (let stale = 0; ; ) {
    opts.signal?.throwIfAborted();
    try {
      const handle = await open(path, "wx");
      await handle.writeFile(String(process.pid));
      await handle.close();
      return () => unlink(path).catch(() => undefined);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    const pid = Number((await readFile(path, "utf8").catch(() => "")).trim());
    // Same process: our runner deduplicates tasks, so the holder was stopped (thread ended).
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && processAlive(pid)) {
      if (Date.now() >= until) throw collectorError("UJR_COLLECTOR_BUSY", { what, pid });
      await delay(pause, undefined, { signal: opts.signal });
      pause = Math.min(pause * 2, 500);
      continue;
    }
    // a stale lock (its process is gone): removed, then taken; racing takers try a few times
    if (++stale > 3) throw collectorError("UJR_COLLECTOR_BUSY", { what, pid: "unknown" });
    await unlink(path).catch(() => undefined);
  }
}
