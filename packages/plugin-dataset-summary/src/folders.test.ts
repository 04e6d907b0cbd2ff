/**
 * The folders a summary writes: `<outDir>/<job>/` for its runs and a folder target's
 * `<path>/<job>/`, made one plain mkdir per level (makeFolders of @ujr/core). A folder that
 * cannot be made fails at once (UJR_SUMMARY_OUTPUT, UJR_SUMMARY_FOLDER_FAILED) naming it,
 * the OS's refusal and the setting to change. Both are checked when the job is made too (its
 * create(): `ujr validate`, the start of `ujr run`), with the same messages, leaving nothing behind.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestContext, type TestContext } from "@ujr/core/testing";
import type { makeFolders } from "@ujr/core/task";
import { boundedNode } from "../../runner-local/src/__fixtures__/bounded-node.js";
import { needsBuilt, needsProcFolders } from "../../runner-local/src/__fixtures__/processes.js";
import { buildTidyDb } from "./__fixtures__/tidy-db.js";
import { summaryConfigSchema } from "./config.js";
import { summaryJobType } from "./index.js";
import { SummaryJob, checkFolders } from "./job.js";
import type { Manifest, QuerySpec } from "./manifest.js";
import { notify } from "./notify/send.js";
import { runSummary } from "./run.js";

let dir: string;
let dbFile: string;
let manifest: Manifest;

const queries: QuerySpec[] = [{ name: "languages", builtin: "languages", options: {}, timeoutMs: 30_000, maxRows: 1000 }];

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), "ujr-summary-folders-"));
  dbFile = path.join(dir, "tidy.db");
  buildTidyDb(dbFile, ["brexit.jsonl"]);
  manifest = await runSummary({ job: "s", database: dbFile, baseDir: dir, outDir: path.join(dir, "out"), keep: 3, queries });
}, 30_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const OUT_FIX = 'to a folder that can be made, on a writable disk where the user running ujr may write.';
const folderTarget = (where: string) => summaryConfigSchema.parse({ database: "x", schedule: { once: true }, notify: [{ type: "folder", path: where }] }).notify[0]!;

describe("the run's folder (outDir)", () => {
  it("an outDir of new nested folders: they are made and the run is written there", async () => {
    const outDir = path.join(dir, "new", "a", "b");
    const made = await runSummary({ job: "s", database: dbFile, baseDir: dir, outDir, keep: 3, queries });
    expect(made.dir).toBe(path.join(outDir, "s", made.runId));
    expect(existsSync(path.join(made.dir, "report.html"))).toBe(true);
  }, 30_000);

  it("a file in the way of outDir: UJR_SUMMARY_OUTPUT naming the folder, the file (ENOTDIR) and \"outDir\"; nothing made", async () => {
    const outDir = path.join(dir, "out-file");
    writeFileSync(outDir, "not a folder");
    const jobDir = path.join(outDir, "s");
    const err = (await runSummary({ job: "s", database: dbFile, baseDir: dir, outDir, keep: 3, queries }).catch((e: Error) => e)) as Error & { code?: string };
    expect(err.code).toBe("UJR_SUMMARY_OUTPUT");
    expect(err.message).toBe(
      `summary job "s" could not create its run folder in "${jobDir}": ${outDir} is not a folder (ENOTDIR: not a directory, mkdir '${jobDir}'). Set the job's "outDir" (now "${outDir}") ${OUT_FIX}`,
    );
    expect(readFileSync(outDir, "utf8")).toBe("not a folder");
  }, 30_000);

  it("a file where the job's folder in outDir should be: UJR_SUMMARY_OUTPUT naming it (EEXIST)", async () => {
    const outDir = path.join(dir, "out-with-file");
    const jobDir = path.join(outDir, "s");
    mkdirSync(outDir);
    writeFileSync(jobDir, "");
    const err = (await runSummary({ job: "s", database: dbFile, baseDir: dir, outDir, keep: 3, queries }).catch((e: Error) => e)) as Error & { code?: string };
    expect(err.code).toBe("UJR_SUMMARY_OUTPUT");
    expect(err.message).toBe(
      `summary job "s" could not create its run folder in "${jobDir}": ${outDir} already has ${jobDir} there, which is not a folder (EEXIST: file already exists, mkdir '${jobDir}'). ` +
        `Set the job's "outDir" (now "${outDir}") ${OUT_FIX}`,
    );
  }, 30_000);
});

describe("a folder target", () => {
  it("a path of new nested folders: they are made and the report is copied there", async () => {
    const share = path.join(dir, "share", "a", "b");
    await notify({ job: "s", runDir: manifest.dir, targetName: "f", target: folderTarget(share) });
    expect(readFileSync(path.join(share, "s", manifest.runId, "report.html"), "utf8")).toBe(readFileSync(manifest.report, "utf8"));
    expect(readdirSync(path.join(share, "s")).sort()).toEqual([manifest.runId, "latest.html"].sort());
  });

  it("a file in the way of its path: UJR_SUMMARY_FOLDER_FAILED naming the folder, the file (ENOTDIR) and its \"path\"", async () => {
    const share = path.join(dir, "share-file");
    writeFileSync(share, "not a folder");
    const run = notify({ job: "s", runDir: manifest.dir, targetName: "f", target: folderTarget(share) });
    await expect(run).rejects.toMatchObject({
      code: "UJR_SUMMARY_FOLDER_FAILED",
      message:
        `folder target "${share}": the report could not be copied to ${path.join(share, "s", manifest.runId)}: ${share} is not a folder (ENOTDIR: not a directory, mkdir '${path.join(share, "s")}'). ` +
        `Set the folder target's "path" (under "notify") ${OUT_FIX}`,
    });
  });
});

/**
 * The job as the runner makes it (`ujr validate`, the start of `ujr run`): the job type's
 * create(), relative paths resolved from `configDir` (a new folder of its own, so that what
 * the check leaves behind shows).
 */
function createJob(config: Record<string, unknown>, configDir = mkdtempSync(path.join(dir, "config-"))): { made: Promise<unknown>; ctx: TestContext; configDir: string } {
  const ctx = createTestContext({ name: "s", stateDir: path.join(dir, "state"), configDir });
  const made = Promise.resolve().then(() => summaryJobType.create(summaryJobType.config.parse({ database: "tidy.db", schedule: { once: true }, ...config }), ctx));
  return { made, ctx, configDir };
}

describe("the check of the folders when the job is made", () => {
  it("a file where outDir should be: create() fails with the run's UJR_SUMMARY_OUTPUT (ENOTDIR) naming the folder and \"outDir\"", async () => {
    const configDir = mkdtempSync(path.join(dir, "config-"));
    const outDir = path.join(configDir, "out");
    writeFileSync(outDir, "not a folder");
    const jobDir = path.join(outDir, "s");
    await expect(createJob({ outDir: "out" }, configDir).made).rejects.toMatchObject({
      code: "UJR_SUMMARY_OUTPUT",
      message: `summary job "s" could not create its run folder in "${jobDir}": ${outDir} is not a folder (ENOTDIR: not a directory, mkdir '${jobDir}'). Set the job's "outDir" (now "${outDir}") ${OUT_FIX}`,
    });
    expect(readFileSync(outDir, "utf8")).toBe("not a folder");
  });

  it("a file where the job's folder in outDir should be: create() fails with UJR_SUMMARY_OUTPUT (EEXIST) naming it", async () => {
    const configDir = mkdtempSync(path.join(dir, "config-"));
    const outDir = path.join(configDir, "summaries");
    const jobDir = path.join(outDir, "s");
    mkdirSync(outDir);
    writeFileSync(jobDir, "");
    // the default outDir, ./summaries
    await expect(createJob({}, configDir).made).rejects.toMatchObject({
      code: "UJR_SUMMARY_OUTPUT",
      message:
        `summary job "s" could not create its run folder in "${jobDir}": ${outDir} already has ${jobDir} there, which is not a folder (EEXIST: file already exists, mkdir '${jobDir}'). ` +
        `Set the job's "outDir" (now "${outDir}") ${OUT_FIX}`,
    });
  });

  it("a file where a folder target's path, or its job folder, should be: create() fails with the notification's UJR_SUMMARY_FOLDER_FAILED (ENOTDIR, EEXIST) naming it and its \"path\"; outDir's check left nothing", async () => {
    const share = path.join(dir, "share-file-at-create");
    writeFileSync(share, "not a folder");
    const inWay = createJob({ notify: [{ type: "folder", path: share }] });
    await expect(inWay.made).rejects.toMatchObject({
      code: "UJR_SUMMARY_FOLDER_FAILED",
      message:
        `folder target "${share}": the report could not be copied to ${path.join(share, "s")}: ${share} is not a folder (ENOTDIR: not a directory, mkdir '${path.join(share, "s")}'). ` +
        `Set the folder target's "path" (under "notify") ${OUT_FIX}`,
    });
    expect(readdirSync(inWay.configDir)).toEqual([]);

    const share2 = path.join(dir, "share-with-file-at-create");
    mkdirSync(share2);
    writeFileSync(path.join(share2, "s"), "");
    await expect(createJob({ notify: [{ type: "folder", path: share2 }] }).made).rejects.toMatchObject({
      code: "UJR_SUMMARY_FOLDER_FAILED",
      message:
        `folder target "${share2}": the report could not be copied to ${path.join(share2, "s")}: ${share2} already has ${path.join(share2, "s")} there, which is not a folder (EEXIST: file already exists, mkdir '${path.join(share2, "s")}'). ` +
        `Set the folder target's "path" (under "notify") ${OUT_FIX}`,
    });
  });

  it("new nested folders for outDir and a folder target: create() passes and leaves nothing behind", async () => {
    const configDir = mkdtempSync(path.join(dir, "config-"));
    const { made } = createJob({ outDir: "new/a/b", notify: [{ type: "folder", path: path.join(configDir, "share", "a", "b") }] }, configDir);
    await expect(made).resolves.toBeInstanceOf(SummaryJob);
    expect(readdirSync(configDir)).toEqual([]);
  });

  it("an existing outDir (with the job's folder, or empty) and folder target: create() passes and leaves them as they were", async () => {
    const configDir = mkdtempSync(path.join(dir, "config-"));
    mkdirSync(path.join(configDir, "summaries", "s"), { recursive: true });
    writeFileSync(path.join(configDir, "summaries", "s", "latest.json"), "{}");
    mkdirSync(path.join(configDir, "share"));
    await createJob({ notify: [{ type: "folder", path: path.join(configDir, "share") }] }, configDir).made;
    expect(readdirSync(configDir).sort()).toEqual(["share", "summaries"]);
    expect(readdirSync(path.join(configDir, "summaries", "s"))).toEqual(["latest.json"]);
    expect(readdirSync(path.join(configDir, "share"))).toEqual([]);

    const empty = mkdtempSync(path.join(dir, "config-"));
    mkdirSync(path.join(empty, "out"));
    await createJob({ outDir: "out" }, empty).made;
    expect(readdirSync(path.join(empty, "out"))).toEqual([]);
  });

  it("a full disk (ENOSPC, EDQUOT) is no reason not to make the job: a warning each, nothing thrown", () => {
    const configDir = mkdtempSync(path.join(dir, "config-"));
    const jobDir = path.join(configDir, "summaries", "s");
    const share = path.join(configDir, "share");
    const full = (folder: string, code: string) => ({ refused: { folder, parent: path.dirname(folder), error: Object.assign(new Error(`${code}: no space, mkdir '${folder}'`), { code }) } });
    const make: typeof makeFolders = (folder) => (folder === jobDir ? full(path.join(configDir, "summaries"), "ENOSPC") : full(path.join(share, "s"), "EDQUOT"));
    const ctx = createTestContext({ name: "s", stateDir: path.join(dir, "state"), configDir });
    checkFolders(summaryConfigSchema.parse({ database: "x", schedule: { once: true }, notify: [{ type: "folder", path: share }] }), ctx, make);
    expect(ctx.logs.filter((l) => l.level === 40).map((l) => [l.code, l.dir])).toEqual([
      ["ENOSPC", jobDir],
      ["EDQUOT", path.join(share, "s")],
    ]);
    expect(ctx.logs[0]!.msg).toContain(`the job's folder in outDir ${jobDir} cannot be made now: ${configDir} is on a disk with no space left`);
  });
});

// The compiled tasks (dist/), as the runner's workers run them, in a child process: Node 20's
// recursive mkdir spun for ever there at 100% CPU, deaf to SIGTERM and to the test's own
// timeout; the test's timeout fails it and the child is killed with SIGKILL (boundedNode).
const node = boundedNode();

/** What `script` (module code, run in a fresh Node process) printed as its JSON line of results. */
async function childResults(script: string): Promise<Array<{ code?: string; message?: string }>> {
  return JSON.parse(await node(script)) as Array<{ code?: string; message?: string }>;
}

/** The compiled summary under /proc: skipped before a build or off Linux, never under CI=true. */
function needsBuiltOnProc(skip: (note: string) => never): void {
  needsProcFolders(skip);
  needsBuilt(new URL("../dist/index.js", import.meta.url), "the summary plugin", skip);
}

const KERNEL = "/proc/self is on a filesystem of the kernel (such as /proc) that does not allow new folders (ENOENT: no such file or directory, mkdir '/proc/self/ujr-test')";
const [OUT_DIR, SHARE] = ["/proc/self/ujr-test/x", "/proc/self/ujr-test/y"];

/** The run's refusal of OUT_DIR and the folder target's of SHARE (its copy in `copiedTo`), as each is said in full. */
function expectProcRefusals(run: unknown, copy: unknown, copiedTo: string): void {
  expect(run).toEqual({
    code: "UJR_SUMMARY_OUTPUT",
    message: `summary job "s" could not create its run folder in "${OUT_DIR}/s": ${KERNEL}. Set the job's "outDir" (now "${OUT_DIR}") ${OUT_FIX}`,
  });
  expect(copy).toEqual({
    code: "UJR_SUMMARY_FOLDER_FAILED",
    message: `folder target "${SHARE}": the report could not be copied to ${copiedTo}: ${KERNEL}. Set the folder target's "path" (under "notify") ${OUT_FIX}`,
  });
}

describe("folders under a kernel filesystem", () => {
  it("outDir or a folder target's path under /proc: the run and the notification fail at once with their codes, naming the folder, /proc's refusal and the setting, not a hang", async (context) => {
    needsBuiltOnProc(context.skip);
    const [outDir, share] = [OUT_DIR, SHARE];
    const tasks = new URL("../dist/tasks.js", import.meta.url).href;
    const script = `
      const { runQueries, notifyTarget } = await import(${JSON.stringify(tasks)});
      const logger = { debug() {}, info() {}, warn() {}, error() {}, child() { return logger; } };
      const ctx = { signal: new AbortController().signal, logger, attempt: 1, job: "s", taskId: "1", progress() {} };
      const steps = [
        () => runQueries.run(${JSON.stringify({ job: "s", database: dbFile, baseDir: dir, outDir, keep: 3, queries })}, ctx),
        () => notifyTarget.run(${JSON.stringify({ job: "s", runDir: manifest.dir, targetName: "f", target: folderTarget(share) })}, ctx),
      ];
      const results = [];
      for (const step of steps) {
        try { await step(); results.push({ ok: true }); }
        catch (e) { results.push({ code: e.code, message: e.message }); }
      }
      console.log(JSON.stringify(results));`;
    const [run, copy] = await childResults(script);
    expectProcRefusals(run, copy, `${SHARE}/s/${manifest.runId}`);
  }, 30_000);

  it("outDir or a folder target's path under /proc: the job's create() (ujr validate, the start of ujr run) fails at once with the run's or the notification's code, naming the folder, /proc's refusal and the setting, not a hang", async (context) => {
    needsBuiltOnProc(context.skip);
    const [outDir, share] = [OUT_DIR, SHARE];
    const index = new URL("../dist/index.js", import.meta.url).href;
    const configs = [
      { database: "tidy.db", schedule: { once: true }, outDir },
      { database: "tidy.db", schedule: { once: true }, outDir: path.join(dir, "out"), notify: [{ type: "folder", path: share }] },
    ];
    const script = `
      const { summaryJobType } = await import(${JSON.stringify(index)});
      const logger = { trace() {}, debug() {}, info() {}, warn() {}, error() {}, fatal() {}, child() { return logger; } };
      const results = [];
      for (const config of ${JSON.stringify(configs)}) {
        try {
          await summaryJobType.create(summaryJobType.config.parse(config), { name: "s", stateDir: ${JSON.stringify(dir)}, configDir: ${JSON.stringify(dir)}, logger });
          results.push({ ok: true });
        } catch (e) { results.push({ code: e.code, message: e.message }); }
      }
      console.log(JSON.stringify(results));`;
    const [run, copy] = await childResults(script);
    expectProcRefusals(run, copy, `${SHARE}/s`);
  }, 30_000);
});
