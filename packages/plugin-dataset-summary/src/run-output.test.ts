/**
 * A summary run whose results cannot be written (a full disk, a used-up quota): the write
 * failures are injected through runSummary's `writeFile` option, no small file system.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildTidyDb } from "./__fixtures__/tidy-db.js";
import type { QuerySpec } from "./manifest.js";
import { runSummary, type RunLogger } from "./run.js";

let dir: string;
let dbFile: string;

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), "ujr-summary-output-"));
  dbFile = path.join(dir, "tidy.db");
  buildTidyDb(dbFile, ["brexit.jsonl"]);
}, 30_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const queries: QuerySpec[] = [
  { name: "languages", builtin: "languages", options: {}, timeoutMs: 30_000, maxRows: 1000 },
  { name: "top_hashtags", builtin: "top_hashtags", options: {}, timeoutMs: 30_000, maxRows: 1000 },
];

function logger() {
  const lines: { level: "info" | "warn"; obj: object; msg: string | undefined }[] = [];
  const log: RunLogger = {
    info: (obj, msg) => lines.push({ level: "info", obj, msg }),
    warn: (obj, msg) => lines.push({ level: "warn", obj, msg }),
  };
  return { log, lines };
}

function failing(code: string, when: (file: string) => boolean) {
  return async (file: string) => {
    if (when(file)) throw Object.assign(new Error(`${code}: no space left on device, write`), { code, syscall: "write" });
  };
}

describe("a summary run whose results cannot be written", () => {
  it("a full disk at the first query's files: one UJR_SUMMARY_OUTPUT error naming the folder and the free space, no query blamed, nothing left behind", async () => {
    const outDir = path.join(dir, "full-at-query");
    const { log, lines } = logger();
    const run = runSummary(
      { job: "s", database: dbFile, baseDir: dir, outDir, keep: 3, queries },
      { logger: log, writeFile: failing("ENOSPC", (f) => f.endsWith("languages.csv")) },
    );
    await expect(run).rejects.toMatchObject({ code: "UJR_SUMMARY_OUTPUT" });
    const message = ((await run.catch((e: Error) => e)) as Error).message;
    const jobDir = path.join(outDir, "s");
    expect(message).toMatch(
      new RegExp(
        `^summary job "s" could not write the results of query "languages" in "${jobDir.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}": the disk is full \\(ENOSPC, [\\d.]+ [KMGT]?B free\\)\\. Free space there or point the job's "outDir" at another disk; nothing of this run was kept, and the next run writes the results again\\.$`,
      ),
    );
    // the query ran: no warning says it failed, and the run stopped at the first failed write
    expect(lines.filter((l) => l.level === "warn")).toEqual([]);
    // no half-written run folder stays to fill the disk further
    expect(readdirSync(jobDir)).toEqual([]);
  }, 30_000);

  it("a used-up quota at the report: said as a quota, and the temporary folder is removed", async () => {
    const outDir = path.join(dir, "quota-at-report");
    const run = runSummary(
      { job: "s", database: dbFile, baseDir: dir, outDir, keep: 3, queries },
      { writeFile: failing("EDQUOT", (f) => f.endsWith("report.html")) },
    );
    const err = (await run.catch((e: Error) => e)) as Error & { code?: string };
    expect(err.code).toBe("UJR_SUMMARY_OUTPUT");
    expect(err.message).toContain(`summary job "s" could not write the report in "${path.join(outDir, "s")}": the disk quota of this user is used up there (EDQUOT`);
    expect(readdirSync(path.join(outDir, "s"))).toEqual([]);
  }, 30_000);

  it("a write failure other than space says what failed and to check outDir", async () => {
    const outDir = path.join(dir, "eacces");
    const writeFile = async () => {
      throw Object.assign(new Error("EACCES: permission denied, open 'x'"), { code: "EACCES" });
    };
    const err = (await runSummary({ job: "s", database: dbFile, baseDir: dir, outDir, keep: 3, queries }, { writeFile }).catch((e: Error) => e)) as Error & { code?: string };
    expect(err.code).toBe("UJR_SUMMARY_OUTPUT");
    expect(err.message).toBe(`summary job "s" could not write the results of query "languages" in "${path.join(outDir, "s")}": EACCES: permission denied, open 'x'. Check that the job's "outDir" is writable.`);
  }, 30_000);

  it("a run sweeps the temporary folders of runs whose process is gone, and keeps a live process's", async () => {
    const outDir = path.join(dir, "sweep");
    const jobDir = path.join(outDir, "s");
    // above any Linux pid_max (2^22): a process that cannot exist
    const gone = 99_999_999;
    const stale = [`.tmp-2024-01-01T00-00-00Z-${gone}`, `.tmp-2024-01-01T00-00-01Z-2-${gone}`, `.tmp-2024-01-01T00-00-02Z-${process.pid}`];
    const live = `.tmp-2024-01-01T00-00-03Z-${process.ppid}`;
    for (const name of [...stale, live]) mkdirSync(path.join(jobDir, name, "inner"), { recursive: true });
    const manifest = await runSummary({ job: "s", database: dbFile, baseDir: dir, outDir, keep: 3, queries });
    expect(readdirSync(jobDir).filter((n) => n.startsWith(".tmp-"))).toEqual([live]);
    expect(existsSync(manifest.report)).toBe(true);
  }, 30_000);
});
