import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import type { ParseEvent } from "./parse-events.js";

const WORKER_URL = new URL("./internal/parse-worker.js", import.meta.url);

/** True when the compiled parse worker is available (not when running from sources). */
export const workerAvailable = (): boolean => existsSync(fileURLToPath(WORKER_URL));

/**
 * Like parseEvents, but reading and JSON parsing happen in a worker thread, so they run in
 * parallel with the database writes of the calling thread. At most `window` events are
 * in flight.
 */
export async function* parseEventsInWorker(
  path: string,
  fileId: number,
  signal?: AbortSignal,
  window = 16,
): AsyncGenerator<ParseEvent> {
  const worker = new Worker(WORKER_URL, { workerData: { path, fileId, window } });
  const queue: (ParseEvent | { t: "end" } | { t: "fatal"; error: { code?: string; message: string } })[] = [];
  let wake: (() => void) | undefined;
  let failure: Error | undefined;
  worker.on("message", (m) => {
    queue.push(m);
    wake?.();
  });
  worker.on("error", (e) => {
    failure = e;
    wake?.();
  });
  worker.on("exit", () => {
    failure ??= new Error("parse worker exited");
    wake?.();
  });
  const onAbort = () => void worker.terminate();
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    for (;;) {
      if (signal?.aborted) throw Object.assign(new Error("aborted"), { name: "AbortError" });
      const m = queue.shift();
      if (m === undefined) {
        if (failure) throw failure;
        await new Promise<void>((r) => (wake = r));
        wake = undefined;
        continue;
      }
      if (m.t === "end") return;
      if (m.t === "fatal") throw Object.assign(new Error(m.error.message), { code: m.error.code });
      worker.postMessage({ ack: 1 });
      yield m;
    }
  } finally {
    signal?.removeEventListener("abort", onAbort);
    worker.removeAllListeners("exit");
    await worker.terminate();
  }
}
