// Child process for the crash test: loads a file with the built loader; after
// UJR_TIDY_CRASH_AFTER_PAGES pages it tells the parent ("PAUSED <n>") and waits inside the
// file's open transaction, so the parent can SIGKILL it at a known point.
import { SqliteTidyStore } from "../../dist/store/sqlite.js";

const [, , database, file] = process.argv;
const after = Number(process.env.UJR_TIDY_CRASH_AFTER_PAGES ?? "0");
const store = new SqliteTidyStore(database);
await store.ingestFile(file, {
  onPage: async (pages) => {
    if (pages === after) {
      process.stdout.write(`PAUSED ${pages}\n`);
      await new Promise(() => {}); // wait to be killed
    }
  },
});
process.stdout.write("DONE\n");
