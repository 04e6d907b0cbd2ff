// The pages of raw files as a loader parses them: each line parsed from the file's bytes (the
// build's parseJsonBytes, which splits a page rather than decoding it whole) and turned into
// rows (parsePage of the tidier at `index`, a module URL). Imported by bench/tidy.mjs for its
// ceiling; run as a worker thread (workerData: { index, files, go }) it is the parse thread of
// the measurement of two cores at once: it parses every file each time `go` is raised, letting
// each page go, and posts its seconds.
import { readFileSync, statSync } from "node:fs";
import { isMainThread, parentPort, workerData } from "node:worker_threads";

/**
 * The loader's parse of a line's bytes in the build whose index module is at `index` (a URL):
 * its parseJsonBytes, or for a build before it, JSON.parse of the decoded line as it did.
 */
export async function lineParser(index) {
  try {
    const { parseJsonBytes } = await import(new URL("./parse-json-bytes.js", index).href);
    return (bytes) => parseJsonBytes(bytes);
  } catch {
    return (bytes) => JSON.parse(bytes.toString("utf8"));
  }
}

/** Calls `use` with the parsed page of every line of `file` (the `fi`-th file), each parsed by `parse` (lineParser). */
export function eachPage(tidier, parse, file, fi, use) {
  const bytes = readFileSync(file);
  let i = 0;
  for (let start = 0, end = bytes.indexOf(10); start < bytes.length; start = end + 1, end = bytes.indexOf(10, start)) {
    if (end < 0) end = bytes.length;
    if (end > start) {
      i++;
      use(tidier.parsePage(parse(bytes.subarray(start, end)), { fileId: fi + 1, pageNo: i, entry: "", lineNo: i }));
    }
  }
}

if (!isMainThread && workerData?.go) {
  const tidier = await import(workerData.index);
  const parse = await lineParser(workerData.index);
  const go = new Int32Array(workerData.go);
  // warmed up first, as a loader's parse thread is after its first pages: a cold pass of the
  // small corpus of a quick run took twice as long as the next
  for (let fi = 0, bytes = 0; fi < workerData.files.length && bytes < 16 << 20; fi++) {
    eachPage(tidier, parse, workerData.files[fi], fi, () => {});
    bytes += statSync(workerData.files[fi]).size;
  }
  parentPort.postMessage("ready");
  for (let n = 1; ; n++) {
    Atomics.wait(go, 0, n - 1);
    const t = performance.now();
    for (const [fi, f] of workerData.files.entries()) eachPage(tidier, parse, f, fi, () => {});
    parentPort.postMessage((performance.now() - t) / 1000);
  }
}
