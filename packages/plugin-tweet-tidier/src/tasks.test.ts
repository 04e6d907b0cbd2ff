import { silentLogger, toTaskFailure } from "@ujr/core";
import { afterEach, describe, expect, it, vi } from "vitest";
import { TIDY_ERRORS, TidyError } from "./errors.js";
import type { FileOutcome, IngestOptions, IngestResult, TidyStore } from "./store/types.js";
import { tidyBatch, type TidyBatchArgs, type TidyBatchResult } from "./tasks.js";

// The store a batch loads through, replaced: what the task does with what the store says
// (a lock held past the busy timeout, a store that cannot be opened) is what is tested here,
// without waiting out SQLite's 60 s busy timeout.
const store = vi.hoisted(() => ({ open: undefined as (() => Promise<unknown>) | undefined }));
vi.mock("./store/task-store.js", () => ({
  taskStore: () => store.open!(),
}));
afterEach(() => {
  store.open = undefined;
});

const loaded = (path: string): IngestResult => ({ path, status: "loaded", fileId: 1, sha256: path, pages: 1, tweets: 1, errors: 0, nothingLoaded: false });
const busy = () => new TidyError("UJR_TIDY_DATABASE_BUSY", "/db/tidy.sqlite stayed locked by another connection for 60 s");

/** A store that settles each file as `outcome` says, in order, stopping at an abort as the real one does; `tried` lists the files it came to. */
function fakeStore(outcome: (path: string) => FileOutcome, tried: string[]): void {
  const s: Partial<TidyStore> = {
    async ingestFiles(paths: readonly string[], opts: IngestOptions = {}, onFile?: (o: FileOutcome) => void): Promise<FileOutcome[]> {
      const out: FileOutcome[] = [];
      for (const path of paths) {
        if (opts.signal?.aborted) throw new TidyError("UJR_TIDY_ABORTED", path);
        tried.push(path);
        const o = outcome(path);
        out.push(o);
        onFile?.(o);
      }
      return out;
    },
  };
  store.open = async () => ({ store: s, release: async () => true });
}

function run(args: TidyBatchArgs, signal = new AbortController().signal): Promise<TidyBatchResult> {
  const ctx = { signal, logger: silentLogger(), attempt: 1, job: "tidy", taskId: "t", progress() {} };
  return (tidyBatch.run as (a: unknown, c: unknown) => Promise<TidyBatchResult>)(args, ctx);
}

describe("tidyBatch: the database's failures", () => {
  it("a store that cannot be opened (locked past the busy timeout) ends the batch done, with `stopped`: the job tries its files again, no task failed", async () => {
    store.open = () => Promise.reject(busy());
    const r = await run({ database: "/db/tidy.sqlite", files: ["/raw/a.jsonl", "/raw/b.jsonl"] });
    expect(r.files).toEqual([]);
    expect(r.stopped).toMatchObject({ code: "UJR_TIDY_DATABASE_BUSY", message: `/db/tidy.sqlite stayed locked by another connection for 60 s: ${TIDY_ERRORS.UJR_TIDY_DATABASE_BUSY}` });
  });

  it("a lock met mid-batch stops the batch there (each later file would wait the busy timeout out again), the files loaded before it kept", async () => {
    const tried: string[] = [];
    fakeStore((path) => (path.endsWith("b.jsonl") ? { path, error: busy() } : { path, result: loaded(path) }), tried);
    const r = await run({ database: "/db/tidy.sqlite", files: ["/raw/a.jsonl", "/raw/b.jsonl", "/raw/c.jsonl", "/raw/d.jsonl"] });
    expect(tried).toEqual(["/raw/a.jsonl", "/raw/b.jsonl"]);
    expect(r.files.map((f) => [f.path, f.ok])).toEqual([
      ["/raw/a.jsonl", true],
      ["/raw/b.jsonl", false],
    ]);
    expect(r.stopped?.code).toBe("UJR_TIDY_DATABASE_BUSY");
  });

  it("a failure that is `retryable: false` (a full disk: the store stops there itself) is the batch's `stopped` too", async () => {
    const full = { code: "UJR_TIDY_DISK_FULL", name: "TidyError", message: "the disk is full", retryable: false as const };
    const tried: string[] = [];
    fakeStore((path) => ({ path, error: full }), tried);
    const r = await run({ database: "/db/tidy.sqlite", files: ["/raw/a.jsonl"] });
    expect(r.stopped).toEqual(full);
  });

  it("a cancel (or a timeout) is the runner's to report: the task rejects as before", async () => {
    const ac = new AbortController();
    ac.abort();
    store.open = () => Promise.reject(new TidyError("UJR_TIDY_ABORTED", "/raw/a.jsonl"));
    await expect(run({ database: "/db/tidy.sqlite", files: ["/raw/a.jsonl"] }, ac.signal)).rejects.toMatchObject({ code: "UJR_TIDY_ABORTED" });
  });
});

describe("tidyBatch: the job's last try (lastTry)", () => {
  it("a file not loaded fails the task with UJR_TIDY_FILE_FAILED, naming the file and its cause, not to be retried by the runner, the result in its details", async () => {
    store.open = () => Promise.reject(busy());
    const err = await run({ database: "/db/tidy.sqlite", files: ["/raw/a.jsonl"], lastTry: true }).then(
      () => expect.unreachable("a last try that loads nothing fails"),
      (e: unknown) => e,
    );
    const failure = toTaskFailure(err);
    expect(failure).toMatchObject({ code: "UJR_TIDY_FILE_FAILED", retryable: false });
    expect(failure.stack).toBeUndefined(); // its own would be this task's, not the cause's
    expect(failure.message).toBe(
      `/raw/a.jsonl (UJR_TIDY_DATABASE_BUSY: /db/tidy.sqlite stayed locked by another connection for 60 s: ${TIDY_ERRORS.UJR_TIDY_DATABASE_BUSY}): ${TIDY_ERRORS.UJR_TIDY_FILE_FAILED}`,
    );
    expect(failure.details?.batch).toEqual({ files: [], stopped: expect.objectContaining({ code: "UJR_TIDY_DATABASE_BUSY" }) });
  });

  it("several files: counted in the message, the first named; the loaded ones are in the details", async () => {
    const tried: string[] = [];
    const bad = { code: "EISDIR", name: "Error", message: "EISDIR: illegal operation on a directory, read" };
    fakeStore((path) => (path.endsWith("a.jsonl") ? { path, result: loaded(path) } : { path, error: bad }), tried);
    const err = toTaskFailure(await run({ database: "/db/tidy.sqlite", files: ["/raw/a.jsonl", "/raw/b.jsonl", "/raw/c.jsonl"], lastTry: true }).catch((e: unknown) => e));
    expect(err.message).toBe(`2 raw files could not be tidied; the first: /raw/b.jsonl (EISDIR: EISDIR: illegal operation on a directory, read): ${TIDY_ERRORS.UJR_TIDY_FILE_FAILED}`);
    expect((err.details?.batch as TidyBatchResult).files.map((f) => [f.path, f.ok])).toEqual([
      ["/raw/a.jsonl", true],
      ["/raw/b.jsonl", false],
      ["/raw/c.jsonl", false],
    ]);
  });

  it("every file loaded, or one gone since its check (not a failure): the last try ends done", async () => {
    const tried: string[] = [];
    fakeStore((path) => (path.endsWith("gone.jsonl") ? { path, error: new TidyError("UJR_TIDY_FILE_NOT_FOUND", path) } : { path, result: loaded(path) }), tried);
    const r = await run({ database: "/db/tidy.sqlite", files: ["/raw/a.jsonl", "/nowhere/gone.jsonl"], lastTry: true });
    expect(r.files.map((f) => f.ok)).toEqual([true, false]);
    expect(r.stopped).toBeUndefined();
  });
});
