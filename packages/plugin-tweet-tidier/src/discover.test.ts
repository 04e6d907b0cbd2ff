import { mkdirSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { tempDir } from "./__fixtures__/helpers.js";
import { StableFileTracker, globToRegExp, isRawName, listRawFiles } from "./discover.js";

const tmp = tempDir();
afterAll(() => tmp.cleanup());

describe("discovery", () => {
  it("accepts raw names and ignores temp, hidden and partial files", () => {
    for (const n of ["20240101-1.jsonl", "a.jsonl.gz", "archive.tar.gz", "x.jsonl.urls.jsonl"]) expect(isRawName(n), n).toBe(true);
    for (const n of [".20240101-1.jsonl", "a.jsonl.tmp", "a.jsonl.partial", "a.tmp.jsonl", "notes.txt", "x.json", "~a.jsonl"])
      expect(isRawName(n), n).toBe(false);
  });

  it("lists folders recursively, files and globs", async () => {
    const d = tmp.dir;
    mkdirSync(join(d, "raw", "sub"), { recursive: true });
    for (const f of ["raw/a.jsonl", "raw/sub/b.jsonl.gz", "raw/.hidden.jsonl", "raw/c.jsonl.tmp", "other/x.jsonl"]) {
      mkdirSync(join(d, f, ".."), { recursive: true });
      writeFileSync(join(d, f), "{}\n");
    }
    const names = (xs: { path: string }[]) => xs.map((x) => x.path.slice(d.length + 1));
    expect(names(await listRawFiles(["raw"], d))).toEqual(["raw/a.jsonl", "raw/sub/b.jsonl.gz"]);
    expect(names(await listRawFiles(["raw/*.jsonl", "other/x.jsonl", "missing/"], d))).toEqual(["other/x.jsonl", "raw/a.jsonl"]);
    expect(names(await listRawFiles(["**/*.jsonl*"], d))).toEqual(["other/x.jsonl", "raw/a.jsonl", "raw/sub/b.jsonl.gz"]);
    expect(globToRegExp("/a/**/*.{jsonl,gz}").test("/a/b/c/d.gz")).toBe(true);
  });

  it("a file is stable only when size and mtime did not change since the last check", async () => {
    const p = join(tmp.dir, "growing.jsonl");
    writeFileSync(p, "{}\n");
    const t = new StableFileTracker();
    expect(t.stable(await listRawFiles([p]))).toEqual([]);
    writeFileSync(p, "{}\n{}\n");
    utimesSync(p, new Date(), new Date(Date.now() + 1000));
    expect(t.stable(await listRawFiles([p]))).toEqual([]);
    expect(t.stable(await listRawFiles([p])).map((f) => f.path)).toEqual([p]);
  });
});
