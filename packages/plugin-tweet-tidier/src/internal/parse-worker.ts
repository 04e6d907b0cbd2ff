// Worker thread: reads and parses one raw file, posting ParseEvents to the loader with
// credit-based flow control (memory stays bounded whatever the file size).
import { parentPort, workerData } from "node:worker_threads";
import { parseEvents } from "../parse-events.js";

const { path, fileId, window } = workerData as { path: string; fileId: number; window: number };
let credit = window;
let wake: (() => void) | undefined;
parentPort!.on("message", (m: { ack?: number }) => {
  credit += m.ack ?? 0;
  wake?.();
});

try {
  for await (const ev of parseEvents(path, fileId)) {
    while (credit <= 0) await new Promise<void>((r) => (wake = r));
    wake = undefined;
    credit--;
    parentPort!.postMessage(ev);
  }
  parentPort!.postMessage({ t: "end" });
} catch (e) {
  parentPort!.postMessage({ t: "fatal", error: { code: (e as { code?: string }).code, message: (e as Error).message } });
}
