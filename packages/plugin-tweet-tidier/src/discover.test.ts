import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it, vi } from "vitest";
import { tempDir } from "./__fixtures__/helpers.js";
import { StableFileTracker, globReaches, globToRegExp, isRawName, isUnreadRawLookalike, listInputs, listRawFiles, type InputListing } from "./discover.js";

const tmp = tempDir();
afterAll(() => tmp.cleanup());

// Paths whose readdir or stat fails with EACCES, as they would for a folder the user cannot
// read (root ignores modes, so a chmod cannot make one when the tests run as root)
const denied = vi.hoisted(() => ({ readdir: new Set<string>(), stat: new Set<string>() }));
vi.mock("node:fs/promises", async (importOriginal) => {
  const real = await importOriginal<typeof import("node:fs/promises")>();
  const eacces = (syscall: string, path: string) => Object.assign(new Error(`EACCES: permission denied, ${syscall} '${path}'`), { code: "EACCES", errno: -13, syscall, path });
  return {
    ...real,
    readdir: ((path: string, opts: never) => (denied.readdir.has(String(path)) ? Promise.reject(eacces("scandir", String(path))) : real.readdir(path, opts))) as typeof real.readdir,
    stat: ((path: string, opts: never) => (denied.stat.has(String(path)) ? Promise.reject(eacces("stat", String(path))) : real.stat(path, opts))) as typeof real.stat,
  };
});

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

  it("follows symbolic links to raw files and folders (a loop of links is walked once); a dangling link named as a raw file is reported, not passed over", async () => {
    const d = join(tmp.dir, "links");
    mkdirSync(join(d, "store", "2024"), { recursive: true });
    mkdirSync(join(d, "raw"), { recursive: true });
    writeFileSync(join(d, "store", "a.jsonl"), "{}\n");
    writeFileSync(join(d, "store", "2024", "b.jsonl"), "{}\n");
    symlinkSync(join(d, "store", "a.jsonl"), join(d, "raw", "a.jsonl"));
    symlinkSync(join(d, "store", "2024"), join(d, "raw", "2024"));
    // a link back up: walked once, not round and round
    symlinkSync(d, join(d, "raw", "up"));
    symlinkSync(join(d, "store", "gone.jsonl"), join(d, "raw", "gone.jsonl"));
    symlinkSync(join(d, "store", "gone.txt"), join(d, "raw", "gone.txt"));
    const listed = await listInputs(["raw"], d);
    const names = (xs: string[]) => xs.map((x) => x.slice(d.length + 1));
    // each folder once, by its real path (store/2024 was walked as raw/2024; raw/up/raw is raw);
    // a file reached by two paths is listed twice and loaded once, by its content
    expect(names(listed.files.map((f) => f.path))).toEqual(["raw/2024/b.jsonl", "raw/a.jsonl", "raw/up/store/a.jsonl"]);
    expect(listed.unreadable).toEqual([
      { path: join(d, "raw", "gone.jsonl"), input: "raw", top: false, link: true, code: "ENOENT", reason: `a symbolic link to ${join(d, "store", "gone.jsonl")}, which does not exist` },
    ]);
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

  it("a folder that cannot be read is reported with the OS's reason, not taken for an empty one (EACCES injected)", async () => {
    const d = join(tmp.dir, "denied");
    for (const f of ["raw/a.jsonl", "raw/c/b.jsonl", "raw/c/deep/x.jsonl", "raw/d/e.jsonl"]) {
      mkdirSync(join(d, f, ".."), { recursive: true });
      writeFileSync(join(d, f), "{}\n");
    }
    const c = join(d, "raw", "c");
    const scandir = `EACCES: permission denied, scandir '${c}'`;
    denied.readdir.add(c);
    try {
      const listed = await listInputs(["raw"], d);
      expect(listed.files.map((f) => f.path.slice(d.length + 1))).toEqual(["raw/a.jsonl", "raw/d/e.jsonl"]);
      expect(listed.unreadable).toEqual([{ path: c, input: "raw", top: false, code: "EACCES", reason: scandir }]);
      expect(listed.missing).toEqual([]);
      // the input itself, and a glob into it (its folder is the input's own)
      expect((await listInputs(["raw/c"], d)).unreadable).toEqual([{ path: c, input: "raw/c", top: true, code: "EACCES", reason: scandir }]);
      expect((await listInputs(["raw/c/*.jsonl"], d)).unreadable).toEqual([{ path: c, input: "raw/c/*.jsonl", top: true, code: "EACCES", reason: scandir }]);
      // a glob that can match inside it reports it; one that cannot match anything in it does not
      expect((await listInputs(["raw/**/*.jsonl"], d)).unreadable).toMatchObject([{ path: c, top: false }]);
      expect((await listInputs(["raw/*.jsonl"], d)).unreadable).toEqual([]);
      // an input below a folder without search permission: stat fails, and it is not "missing"
      denied.stat.add(join(d, "raw", "d"));
      const below = await listInputs(["raw/d"], d);
      expect(below.missing).toEqual([]);
      expect(below.unreadable).toEqual([{ path: join(d, "raw", "d"), input: "raw/d", top: true, code: "EACCES", reason: `EACCES: permission denied, stat '${join(d, "raw", "d")}'` }]);
      // a glob's folder that does not exist is nothing to read, as before
      expect(await listInputs(["nowhere/*.jsonl"], d)).toEqual({ files: [], notRead: [], missing: [], unreadable: [] });
    } finally {
      denied.readdir.clear();
      denied.stat.clear();
    }
  });

  it("a glob reaches the folders that can hold what it matches", () => {
    const one = globReaches("/x/raw/*/day-*.jsonl");
    expect([one("/x"), one("/x/raw"), one("/x/raw/a"), one("/x/raw/a/b"), one("/x/other")]).toEqual([true, true, true, false, false]);
    const deep = globReaches("/x/raw/**/*.jsonl");
    expect([deep("/x/raw/a/b/c"), deep("/x/raw"), deep("/x/rawer")]).toEqual([true, true, false]);
    expect(globReaches("/x/{raw/a,b}/*.jsonl")("/x/anything/else")).toBe(true); // braces across segments: every folder
  });

  it("a folder of mode 000 is reported (real permissions: this user's, or uid 65534's in a child under root)", async (t) => {
    const d = join(tmp.dir, "mode000");
    for (const f of ["raw/a.jsonl", "raw/c/b.jsonl"]) {
      mkdirSync(join(d, f, ".."), { recursive: true });
      writeFileSync(join(d, f), "{}\n");
    }
    for (const p of [tmp.dir, d, join(d, "raw")]) chmodSync(p, 0o755);
    const c = join(d, "raw", "c");
    chmodSync(c, 0o000);
    try {
      let listed: InputListing;
      if (process.getuid?.() !== 0) listed = await listInputs(["raw"], d);
      else {
        // root reads every folder: the listing runs as nobody, from the built module
        const built = fileURLToPath(new URL("../dist/discover.js", import.meta.url));
        const setpriv = spawnSync("setpriv", ["--version"]).status === 0;
        if (!setpriv || !existsSync(built)) {
          const why = `running as root ${setpriv ? "and the tidier is not built (pnpm build)" : "without setpriv (util-linux)"}`;
          if (process.env.CI === "true") throw new Error(`the mode-000 test cannot run under CI=true: ${why}`);
          console.warn(`${why}: skipping the mode-000 test (the EACCES-injected one covers the code; under CI=true this fails)`);
          t.skip();
        }
        const script = `const { listInputs } = await import(${JSON.stringify(built)}); process.stdout.write(JSON.stringify(await listInputs(["raw"], ${JSON.stringify(d)})));`;
        listed = JSON.parse(execFileSync("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", process.execPath, "--input-type=module", "-e", script], { cwd: d, encoding: "utf8" })) as InputListing;
      }
      expect(listed.files.map((f) => f.path)).toEqual([join(d, "raw", "a.jsonl")]);
      expect(listed.unreadable).toEqual([{ path: c, input: "raw", top: false, code: "EACCES", reason: `EACCES: permission denied, scandir '${c}'` }]);
    } finally {
      chmodSync(c, 0o755);
    }
  });
});
