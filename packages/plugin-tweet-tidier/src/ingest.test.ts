// ingestAll's handling of a failure that is the database's, not a file's (a full disk): the
// batch stops there, with no store of its own (a group commit that fails on demand).
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { capturingLogger } from "@ujr/core/testing";
import { afterAll, describe, expect, it } from "vitest";
import { tempDir } from "./__fixtures__/helpers.js";
import { TidyError } from "./errors.js";
import { ingestAll, type GroupCommit } from "./ingest.js";
import type { FileFeed } from "./parse-in-worker.js";
import type { IngestResult } from "./store/types.js";

const tmp = tempDir();
afterAll(() => tmp.cleanup());

function files(name: string, n: number): string[] {
  const dir = join(tmp.dir, name);
  mkdirSync(dir);
  return Array.from({ length: n }, (_, k) => {
    const path = join(dir, `${k}.jsonl`);
    writeFileSync(path, `{"k":${k}}\n`);
    return path;
  });
}

const loaded = (path: string): IngestResult => ({ path, status: "loaded", fileId: 1, sha256: "0".repeat(64), pages: 1, tweets: 1, errors: 0, nothingLoaded: false });
const sqliteFull = () => Object.assign(new Error("database or disk is full"), { code: "SQLITE_FULL" });
/** What a SQLite store's `failure` makes of SQLITE_FULL (see sqliteFailure). */
const failure = (e: unknown) => ((e as { code?: unknown }).code === "SQLITE_FULL" ? new TidyError("UJR_TIDY_DISK_FULL", "/db/tidy.sqlite: the disk is full", { cause: e }) : e);

describe("ingestAll: a failure of the database stops the batch", () => {
  it("a group's commit on a full disk: its first file, tried alone, carries the error; the others are left uncommitted for the next try, not failed", async () => {
    const paths = files("group", 4);
    const tried: string[] = [];
    const loadOne = async (feed: FileFeed) => (tried.push(feed.path), loaded(feed.path));
    // every commit meets the full disk, the group's and the first file's alone
    const group: GroupCommit = { due: () => false, commit: async () => Promise.reject(sqliteFull()), abort: async () => {} };
    const { logger, logs } = capturingLogger("info");
    const out = await ingestAll(paths, { logger, parseInWorker: false }, loadOne, { autoWorker: false, group, failure });
    expect(out.map((o) => [o.path, (o.error as { code?: string })?.code])).toEqual([[paths[0], "UJR_TIDY_DISK_FULL"]]);
    expect(out[0]!.result).toBeUndefined();
    // the four in the group, then only the first again alone
    expect(tried).toEqual([...paths, paths[0]]);
    expect(logs.filter((l) => l.level === 40).map((l) => l.msg)).toEqual([
      `tidy: the batch stopped at ${paths[0]} (UJR_TIDY_DISK_FULL): 3 other file(s) of it were not loaded, as they would fail the same way; the next try loads them`,
    ]);
  });

  it("a file's own load on a full disk: the files before it are committed and reported, the ones after it are not tried", async () => {
    const paths = files("file", 4);
    const tried: string[] = [];
    const loadOne = async (feed: FileFeed) => {
      tried.push(feed.path);
      if (feed.path === paths[1]) throw sqliteFull();
      return loaded(feed.path);
    };
    let commits = 0;
    const group: GroupCommit = { due: () => false, commit: async () => void commits++, abort: async () => {} };
    const out = await ingestAll(paths, { parseInWorker: false }, loadOne, { autoWorker: false, group, failure });
    expect(tried).toEqual(paths.slice(0, 2));
    expect(out.map((o) => [o.path, o.result?.status, (o.error as { code?: string; retryable?: boolean })?.retryable])).toEqual([
      [paths[1], undefined, false],
      [paths[0], "loaded", undefined],
    ]);
    expect(commits).toBe(1);
  });

  it("a file's own failure (not the database's) does not stop the batch", async () => {
    const paths = files("bad-file", 3);
    const loadOne = async (feed: FileFeed) => {
      if (feed.path === paths[0]) throw new TidyError("UJR_TIDY_READ_FAILED", feed.path);
      return loaded(feed.path);
    };
    const group: GroupCommit = { due: () => false, commit: async () => {}, abort: async () => {} };
    const out = await ingestAll(paths, { parseInWorker: false }, loadOne, { autoWorker: false, group, failure });
    expect(out.map((o) => [o.path, o.result?.status ?? (o.error as { code: string }).code])).toEqual([
      [paths[0], "UJR_TIDY_READ_FAILED"],
      [paths[1], "loaded"],
      [paths[2], "loaded"],
    ]);
  });
});
