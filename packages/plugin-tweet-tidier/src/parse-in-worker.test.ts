import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { afterAll, describe, expect, it, vi } from "vitest";
import { dumpTables, fixture, tempDir, withIds } from "./__fixtures__/helpers.js";
import { makeTarGz } from "./__fixtures__/tar.js";

// The parse worker runs the compiled code: these tests use the built package (dist/).
const built = existsSync(fileURLToPath(new URL("../dist/internal/parse-worker.js", import.meta.url)));
if (!built) console.warn("the tidier is not built: skipping the parse-worker tests (run `pnpm build`; under CI=true they run and fail).");
const tmp = tempDir();
afterAll(() => tmp.cleanup());


/** Pages of several fixtures, ids rewritten per copy, with a truncated line and a non-page line among them. */
function rawLines(copies: number): string[] {
  const base = ["timeline-observatoryteam.jsonl", "withheld.jsonl", "brexit.jsonl", "many_urls.jsonl", "geo_tweets.jsonl"].flatMap((f) =>
    readFileSync(fixture(f), "utf8").trimEnd().split("\n"),
  );
  const out: string[] = [];
  for (let k = 0; k < copies; k++)
    for (const l of base) out.push(withIds(String(k).padStart(3, "0"), l));
  out.splice(7, 0, out[7]!.slice(0, 3000), '{"not":"a page"}');
  return out;
}

describe.skipIf(!built && process.env.CI !== "true")("parsing in a worker thread", async () => {
  const { SqliteTidyStore } = (await import(new URL("../dist/store/sqlite.js", import.meta.url).href)) as typeof import("./store/sqlite.js");
  const pool = (await import(new URL("../dist/parse-in-worker.js", import.meta.url).href)) as typeof import("./parse-in-worker.js");
  const tasks = (await import(new URL("../dist/tasks.js", import.meta.url).href)) as typeof import("./tasks.js");
  /** No idle thread left from other tests: the next check or batch starts from none. */
  const noIdleWorkers = async () => {
    for (const w of pool.acquireParseWorkers(8)) await w.close();
  };

  it("starts one parse thread ahead of a batch (none while one is idle), and the batch takes it", async () => {
    await noIdleWorkers();
    const dir = join(tmp.dir, "warm");
    mkdirSync(dir);
    writeFileSync(join(dir, "small.jsonl"), rawLines(1)[0]! + "\n");
    const check = (warmParser: boolean) =>
      (tasks.checkForNewData.run as (a: unknown) => Promise<unknown>)({ inputs: [dir], baseDir: dir, warmParser });
    await check(true); // under 1 MiB: a batch of it is parsed in the loader's thread
    await check(false);
    expect(pool.acquireParseWorkers(1)[0]!.reusable()).toBe(false); // a new worker: no thread yet
    writeFileSync(join(dir, "big.jsonl"), rawLines(4).join("\n") + "\n");
    await check(true);
    await check(true); // one is idle already
    const [warm, fresh] = pool.acquireParseWorkers(2);
    expect(warm!.reusable()).toBe(true); // its thread started with the check
    expect(fresh!.reusable()).toBe(false);
    await Promise.all([warm!.close(), fresh!.close()]);
  });

  it("a later check warms no parse thread for files older than the check before it (loaded or being loaded)", async () => {
    await noIdleWorkers();
    const dir = join(tmp.dir, "warm-since");
    mkdirSync(dir);
    const big = join(dir, "big.jsonl");
    writeFileSync(big, rawLines(4).join("\n") + "\n");
    const modified = statSync(big).mtimeMs;
    const check = (warmSince: number) => (tasks.checkForNewData.run as (a: unknown) => Promise<unknown>)({ inputs: [dir], baseDir: dir, warmParser: true, warmSince });
    await check(modified + 1);
    expect(pool.idleParseWorkers()).toBe(0);
    await check(modified);
    expect(pool.idleParseWorkers()).toBe(1);
    for (const w of pool.acquireParseWorkers(1)) await w.close();
  });

  it("an idle parse thread stops after PARSE_WORKER_IDLE_MS unused (a continuous job between checks does not keep its heap); a batch that takes it first starts the countdown again", async () => {
    await noIdleWorkers();
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    try {
      pool.prewarmParseWorker();
      expect(pool.idleParseWorkers()).toBe(1);
      vi.advanceTimersByTime(pool.PARSE_WORKER_IDLE_MS - 1);
      expect(pool.idleParseWorkers()).toBe(1);
      // a batch takes it and gives it back: a full wait again from there
      const [w] = pool.acquireParseWorkers(1);
      expect(w!.reusable()).toBe(true);
      pool.releaseParseWorkers([w!]);
      vi.advanceTimersByTime(pool.PARSE_WORKER_IDLE_MS - 1);
      expect(pool.idleParseWorkers()).toBe(1);
      expect(w!.reusable()).toBe(true);
      vi.advanceTimersByTime(1);
      expect(pool.idleParseWorkers()).toBe(0);
      expect(w!.reusable()).toBe(false); // its thread is stopped; the next batch starts a new one
    } finally {
      vi.useRealTimers();
    }
  });

  it("loads exactly the rows of a load in this thread (.jsonl, .jsonl.gz, .tar.gz with a URL sidecar)", async () => {
    const lines = rawLines(3);
    const plain = join(tmp.dir, "big.jsonl");
    writeFileSync(plain, lines.join("\n") + "\n");
    const gz = join(tmp.dir, "other.jsonl.gz");
    writeFileSync(gz, gzipSync(Buffer.from(rawLines(2).map((l) => withIds(9, l)).join("\n") + "\n")));
    const url = JSON.parse(lines[0]!).data.find((t: any) => t.entities?.urls?.length).entities.urls[0].url;
    const tgz = join(tmp.dir, "archive.tar.gz");
    writeFileSync(
      tgz,
      await makeTarGz([
        { name: "raw/a.jsonl", data: Buffer.from(rawLines(1).map((l) => withIds(8, l)).join("\n") + "\n") },
        { name: "raw/a.jsonl.urls.jsonl", data: Buffer.from(JSON.stringify({ url, final_url: "https://example.org/x", status: 200 }) + "\n") },
        { name: "manifest.json", data: Buffer.from("{}") },
      ]),
    );
    const here = new SqliteTidyStore(join(tmp.dir, "here.sqlite"));
    const worker = new SqliteTidyStore(join(tmp.dir, "worker.sqlite"));
    try {
      for (const f of [plain, gz, tgz]) {
        const a = await here.ingestFile(f, { parseInWorker: false });
        const b = await worker.ingestFile(f, { parseInWorker: true });
        expect(b, f).toEqual(a);
        expect(a.status, f).toBe("partial");
      }
      // again, with the worker thread warm: already loaded
      expect((await worker.ingestFile(plain, { parseInWorker: true })).status).toBe("already-loaded");
      expect(await worker.count("ingest_errors")).toBe(6);
      expect(await worker.count("urls", "final_url = 'https://example.org/x'")).toBeGreaterThan(0);
      expect(await dumpTables(worker)).toEqual(await dumpTables(here));
    } finally {
      await here.close();
      await worker.close();
    }
  });

  it.each([
    ["one thread", 1, 2, 0],
    ["two threads sharing the file's lines, the first dies", 2, 3, 0],
    ["two threads sharing the file's lines, the second dies", 2, 3, 1],
  ])("a worker thread that dies mid-file (%s): the loader parses the rest itself, with the same rows", async (_, threads, copies, dies) => {
    const { ParseWorker, STRIPE_MIN_BYTES } = (await import(new URL("../dist/parse-in-worker.js", import.meta.url).href)) as typeof import("./parse-in-worker.js");
    const file = join(tmp.dir, `dies-${threads}-${dies}.jsonl`);
    writeFileSync(file, rawLines(copies).join("\n") + "\n");
    if (threads > 1) expect(statSync(file).size).toBeGreaterThanOrEqual(STRIPE_MIN_BYTES);
    const ref = new SqliteTidyStore(join(tmp.dir, `dies-ref-${threads}-${dies}.sqlite`));
    await ref.ingestFile(file, { parseInWorker: false });
    const begin = ParseWorker.prototype.begin;
    const parsers: InstanceType<typeof ParseWorker>[] = [];
    ParseWorker.prototype.begin = function () {
      parsers.push(this);
      begin.call(this);
    };
    const env = process.env.UJR_TIDY_PARSE_THREADS;
    process.env.UJR_TIDY_PARSE_THREADS = String(threads);
    try {
      for (const at of [1, 15]) {
        parsers.length = 0;
        const store = new SqliteTidyStore(join(tmp.dir, `dies-${threads}-${dies}-${at}.sqlite`));
        const r = await store.ingestFile(file, { parseInWorker: true, onPage: async (n) => void (n === at && (await parsers[dies]!.close())) });
        expect(parsers).toHaveLength(threads);
        expect(r).toMatchObject({ status: "partial", errors: 2 });
        const [a, b] = [await dumpTables(store), await dumpTables(ref)];
        for (const t of Object.keys(b)) if (t !== "source_files") expect(a[t], `${t} (worker stopped at page ${at})`).toEqual(b[t]);
        await store.close();
      }
    } finally {
      ParseWorker.prototype.begin = begin;
      if (env === undefined) delete process.env.UJR_TIDY_PARSE_THREADS;
      else process.env.UJR_TIDY_PARSE_THREADS = env;
      await ref.close();
    }
  });

  it("a big plain file shared line by line by two threads: the rows, page numbers and errors of a load in this thread (blank lines, bad UTF-8, a last line without newline)", async () => {
    const { STRIPE_MIN_BYTES } = (await import(new URL("../dist/parse-in-worker.js", import.meta.url).href)) as typeof import("./parse-in-worker.js");
    const lines = rawLines(3);
    // blank lines shift which thread reads which page; a bad byte and bad JSON are recorded at their lines
    lines.splice(3, 0, "", "   ");
    lines.splice(40, 0, "");
    const bytes = Buffer.concat([
      Buffer.from(lines.slice(0, 20).join("\n") + "\n"),
      Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x7d, 0x0a]),
      Buffer.from(lines.slice(20).join("\n")),
    ]);
    const file = join(tmp.dir, "striped.jsonl");
    writeFileSync(file, bytes);
    expect(bytes.length).toBeGreaterThanOrEqual(STRIPE_MIN_BYTES);
    const here = new SqliteTidyStore(join(tmp.dir, "striped-here.sqlite"));
    const worker = new SqliteTidyStore(join(tmp.dir, "striped-worker.sqlite"));
    const env = process.env.UJR_TIDY_PARSE_THREADS;
    process.env.UJR_TIDY_PARSE_THREADS = "2";
    try {
      const a = await here.ingestFile(file, { parseInWorker: false });
      const b = await worker.ingestFile(file, { parseInWorker: true });
      expect(b).toEqual(a);
      expect(a).toMatchObject({ status: "partial", errors: 3 });
      expect(await dumpTables(worker)).toEqual(await dumpTables(here));
      const pageNos = await worker.query<{ page_no: number; line_no: number }>("SELECT page_no, line_no FROM pages ORDER BY line_no");
      expect(pageNos.map((p) => p.page_no)).toEqual(pageNos.map((_, i) => i + 1));
    } finally {
      if (env === undefined) delete process.env.UJR_TIDY_PARSE_THREADS;
      else process.env.UJR_TIDY_PARSE_THREADS = env;
      await here.close();
      await worker.close();
    }
  });

  it("a batch: files read ahead by the worker, each its own all-or-nothing unit; a missing file does not stop the others", async () => {
    const paths: string[] = [];
    for (let k = 0; k < 6; k++) {
      const p = join(tmp.dir, `batch-${k}.jsonl`);
      writeFileSync(p, rawLines(1).map((l) => withIds(k + 1, l)).join("\n") + "\n");
      paths.push(p);
    }
    paths.splice(2, 0, join(tmp.dir, "batch-missing.jsonl"));
    paths.push(paths[0]!); // the same file again: already loaded
    const here = new SqliteTidyStore(join(tmp.dir, "batch-here.sqlite"));
    const worker = new SqliteTidyStore(join(tmp.dir, "batch-worker.sqlite"));
    try {
      for (const p of paths.slice(0, -1)) if (!p.includes("missing")) await here.ingestFile(p, { parseInWorker: false });
      const reported: string[] = [];
      const out = await worker.ingestFiles(paths, { parseInWorker: true }, (o) => reported.push(o.path));
      expect(out.map((o) => o.result?.status ?? (o.error as { code: string }).code)).toEqual([
        "UJR_TIDY_FILE_NOT_FOUND",
        ...Array(6).fill("partial"),
        "already-loaded",
      ]);
      expect(reported).toEqual(out.map((o) => o.path));
      expect(await dumpTables(worker)).toEqual(await dumpTables(here));
    } finally {
      await here.close();
      await worker.close();
    }
  });

  it("aborting mid-file rolls the file back; the next load works", async () => {
    const file = join(tmp.dir, "abort.jsonl");
    writeFileSync(file, rawLines(2).join("\n") + "\n");
    const store = new SqliteTidyStore(join(tmp.dir, "abort.sqlite"));
    try {
      const ac = new AbortController();
      const load = store.ingestFile(file, { parseInWorker: true, signal: ac.signal, onPage: (n) => void (n === 20 && ac.abort()) });
      await expect(load).rejects.toMatchObject({ code: "UJR_TIDY_ABORTED" });
      expect(await store.count("source_files")).toBe(0);
      expect(await store.count("tweets")).toBe(0);
      expect(await store.ingestFile(file, { parseInWorker: true })).toMatchObject({ status: "partial", errors: 2 });
      expect(await store.count("pages")).toBe(rawLines(2).length - 2);
    } finally {
      await store.close();
    }
  });
});
