import { mkdirSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { tempDir } from "./__fixtures__/helpers.js";
import { StableFileTracker, globToRegExp, isRawName, isUnreadRawLookalike, listInputs, listRawFiles } from "./discover.js";

const tmp = tempDir();
afterAll(() => tmp.cleanup());

describe("discovery", () => {
  it("accepts raw names and ignores temp, hidden and partial files", () => {
    for (const n of ["20240101-1.jsonl", "a.jsonl.gz", "archive.tar.gz", "x.jsonl.urls.jsonl", "b.ndjson", "b.NDJSON.gz"]) expect(isRawName(n), n).toBe(true);
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
    // an input that does not exist is reported as given (a glob that matches nothing is not)
    expect((await listInputs(["raw", "missing/", "other/x.jsonl", "nowhere/*.jsonl"], d)).missing).toEqual(["missing/"]);
  });

  it("names the likely raw data a folder or glob holds under names it does not read; a file named in the inputs is read whatever its name", async () => {
    const d = join(tmp.dir, "lookalikes");
    const put = (f: string, text = '{"data": [{"id": "1", "text": "hi"}], "meta": {}}\n') => {
      mkdirSync(join(d, f, ".."), { recursive: true });
      writeFileSync(join(d, f), text);
    };
    for (const f of ["raw/a.jsonl", "raw/search.json", "raw/old.jsonl.zst", "raw/sub/b.json.gz", "raw/c.tar.xz", "raw/notes.txt", "raw/.hidden.json", "raw/d.json.tmp", "raw/e.ndjson"]) put(f);
    // JSON of another kind beside raw data (a collector's state file): not reported; a pretty-printed page is
    put("raw/collector-state.json", '{"query": "auspol", "sinceId": "1"}\n');
    put("raw/pretty.json", '\uFEFF{\n  "includes": {},\n  "data": []\n}\n');
    const names = (xs: string[]) => xs.map((x) => x.slice(d.length + 1));
    const listed = await listInputs(["raw"], d);
    expect(names(listed.files.map((f) => f.path))).toEqual(["raw/a.jsonl", "raw/e.ndjson"]);
    expect(names(listed.notRead)).toEqual(["raw/c.tar.xz", "raw/old.jsonl.zst", "raw/pretty.json", "raw/search.json", "raw/sub/b.json.gz"]);
    // a glob reports only what it matches; a file named in the inputs is read, not reported
    expect(names((await listInputs(["raw/*.json"], d)).notRead)).toEqual(["raw/pretty.json", "raw/search.json"]);
    const named = await listInputs(["raw", "raw/search.json"], d);
    expect(names(named.files.map((f) => f.path))).toEqual(["raw/a.jsonl", "raw/e.ndjson", "raw/search.json"]);
    expect(names(named.notRead)).toEqual(["raw/c.tar.xz", "raw/old.jsonl.zst", "raw/pretty.json", "raw/sub/b.json.gz"]);
    for (const n of ["manifest.json", "x.jsonl.bz2", "y.zip"]) expect(isUnreadRawLookalike(n), n).toBe(true);
    for (const n of ["a.jsonl", "notes.txt", ".x.json", "x.json.partial", "report.html"]) expect(isUnreadRawLookalike(n), n).toBe(false);
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
