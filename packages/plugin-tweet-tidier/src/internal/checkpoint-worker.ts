// Worker thread of BackgroundCheckpointer (src/store/checkpointer.ts): a second connection
// to the loader's SQLite file that copies committed WAL frames into the database
// (PASSIVE checkpoints: it never waits for the writer), so that the copy and its fsyncs
// happen off the writing thread. Closed last, it ends with SQLite's final checkpoint and
// removes the WAL.
import Database from "better-sqlite3";
import { parentPort, workerData } from "node:worker_threads";
import type { FromCheckpointer, ToCheckpointer } from "../store/checkpointer.js";

const port = parentPort!;
const db = new Database((workerData as { file: string }).file, { fileMustExist: true });
db.pragma("busy_timeout = 60000");

const post = (m: FromCheckpointer) => port.postMessage(m);

port.on("message", (m: ToCheckpointer) => {
  if (m === "close") {
    db.close();
    post({ t: "closed" });
    port.close();
    return;
  }
  const [r] = db.pragma("wal_checkpoint(PASSIVE)") as { log: number }[];
  post({ t: "checkpointed", walFrames: r!.log });
});
