import { open, readFile, unlink } from "node:fs/promises";
import { collectorError } from "../errors.js";

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * An exclusive lock file holding the owner's pid. A lock whose process is gone (crash,
 * kill -9) is taken over; a lock held by another live process (e.g. an orphaned worker
 * of a killed runner still finishing its task) makes the caller fail with a retryable
 * error, so two fetches of one job never write at once.
 */
export async function acquireLock(path: string, what: string): Promise<() => Promise<void>> {
  for (let attempt = 0; attempt < 3; attempt++) {
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
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
      throw collectorError("UJR_COLLECTOR_BUSY", { what, pid });
    }
    await unlink(path).catch(() => undefined);
  }
  throw collectorError("UJR_COLLECTOR_BUSY", { what, pid: "unknown" });
}
