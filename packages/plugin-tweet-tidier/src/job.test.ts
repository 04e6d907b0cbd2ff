import { renameSync, utimesSync, writeFileSync, readFileSync, mkdirSync, rmSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { silentLogger, type Task } from "@ujr/core";
import { capturingLogger, collectTasks, runJob } from "@ujr/core/testing";
import { afterAll, describe, expect, it, vi } from "vitest";
import { ALL_FIXTURES, FIXTURES, fixture, tempDir } from "./__fixtures__/helpers.js";
import { RECENT_RESULTS, TidyJob, resolveDatabase } from "./job.js";
import plugin, { SqliteTidyStore } from "./index.js";
import { checkForNewData, tidyBatch, type CheckResult, type TidyBatchArgs, type TidyBatchResult } from "./tasks.js";

const pkgDir = fileURLToPath(new URL("..", import.meta.url));
const tmp = tempDir();
afterAll(() => tmp.cleanup());

const ctxFor = (name: string, dir: string) => ({ name, stateDir: join(dir, "state"), configDir: dir, logger: silentLogger() });

/** Runs one task of the job in this thread, as a worker would, and reports back to the job. */
async function runTask(job: TidyJob, task: Task): Promise<unknown> {
  const def = task.ref.export === "tidyBatch" ? tidyBatch : checkForNewData;
  const ac = new AbortController();
  const result = await (def.run as (a: unknown, c: unknown) => Promise<unknown>)(task.args, {
    signal: ac.signal,
    logger: silentLogger(),
    attempt: 1,
    job: job.name,
    taskId: "t",
    progress() {},
  });
  job.onTaskDone(task, result);
  return result;
}

describe("plugin", () => {
  it("declares the tidy job type with a validated config and defaults", () => {
    expect(plugin.name).toBe("@ujr/plugin-tweet-tidier");
    const cfg = plugin.jobs.tidy!.config.parse({ inputs: ["raw"] });
    expect(cfg).toMatchObject({ mode: "continuous", pollInterval: "30s" });
    expect(() => plugin.jobs.tidy!.config.parse({ inputs: [] })).toThrow();
    expect(() => plugin.jobs.tidy!.config.parse({ inputs: ["x"], pollInterval: "soon" })).toThrow();
    expect(resolveDatabase(undefined, { stateDir: "/s", configDir: "/c" })).toBe("/s/tidy.sqlite");
    expect(resolveDatabase("db/t.sqlite", { stateDir: "/s", configDir: "/c" })).toBe("/c/db/t.sqlite");
    expect(resolveDatabase("postgres://h/db", { stateDir: "/s", configDir: "/c" })).toBe("postgres://h/db");
  });
});

describe("tidy job", () => {
  it("PostgreSQL: runs as many batches at once as `parallel` says, by default one per core (at most 4)", () => {
    const files = Array.from({ length: 12 }, (_, i) => ({ path: `/raw/f${String(i).padStart(2, "0")}.jsonl`, size: 1000, mtimeMs: 0 }));
    const running = (parallel?: number) => {
      const config = plugin.jobs.tidy!.config.parse({ inputs: ["raw"], mode: "once", settleTime: 0, database: "postgres://h/db", ...(parallel ? { parallel } : {}) });
      const job = new TidyJob(config, ctxFor("pg", tmp.dir));
      const [check] = job.getRunnableTasks();
      job.onTaskDone(check!, { files } satisfies CheckResult);
      const batches = job.getRunnableTasks().filter((t) => t.ref.export === "tidyBatch");
      const taken = batches.flatMap((t) => (t.args as TidyBatchArgs).files);
      expect(new Set(taken).size).toBe(taken.length); // no file in two batches
      return batches.length;
    };
    expect(running(3)).toBe(3);
    expect(running(1)).toBe(1);
    expect(running()).toBe(Math.min(4, availableParallelism()));
  });

  it("asks the check to start a parse thread ahead of the batches on SQLite, not on PostgreSQL (which parses in its loaders)", () => {
    const checkArgs = (database: string) => {
      const config = plugin.jobs.tidy!.config.parse({ inputs: ["raw"], mode: "once", settleTime: 0, database });
      const [check] = new TidyJob(config, ctxFor("warm", tmp.dir)).getRunnableTasks();
      expect(check!.ref.export).toBe("checkForNewData");
      return check!.args;
    };
    expect(checkArgs("tidy.sqlite")).toMatchObject({ warmParser: true });
    expect(checkArgs("postgres://h/db")).toMatchObject({ warmParser: false });
  });

  it("once: tidies every fixture through the runner (one batch at a time on SQLite), then is done", async () => {
    const dir = join(tmp.dir, "once");
    mkdirSync(dir, { recursive: true });
    const config = plugin.jobs.tidy!.config.parse({ inputs: [FIXTURES], mode: "once", database: "tidy.sqlite" });
    const job = (await plugin.jobs.tidy!.create(config, ctxFor("once", dir))) as TidyJob;
    const res = await runJob(job, { resolveFrom: [pkgDir], concurrency: 4, logger: silentLogger() });
    expect(res.failed).toEqual([]);
    const tidied = res.done.filter((e) => e.task.ref.export === "tidyBatch").flatMap((e) => (e.result as TidyBatchResult).files);
    expect(tidied.map((f) => f.ok && f.result.status).sort()).toEqual([...Array(ALL_FIXTURES.length - 1).fill("loaded"), "partial"].sort());
    const store = new SqliteTidyStore(join(dir, "tidy.sqlite"));
    expect(await store.count("source_files")).toBe(ALL_FIXTURES.length);
    expect(await store.count("tweets", "directly_collected = 1")).toBeGreaterThan(500);
    await store.close();
    // never two batches of one SQLite database at once
    expect(job.maxConcurrent).toBe(1);
  });

  it("once: a file of which nothing could be loaded fails the job (naming the file and why); a partly loaded one is a warning", async () => {
    const dir = join(tmp.dir, "once-bad");
    mkdirSync(join(dir, "raw"), { recursive: true });
    const good = readFileSync(fixture("two_tweets.jsonl"), "utf8").trimEnd().split("\n");
    writeFileSync(join(dir, "raw", "a-partial.jsonl"), [...good, "{truncated"].join("\n") + "\n");
    writeFileSync(join(dir, "raw", "b-garbage.jsonl"), "not json\n{\"nor\":\"a page\"}\n");
    writeFileSync(join(dir, "raw", "c-good.jsonl"), readFileSync(fixture("brexit.jsonl")));
    const config = plugin.jobs.tidy!.config.parse({ inputs: ["raw"], mode: "once", settleTime: 0 });
    const { logger, logs } = capturingLogger("info");
    const job = (await plugin.jobs.tidy!.create(config, { ...ctxFor("once-bad", dir), logger })) as TidyJob;
    const res = await runJob(job, { resolveFrom: [pkgDir], concurrency: 2, logger: silentLogger() });
    expect(res.failedJobs).toEqual(["once-bad"]);
    const failure = logs.find((l) => l.code === "UJR_TIDY_NOTHING_LOADED");
    // the first bad line's error names the likely cause of the rest
    expect(failure?.msg).toMatch(/^tidy: nothing of the file could be loaded \(none of its 2 line\(s\) could be loaded; line 1: UJR_TIDY_BAD_JSON: invalid JSON: .+; see ingest_errors\)$/);
    expect(job.warnings).toBe(1);
    expect(logs.find((l) => l.file === join(dir, "raw", "a-partial.jsonl"))?.msg).toBe(
      "tidy: partly loaded: 1 bad line(s) recorded in ingest_errors",
    );
    // the good and the partial file are stored; the garbage file is recorded with its errors
    const store = new SqliteTidyStore(join(dir, "state", "tidy.sqlite"));
    expect((await store.query<{ status: string }>("SELECT status FROM source_files ORDER BY path")).map((r) => r.status)).toEqual([
      "partial",
      "partial",
      "loaded",
    ]);
    await store.close();

    // run again: the garbage file is already loaded, still with nothing loadable: still a failure
    const again = (await plugin.jobs.tidy!.create(config, ctxFor("once-bad", dir))) as TidyJob;
    const res2 = await runJob(again, { resolveFrom: [pkgDir], concurrency: 2, logger: silentLogger() });
    expect(res2.failedJobs).toEqual(["once-bad"]);

    // without the garbage file the job is done, the partial file a warning
    rmSync(join(dir, "raw", "b-garbage.jsonl"));
    const third = (await plugin.jobs.tidy!.create(config, ctxFor("once-bad", dir))) as TidyJob;
    const res3 = await runJob(third, { resolveFrom: [pkgDir], concurrency: 2, logger: silentLogger() });
    expect(res3.failedJobs).toEqual([]);
  });

  it("once: likely raw data passed over for its name (twarc2 output saved as .json) is named in one warning, not taken silently for nothing to load", async () => {
    const dir = join(tmp.dir, "once-json");
    mkdirSync(join(dir, "raw"), { recursive: true });
    writeFileSync(join(dir, "raw", "search.json"), readFileSync(fixture("brexit.jsonl")));
    writeFileSync(join(dir, "raw", "two.jsonl"), readFileSync(fixture("two_tweets.jsonl")));
    const config = plugin.jobs.tidy!.config.parse({ inputs: ["raw"], mode: "once", settleTime: 0 });
    const { logger, logs } = capturingLogger("info");
    const job = (await plugin.jobs.tidy!.create(config, { ...ctxFor("once-json", dir), logger })) as TidyJob;
    const res = await runJob(job, { resolveFrom: [pkgDir], concurrency: 2, logger: silentLogger() });
    expect(res.failedJobs).toEqual([]);
    expect(job.results.map((r) => r.path)).toEqual([join(dir, "raw", "two.jsonl")]);
    const warned = logs.filter((l) => l.code === "UJR_TIDY_NAME_NOT_READ");
    expect(warned).toHaveLength(1);
    expect(warned[0]!.msg).toContain(`tidy: 1 file(s) not read for their names: ${join(dir, "raw", "search.json")}: `);
    expect(warned[0]!.msg).toContain("twarc2 output saved as .json is JSON Lines: rename it .jsonl, or name the file itself in `inputs`");
  });

  it("continuous: warns about a passed-over name once, and again only for new ones", () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    try {
      const { logger, logs } = capturingLogger("info");
      const config = plugin.jobs.tidy!.config.parse({ inputs: ["raw"], settleTime: 0, pollInterval: "30s" });
      const job = new TidyJob(config, { ...ctxFor("warn-once", tmp.dir), logger });
      const check = (notRead: string[]) => {
        const t = job.getRunnableTasks().find((x) => x.signature === "check");
        expect(t, "a check is due").toBeDefined();
        job.onTaskDone(t!, { files: [], notRead } satisfies CheckResult);
        vi.advanceTimersByTime(30_000); // the next poll
      };
      check(["/raw/a.json"]);
      check(["/raw/a.json"]);
      check(["/raw/a.json", "/raw/b.json"]);
      const msgs = logs.filter((l) => l.code === "UJR_TIDY_NAME_NOT_READ").map((l) => l.msg);
      expect(msgs).toHaveLength(2);
      expect(msgs[0]).toContain("1 file(s) not read for their names: /raw/a.json: ");
      expect(msgs[1]).toContain("1 file(s) not read for their names: /raw/b.json: ");
    } finally {
      vi.useRealTimers();
    }
  });

  it("once: a file gone between the check and its batch (archived and removed by a collector) is not a failure, and is named in an info line", async () => {
    const dir = join(tmp.dir, "once-gone");
    mkdirSync(join(dir, "raw"), { recursive: true });
    const gone = join(dir, "raw", "a-gone.jsonl");
    writeFileSync(gone, readFileSync(fixture("two_tweets.jsonl")));
    writeFileSync(join(dir, "raw", "b-kept.jsonl"), readFileSync(fixture("brexit.jsonl")));
    const config = plugin.jobs.tidy!.config.parse({ inputs: ["raw"], mode: "once", settleTime: 0 });
    const { logger, logs } = capturingLogger("info");
    const job = (await plugin.jobs.tidy!.create(config, { ...ctxFor("once-gone", dir), logger })) as TidyJob;
    const { tasks } = await collectTasks(job);
    await runTask(job, tasks[0]!); // the check finds both
    const batch = await collectTasks(job);
    rmSync(gone);
    await runTask(job, batch.tasks[0]!);
    const end = await collectTasks(job);
    expect(end).toMatchObject({ tasks: [], done: true });
    expect(end.failed).toBeUndefined();
    expect(job.results.map((r) => r.path)).toEqual([join(dir, "raw", "b-kept.jsonl")]);
    expect(logs.filter((l) => l.code === "UJR_TIDY_FILE_GONE").map((l) => [l.file, l.msg])).toEqual([
      [gone, "tidy: file gone before it was read (moved or deleted since it was found): not loaded"],
    ]);
    expect(logs.some((l) => l.msg?.startsWith("tidy: file failed"))).toBe(false);
  });

  it("continuous: counts every file's result for the panel, keeping only the last RECENT_RESULTS results (a job loads files for months)", () => {
    const config = plugin.jobs.tidy!.config.parse({ inputs: ["raw"], settleTime: 0 });
    const job = new TidyJob(config, ctxFor("many", tmp.dir));
    const n = RECENT_RESULTS + 500;
    const files = Array.from({ length: n }, (_, i) => ({ path: `/raw/${String(i).padStart(5, "0")}.jsonl`, size: 100, mtimeMs: 0 }));
    job.onTaskDone(job.getRunnableTasks().find((t) => t.signature === "check")!, { files } satisfies CheckResult);
    for (let batch = job.getRunnableTasks().find((t) => t.ref.export === "tidyBatch"); batch; batch = job.getRunnableTasks().find((t) => t.ref.export === "tidyBatch")) {
      const result: TidyBatchResult = {
        files: (batch.args as TidyBatchArgs).files.map((path) => ({ path, ok: true, result: { path, status: "loaded", fileId: 1, sha256: path, pages: 1, tweets: 2, errors: 0, nothingLoaded: false } })),
      };
      job.onTaskDone(batch, result);
    }
    expect(job.totals).toMatchObject({ loaded: n, tweets: 2 * n, pages: n });
    expect(job.results).toHaveLength(RECENT_RESULTS);
    expect(job.results.at(-1)!.path).toBe(files.at(-1)!.path);
    expect(job.statusPanel().fields.find((f) => f.label === "Files loaded")).toMatchObject({ value: n });
    // the files archived and removed: the next check finds none of them, and the job holds no state of them
    vi.useFakeTimers({ toFake: ["Date"] });
    try {
      vi.advanceTimersByTime(60_000);
      job.onTaskDone(job.getRunnableTasks().find((t) => t.signature === "check")!, { files: files.slice(-1) } satisfies CheckResult);
      expect((job as unknown as { done: Map<string, unknown> }).done.size).toBe(1);
      expect(job.getRunnableTasks().filter((t) => t.ref.export === "tidyBatch")).toEqual([]); // the one left is not loaded again
    } finally {
      vi.useRealTimers();
    }
  });

  it("once: an input that does not exist (a typo) fails the job, naming it and a near name; a continuous job warns once", async () => {
    const dir = join(tmp.dir, "typo");
    mkdirSync(join(dir, "raw-pages"), { recursive: true });
    writeFileSync(join(dir, "raw-pages", "a.jsonl"), readFileSync(fixture("two_tweets.jsonl")));
    const once = plugin.jobs.tidy!.config.parse({ inputs: ["raw-pagse"], mode: "once", settleTime: 0 });
    const job = (await plugin.jobs.tidy!.create(once, ctxFor("typo", dir))) as TidyJob;
    const res = await runJob(job, { resolveFrom: [pkgDir], concurrency: 2, logger: silentLogger() });
    expect(res.failedJobs).toEqual(["typo"]);
    // the message, step by step: the check, then the job's end
    const again = (await plugin.jobs.tidy!.create(once, ctxFor("typo", dir))) as TidyJob;
    await runTask(again, (await collectTasks(again)).tasks[0]!);
    const end = await collectTasks(again);
    expect(end.failed?.message).toBe(
      `input "raw-pagse" does not exist (${join(dir, "raw-pagse")}) (did you mean "raw-pages"?): An input of the tidy job names a file or folder that does not exist (a typo, or a folder a collector has not created yet). In \`once\` mode this fails the job (exit 1); a continuous job warns once and reads it when it appears. Check \`inputs\` (relative paths are from the config file's folder).`,
    );

    vi.useFakeTimers({ toFake: ["Date"] });
    try {
      const { logger, logs } = capturingLogger("info");
      const continuous = plugin.jobs.tidy!.config.parse({ inputs: ["raw-pages", "later"], settleTime: 0, pollInterval: "30s" });
      const watching = new TidyJob(continuous, { ...ctxFor("typo-continuous", dir), logger });
      for (let i = 0; i < 2; i++) {
        await runTask(watching, watching.getRunnableTasks().find((t) => t.signature === "check")!);
        vi.advanceTimersByTime(30_000);
      }
      expect(logs.filter((l) => l.code === "UJR_TIDY_INPUT_MISSING").map((l) => l.msg)).toEqual([`tidy: input "later" does not exist (${join(dir, "later")}): it is read once it exists`]);
    } finally {
      vi.useRealTimers();
    }
  });

  it("once: the JobFailed message names the files and why", async () => {
    const dir = join(tmp.dir, "once-why");
    mkdirSync(join(dir, "raw"), { recursive: true });
    writeFileSync(join(dir, "raw", "utf16.jsonl"), Buffer.from(readFileSync(fixture("two_tweets.jsonl"), "utf8"), "utf16le"));
    const config = plugin.jobs.tidy!.config.parse({ inputs: ["raw"], mode: "once", settleTime: 0 });
    const job = (await plugin.jobs.tidy!.create(config, ctxFor("once-why", dir))) as TidyJob;
    const { tasks } = await collectTasks(job);
    await runTask(job, tasks[0]!);
    const batch = await collectTasks(job);
    await runTask(job, batch.tasks[0]!);
    const end = await collectTasks(job);
    expect(end.failed?.message).toBe(
      `1 raw file(s) could not be tidied: ${join(dir, "raw", "utf16.jsonl")} (none of its 1 line(s) could be loaded; line 1: UJR_TIDY_UTF16: the file is UTF-16LE (NUL bytes between ASCII characters), not UTF-8: nothing of it was loaded. Convert it (e.g. iconv -f UTF-16 -t UTF-8) and load it under a new name; see ingest_errors)`,
    );
  });

  it("continuous: picks up new files as they appear, never reads one still being written", async () => {
    const dir = join(tmp.dir, "cont");
    mkdirSync(join(dir, "raw"), { recursive: true });
    const config = plugin.jobs.tidy!.config.parse({ inputs: ["raw"], mode: "continuous", settleTime: "1h", pollInterval: "1s" });
    const job = new TidyJob(config, ctxFor("cont", dir));

    // the collector writes a temp file, then renames it
    writeFileSync(join(dir, "raw", ".1-1.jsonl.tmp"), readFileSync(fixture("brexit.jsonl")));
    let { tasks } = await collectTasks(job);
    expect(tasks.map((t) => t.ref.export)).toEqual(["checkForNewData"]);
    expect(((await runTask(job, tasks[0]!)) as { files: unknown[] }).files).toEqual([]);

    renameSync(join(dir, "raw", ".1-1.jsonl.tmp"), join(dir, "raw", "1-1.jsonl"));
    job.nextCheck = 0;
    (job as unknown as { nextCheckAt: number }).nextCheckAt = 0;
    ({ tasks } = await collectTasks(job));
    await runTask(job, tasks[0]!); // first sighting: too fresh, not read yet
    (job as unknown as { nextCheckAt: number }).nextCheckAt = 0;
    ({ tasks } = await collectTasks(job));
    expect(tasks.map((t) => t.ref.export)).toEqual(["checkForNewData"]);
    await runTask(job, tasks[0]!); // unchanged since last check: stable
    ({ tasks } = await collectTasks(job));
    expect(tasks.map((t) => [t.ref.export, t.signature, t.args])).toEqual([
      ["tidyBatch", `batch:${join(dir, "raw", "1-1.jsonl")}`, { database: join(dir, "state", "tidy.sqlite"), files: [join(dir, "raw", "1-1.jsonl")] }],
    ]);
    const r = (await runTask(job, tasks[0]!)) as TidyBatchResult;
    expect(r.files).toMatchObject([{ ok: true, result: { status: "loaded", tweets: 100 } }]);
    expect(job.nextCheck).toBeGreaterThan(Date.now() - 10);

    // a file that grows between checks is not read
    const grow = join(dir, "raw", "1-2.jsonl");
    writeFileSync(grow, readFileSync(fixture("two_tweets.jsonl")));
    (job as unknown as { nextCheckAt: number }).nextCheckAt = 0;
    ({ tasks } = await collectTasks(job));
    await runTask(job, tasks[0]!);
    writeFileSync(grow, Buffer.concat([readFileSync(fixture("two_tweets.jsonl")), readFileSync(fixture("edited.jsonl"))]));
    utimesSync(grow, new Date(), new Date(Date.now() + 5000));
    (job as unknown as { nextCheckAt: number }).nextCheckAt = 0;
    ({ tasks } = await collectTasks(job));
    await runTask(job, tasks[0]!);
    ({ tasks } = await collectTasks(job));
    expect(tasks.filter((t) => t.ref.export === "tidyBatch")).toEqual([]);
  });
});

describe("tidyBatch", () => {
  it("logs at debug how long the index build after a first load and the close (the final checkpoint) took", async () => {
    const dir = join(tmp.dir, "timings");
    mkdirSync(dir, { recursive: true });
    const { logger, logs } = capturingLogger("debug");
    const envBefore = process.env.UJR_TIDY_DEFER_INDEXES_BYTES;
    process.env.UJR_TIDY_DEFER_INDEXES_BYTES = "0"; // the fixtures are small: this batch defers its indexes
    try {
      const args: TidyBatchArgs = { database: join(dir, "tidy.sqlite"), files: [fixture("brexit.jsonl"), fixture("two_tweets.jsonl")] };
      const ctx = { signal: new AbortController().signal, logger, attempt: 1, job: "tidy", taskId: "t", progress() {} };
      const r = await (tidyBatch.run as (a: unknown, c: unknown) => Promise<TidyBatchResult>)(args, ctx);
      expect(r.files.every((f) => f.ok)).toBe(true);
    } finally {
      if (envBefore === undefined) delete process.env.UJR_TIDY_DEFER_INDEXES_BYTES;
      else process.env.UJR_TIDY_DEFER_INDEXES_BYTES = envBefore;
    }
    const timed = logs.filter((l) => l.level === 20).map((l) => [l.msg, typeof l.ms, l.indexes]);
    expect(timed).toEqual([
      ["tidy: secondary indexes built after the load", "number", 7],
      ["tidy: database closed", "number", undefined],
    ]);
  });
});
