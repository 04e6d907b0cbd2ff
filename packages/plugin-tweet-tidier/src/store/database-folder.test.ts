// The folder of the SQLite database (the job's `database` setting), made one plain mkdir per
// level (makeFolders of @ujr/core): a folder that cannot be made fails at once with
// UJR_TIDY_DATABASE naming it, the OS's refusal and the setting to change.
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { boundedNode } from "../../../runner-local/src/__fixtures__/bounded-node.js";
import { needsBuilt, needsProcFolders } from "../../../runner-local/src/__fixtures__/processes.js";
import { fixture, tempDir } from "../__fixtures__/helpers.js";
import { TIDY_ERRORS } from "../errors.js";
import { SqliteTidyStore } from "./sqlite.js";
import { databaseNotWritable } from "./sqlite-errors.js";

const tmp = tempDir("ujr-tidy-folder-");
afterAll(() => tmp.cleanup());

/** The error `new SqliteTidyStore(file)` threw (the test fails when it opened). */
function openFailure(file: string): { code: string; message: string } {
  let store: SqliteTidyStore | undefined;
  try {
    store = new SqliteTidyStore(file);
  } catch (e) {
    return e as { code: string; message: string };
  }
  void store.close();
  return expect.unreachable(`${file} was opened`);
}

describe("SQLite: the database's folder", () => {
  it("new nested folders are made, and the database in them loads", async () => {
    const dir = join(tmp.dir, "nested", "a", "b");
    const file = join(dir, "tidy.sqlite");
    const store = new SqliteTidyStore(file);
    try {
      expect(await store.ingestFile(fixture("two_tweets.jsonl"))).toMatchObject({ status: "loaded" });
    } finally {
      await store.close();
    }
    expect(statSync(dir).isDirectory()).toBe(true);
    expect(statSync(file).isFile()).toBe(true);
    // an existing folder is used as it is
    const again = new SqliteTidyStore(file);
    await again.close();
  });

  it("a file in the way of a folder above it: UJR_TIDY_DATABASE naming the folder, the file (ENOTDIR) and the `database` setting; nothing made", () => {
    const blocker = join(tmp.dir, "blocker");
    writeFileSync(blocker, "not a folder");
    const file = join(blocker, "sub", "tidy.sqlite");
    const e = openFailure(file);
    expect(e.code).toBe("UJR_TIDY_DATABASE");
    expect(e.message).toBe(
      `cannot create the folder ${join(blocker, "sub")} of SQLite database ${file}: ${blocker} is not a folder (ENOTDIR: not a directory, mkdir '${join(blocker, "sub")}'); ` +
        `point the job's \`database\` setting at a file in a folder that can be created: ${TIDY_ERRORS.UJR_TIDY_DATABASE}`,
    );
    expect(readFileSync(blocker, "utf8")).toBe("not a folder");
  });

  it("a file where the database's folder should be: UJR_TIDY_DATABASE naming it (EEXIST), not SQLite's 'unable to open database file'; the job is not made", () => {
    const blocker = join(tmp.dir, "in-the-way");
    writeFileSync(blocker, "");
    const file = join(blocker, "tidy.sqlite");
    const expected =
      `cannot create the folder ${blocker} of SQLite database ${file}: ${tmp.dir} already has ${blocker} there, which is not a folder (EEXIST: file already exists, mkdir '${blocker}'); ` +
      `point the job's \`database\` setting at a file in a folder that can be created: ${TIDY_ERRORS.UJR_TIDY_DATABASE}`;
    const e = openFailure(file);
    expect(e.code).toBe("UJR_TIDY_DATABASE");
    expect(e.message).toBe(expected);
    // the check when a job is made (ujr validate, the start of ujr run) says the same, before any file is tried
    expect(databaseNotWritable(file)).toMatchObject({ code: "UJR_TIDY_DATABASE", message: expected });
    expect(readFileSync(blocker, "utf8")).toBe("");
  });
});

// The compiled store (dist/), as the runner's workers run it, in a child process: Node 20's
// recursive mkdir spun for ever there at 100% CPU, deaf to SIGTERM and to the test's own
// timeout; the test's timeout fails it and the child is killed with SIGKILL (boundedNode).
const node = boundedNode();

/** What `body` (module code, run in a fresh Node process) printed as its JSON line. */
async function inChild(body: string): Promise<{ code?: string; message?: string; done?: true }> {
  const script = `try { ${body}; console.log(JSON.stringify({ done: true })); } catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }`;
  return JSON.parse(await node(script)) as { code?: string; message?: string; done?: true };
}

/** The compiled tidier under /proc: skipped before a build or off Linux, never under CI=true. */
function needsBuiltOnProc(skip: (note: string) => never): void {
  needsProcFolders(skip);
  needsBuilt(new URL("../../dist/plugin.js", import.meta.url), "the tidier", skip);
}

const UNDER_PROC = "/proc/self/ujr-test/x/tidy.sqlite";
const procRefusal = () =>
  `cannot create the folder /proc/self/ujr-test/x of SQLite database ${UNDER_PROC}: /proc/self is on a filesystem of the kernel (such as /proc) that does not allow new folders ` +
  `(ENOENT: no such file or directory, mkdir '/proc/self/ujr-test'); point the job's \`database\` setting at a file in a folder that can be created: ${TIDY_ERRORS.UJR_TIDY_DATABASE}`;

describe("SQLite: a database under a kernel filesystem", () => {
  it("database: /proc/self/ujr-test/x/tidy.sqlite fails at once with UJR_TIDY_DATABASE naming the folder, /proc's refusal and the `database` setting, not a hang", async (context) => {
    needsBuiltOnProc(context.skip);
    const store = new URL("../../dist/store/sqlite.js", import.meta.url).href;
    const started = performance.now();
    const result = await inChild(`const { SqliteTidyStore } = await import(${JSON.stringify(store)}); await new SqliteTidyStore(${JSON.stringify(UNDER_PROC)}).close()`);
    expect(result).toEqual({ code: "UJR_TIDY_DATABASE", message: procRefusal() });
    // the child's start and the store's import; the mkdir itself answers at once
    expect(performance.now() - started).toBeLessThan(15_000);
  }, 30_000);

  it("a tidy job with that database is not made (ujr validate, the start of ujr run): UJR_TIDY_DATABASE, not a permission to give", async (context) => {
    needsBuiltOnProc(context.skip);
    const plugin = new URL("../../dist/plugin.js", import.meta.url).href;
    const result = await inChild(`
      const { plugin } = await import(${JSON.stringify(plugin)});
      const type = plugin.jobs.tidy;
      const ctx = { name: "tidy", stateDir: process.cwd(), configDir: process.cwd(), logger: { debug() {}, info() {}, warn() {}, error() {}, child() { return this; } } };
      await type.create(type.config.parse({ inputs: ["raw"], database: ${JSON.stringify(UNDER_PROC)} }), ctx)`);
    expect(result).toEqual({ code: "UJR_TIDY_DATABASE", message: procRefusal() });
  }, 30_000);
});
