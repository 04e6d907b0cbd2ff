/**
 * The folders a summary writes: `<outDir>/<job>/` for its runs and a folder target's
 * `<path>/<job>/`, made one plain mkdir per level (makeFolders of @ujr/core). A folder that
 * cannot be made fails at once (UJR_SUMMARY_OUTPUT, UJR_SUMMARY_FOLDER_FAILED) naming it,
 * the OS's refusal and the setting to change.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildTidyDb } from "./__fixtures__/tidy-db.js";
import { summaryConfigSchema } from "./config.js";
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

// The compiled tasks (dist/), as the runner's workers run them, in a child process: Node 20's
// recursive mkdir spun for ever there at 100% CPU, deaf to SIGTERM and to the test's own
// timeout; the child is killed with SIGKILL at the bound, so the old behaviour fails the test.
const built = existsSync(fileURLToPath(new URL("../dist/tasks.js", import.meta.url)));
if (!built) console.warn("the summary plugin is not built: skipping the /proc test of its folders (run `pnpm build`; under CI=true it runs and fails).");

describe.skipIf((!built || process.platform !== "linux") && process.env.CI !== "true")("folders under a kernel filesystem", () => {
  it("outDir or a folder target's path under /proc: the run and the notification fail at once with their codes, naming the folder, /proc's refusal and the setting, not a hang", async () => {
    const outDir = "/proc/self/ujr-test/x";
    const share = "/proc/self/ujr-test/y";
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
    const { stdout } = await promisify(execFile)(process.execPath, ["--input-type=module", "-e", script], { timeout: 20_000, killSignal: "SIGKILL", encoding: "utf8" });
    const [run, copy] = JSON.parse(stdout) as Array<{ code?: string; message?: string }>;
    const kernel = "/proc/self is on a filesystem of the kernel (such as /proc) that does not allow new folders (ENOENT: no such file or directory, mkdir '/proc/self/ujr-test')";
    expect(run).toEqual({
      code: "UJR_SUMMARY_OUTPUT",
      message: `summary job "s" could not create its run folder in "${outDir}/s": ${kernel}. Set the job's "outDir" (now "${outDir}") ${OUT_FIX}`,
    });
    expect(copy).toEqual({
      code: "UJR_SUMMARY_FOLDER_FAILED",
      message: `folder target "${share}": the report could not be copied to ${share}/s/${manifest.runId}: ${kernel}. Set the folder target's "path" (under "notify") ${OUT_FIX}`,
    });
  }, 30_000);
});
