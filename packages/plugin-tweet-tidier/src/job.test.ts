import { spawnSync } from "node:child_process";
import { chmodSync, chownSync, renameSync, utimesSync, writeFileSync, readFileSync, mkdirSync, rmSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { silentLogger, toTaskFailure, type StatusPanel, type Task, type TaskFailure } from "@ujr/core";
import { capturingLogger, collectTasks, runJob } from "@ujr/core/testing";
import { afterAll, describe, expect, it, vi } from "vitest";
import { tidierBuilt, tidyConfig } from "./__fixtures__/crash-run.js";
import { ALL_FIXTURES, FIXTURES, fixture, tempDir, withIds } from "./__fixtures__/helpers.js";
import { RECENT_RESULTS, RETRY_FAILED_AFTER_MS, TidyJob, resolveDatabase } from "./job.js";
import plugin, { SqliteTidyStore } from "./index.js";
import { TIDY_ERRORS } from "./errors.js";
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

/** runTask, reporting a task that throws as the runner does (onTaskFailed): "done" or "failed", as the runner would count it. */
async function settleTask(job: TidyJob, task: Task): Promise<"done" | "failed"> {
  const def = task.ref.export === "tidyBatch" ? tidyBatch : checkForNewData;
  const ctx = { signal: new AbortController().signal, logger: silentLogger(), attempt: 1, job: job.name, taskId: "t", progress() {} };
  try {
    job.onTaskDone(task, await (def.run as (a: unknown, c: unknown) => Promise<unknown>)(task.args, ctx));
    return "done";
  } catch (e) {
    job.onTaskFailed(task, toTaskFailure(e));
    return "failed";
  }
}

const panelField = (panel: StatusPanel, label: string) => panel.fields.find((f) => f.label === label);

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

  it("refuses a pollInterval of 0, or a bare number meant as seconds (30: 30 ms), saying what the setting is and its unit", () => {
    const schema = plugin.jobs.tidy!.config;
    type Issue = { path: PropertyKey[]; message: string };
    for (const pollInterval of [0, "0s", "0ms", 30, "99ms"]) {
      const r = schema.safeParse({ inputs: ["raw"], pollInterval });
      expect(r.success).toBe(false);
      expect((r.error!.issues as Issue[]).map((i) => [i.path.join("."), i.message])).toEqual([
        [
          "pollInterval",
          'at least 100ms: the time between two checks of the inputs, e.g. "30s" (a number is milliseconds: 30 is 30 ms; a shorter interval lists every input folder again and again, almost without a pause, and fills the run history with checks)',
        ],
      ]);
    }
    expect(schema.parse({ inputs: ["raw"], pollInterval: "500ms" })).toMatchObject({ pollInterval: "500ms" });
    // not a duration at all: said as such, once
    const soon = schema.safeParse({ inputs: ["raw"], pollInterval: "soon" });
    expect((soon.error!.issues as Issue[]).map((i) => i.path.join("."))).toEqual(["pollInterval"]);
    expect(JSON.stringify(soon.error!.issues)).toContain("a duration like");
    expect(JSON.stringify(soon.error!.issues)).not.toContain("at least 100ms");
    expect(schema.parse({ inputs: ["raw"], pollInterval: 500, settleTime: 0 })).toMatchObject({ pollInterval: 500, settleTime: 0 });
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

  it("a continuous job's later checks warm the parse thread only for files modified since the last check that listed the inputs (files loaded before do not start a thread at every check)", () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    try {
      const first = Date.parse("2026-01-01T00:00:00Z");
      vi.setSystemTime(first);
      const config = plugin.jobs.tidy!.config.parse({ inputs: ["raw"], mode: "continuous", pollInterval: "30s", settleTime: 0, database: "tidy.sqlite" });
      const job = new TidyJob(config, ctxFor("warm-since", tmp.dir));
      const [check1] = job.getRunnableTasks();
      expect(check1!.args).toMatchObject({ warmParser: true });
      expect(check1!.args).not.toHaveProperty("warmSince");
      job.onTaskDone(check1!, { files: [] });
      vi.setSystemTime(first + 30_000);
      const [check2] = job.getRunnableTasks();
      expect(check2!.ref.export).toBe("checkForNewData");
      expect(check2!.args).toMatchObject({ warmParser: true, warmSince: first });
      // a check that failed listed nothing: the next one still counts from the last that did
      job.onTaskFailed(check2!, { name: "Error", message: "EIO" });
      vi.setSystemTime(first + 60_000);
      const [check3] = job.getRunnableTasks();
      expect(check3!.args).toMatchObject({ warmSince: first });
    } finally {
      vi.useRealTimers();
    }
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

  it("continuous: over a collection of months, holds one state per file loaded, and still sees new, growing, changed and removed files", () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    try {
      const config = plugin.jobs.tidy!.config.parse({ inputs: ["raw"], settleTime: "2s", pollInterval: "30s" });
      const job = new TidyJob(config, ctxFor("months", tmp.dir));
      const state = job as unknown as { done: Map<string, unknown>; lastSeen: Map<string, unknown> };
      const old = Date.now() - 86_400_000;
      let files = Array.from({ length: 5000 }, (_, i) => ({ path: `/raw/${String(i).padStart(5, "0")}.jsonl`, size: 100 + (i % 7), mtimeMs: old }));
      const check = (found: typeof files) => {
        vi.advanceTimersByTime(30_000);
        job.onTaskDone(job.getRunnableTasks().find((t) => t.signature === "check")!, { files: found } satisfies CheckResult);
        const loaded: string[] = [];
        for (let batch = job.getRunnableTasks().find((t) => t.ref.export === "tidyBatch"); batch; batch = job.getRunnableTasks().find((t) => t.ref.export === "tidyBatch")) {
          const paths = (batch.args as TidyBatchArgs).files;
          loaded.push(...paths);
          job.onTaskDone(batch, { files: paths.map((path) => ({ path, ok: true, result: { path, status: "loaded", fileId: 1, sha256: path, pages: 1, tweets: 1, errors: 0, nothingLoaded: false } })) });
        }
        return loaded;
      };
      expect(check(files)).toHaveLength(5000);
      // one state per file: the stability check's own map holds only files still being written
      expect(state.done.size).toBe(5000);
      expect(state.lastSeen.size).toBe(0);
      expect(check(files)).toEqual([]);

      // a new file, written just now: not read until it is seen unchanged
      const fresh = { path: "/raw/99999.jsonl", size: 10, mtimeMs: Date.now() + 30_000 };
      files = [...files, fresh];
      expect(check(files)).toEqual([]);
      expect(state.lastSeen.size).toBe(1);
      // it grew since (written again at the next check's time): still not read
      fresh.size = 20;
      fresh.mtimeMs = Date.now() + 30_000;
      expect(check(files)).toEqual([]);
      expect(check(files)).toEqual([fresh.path]);
      expect(state.lastSeen.size).toBe(0);

      // a loaded file changed in place (appended to, long ago by now) is read again
      files[10] = { ...files[10]!, size: 500 };
      expect(check(files)).toEqual([files[10]!.path]);

      // files archived and removed: their state goes, the rest is not read again
      files = files.slice(1000);
      expect(check(files)).toEqual([]);
      expect(state.done.size).toBe(4001);
      // a file seen once while being written, then removed before it settled: forgotten too
      files = [...files, { path: "/raw/partial.jsonl", size: 1, mtimeMs: Date.now() + 30_000 }];
      expect(check(files)).toEqual([]);
      expect(state.lastSeen.size).toBe(1);
      expect(check(files.slice(0, -1))).toEqual([]);
      expect(state.lastSeen.size).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });

  it("continuous: warns once (UJR_TIDY_SLOW_CHECK) when listing the inputs takes a large share of the poll interval, with the figures and what to do", () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    try {
      const files = [{ path: "/raw/a.jsonl", size: 1, mtimeMs: 0 }];
      const run = (pollInterval: string, mode: "continuous" | "once", ms: number[]) => {
        const { logger, logs } = capturingLogger("info");
        const job = new TidyJob(plugin.jobs.tidy!.config.parse({ inputs: ["raw"], pollInterval, mode }), { ...ctxFor("slow", tmp.dir), logger });
        for (const took of ms) {
          vi.advanceTimersByTime(60_000);
          const check = job.getRunnableTasks().find((t) => t.signature === "check");
          if (check) job.onTaskDone(check, { files, ms: took } satisfies CheckResult);
        }
        return logs.filter((l) => l.code === "UJR_TIDY_SLOW_CHECK");
      };
      const warned = run("2s", "continuous", [100, 1200, 1500, 1300]);
      expect(warned).toHaveLength(1);
      expect(warned[0]).toMatchObject({ level: 40, files: 1, ms: 1200, pollIntervalMs: 2000 });
      expect(warned[0]!.msg).toBe(`tidy: listing the inputs took 1.2 s for 1 file(s), against a pollInterval of 2.0 s: ${TIDY_ERRORS.UJR_TIDY_SLOW_CHECK}`);
      expect(warned[0]!.msg).toContain("raise `pollInterval`");
      // the default interval over a collection of months (~1 s a listing): no warning; nor for a once job
      expect(run("30s", "continuous", [1100, 1200])).toEqual([]);
      expect(run("1s", "once", [900])).toEqual([]);
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
    // checked by code: the job's failure says why by its own code, in details.causes and in the message
    expect(end.failed?.causes).toEqual(["UJR_TIDY_INPUT_MISSING"]);
    expect(end.failed?.message).toBe(
      `UJR_TIDY_INPUT_MISSING: input "raw-pagse" does not exist (${join(dir, "raw-pagse")}) (did you mean "raw-pages"?): An input of the tidy job names a file or folder that does not exist (a typo, or a folder a collector has not created yet). In \`once\` mode this fails the job (exit 1); a continuous job warns once and reads it when it appears. Check \`inputs\` (relative paths are from the config file's folder).`,
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
    expect(end.failed?.causes).toEqual(["UJR_TIDY_NOTHING_LOADED"]);
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

describe("tidy job: files that fail, and folders that cannot be read", () => {
  it("continuous: a file given up is tried again after 1, 5 and 15 minutes (then hourly), and at once when it changes; reported failed until it loads; the last try of each round fails its task", async () => {
    const dir = join(tmp.dir, "backoff");
    // a folder where a raw file is expected: reading it fails (EISDIR) whoever the user is
    // (root reads a file of mode 000); the checks say the "file" never changes, as a chmod
    // that makes a file readable leaves its size and mtime as they were
    const a = join(dir, "raw", "a.jsonl");
    mkdirSync(a, { recursive: true });
    vi.useFakeTimers({ toFake: ["Date"] });
    try {
      const { logger, logs } = capturingLogger("info");
      const config = plugin.jobs.tidy!.config.parse({ inputs: ["raw"], settleTime: 0, pollInterval: "30s" });
      const job = new TidyJob(config, { ...ctxFor("backoff", dir), logger });
      const seen = { path: a, size: 100, mtimeMs: 0 };
      const check = (files = [seen]) => {
        const t = job.getRunnableTasks().find((x) => x.signature === "check");
        expect(t, "a check is due").toBeDefined();
        job.onTaskDone(t!, { files } satisfies CheckResult);
      };
      const batches = () => job.getRunnableTasks().filter((t) => t.ref.export === "tidyBatch");
      /** Runs the batches the job wants now, one after the other: how each ended, and whether it was a last try. */
      const runBatches = async () => {
        const ran: string[] = [];
        for (let t = batches(); t.length > 0; t = batches()) {
          for (const task of t) ran.push(`${(await settleTask(job, task)) === "failed" ? "failed" : "done"}${(task.args as TidyBatchArgs).lastTry ? " (last try)" : ""}`);
        }
        return ran;
      };
      const retryIn = () => {
        const at = panelField(job.statusPanel(), "Failed files tried again")!.value as string;
        return Date.parse(at) - Date.now();
      };

      check();
      // maxAttempts 3: the batch, then alone twice, the last of them a task that fails
      expect(await runBatches()).toEqual(["done", "done", "failed (last try)"]);
      expect(logs.filter((l) => l.msg?.startsWith("tidy: file failed")).map((l) => [l.attempt, l.code])).toEqual([
        [1, "EISDIR"],
        [2, "EISDIR"],
        [3, "EISDIR"],
      ]);
      const givenUp = logs.at(-1)!;
      expect(givenUp.msg).toBe(
        `tidy: file failed: EISDIR: EISDIR: illegal operation on a directory, read; given up for now: tried again at the first check after ${new Date(Date.now() + 60_000).toISOString()}, or at once if it changes`,
      );
      let panel = job.statusPanel();
      expect(panelField(panel, "Files failed")).toMatchObject({ value: 1, tone: "error" });
      expect(panelField(panel, "Last error")?.value).toBe(`${a}: EISDIR: EISDIR: illegal operation on a directory, read`);
      expect(retryIn()).toBe(RETRY_FAILED_AFTER_MS[0]);

      // not before its wait is over, however often the job checks
      vi.advanceTimersByTime(30_000);
      check();
      expect(batches()).toEqual([]);
      const waits: number[] = [];
      for (const wait of [60_000 - 30_000, 5 * 60_000, 15 * 60_000, 60 * 60_000, 60 * 60_000]) {
        vi.advanceTimersByTime(wait);
        check();
        expect(await runBatches()).toEqual(["failed (last try)"]); // one try a wait, its last for now
        waits.push(retryIn());
      }
      expect(waits).toEqual([5 * 60_000, 15 * 60_000, 60 * 60_000, 60 * 60_000, 60 * 60_000]);
      expect(RETRY_FAILED_AFTER_MS).toEqual([60_000, 5 * 60_000, 15 * 60_000, 60 * 60_000]);

      // the cause removed (the file put right, unchanged in the checks' eyes): it loads at its next try
      rmSync(a, { recursive: true });
      writeFileSync(a, readFileSync(fixture("two_tweets.jsonl")));
      vi.advanceTimersByTime(60 * 60_000);
      check();
      expect(await runBatches()).toEqual(["done (last try)"]);
      panel = job.statusPanel();
      expect(panelField(panel, "Files failed")).toMatchObject({ value: 0 });
      expect(panelField(panel, "Failed files tried again")?.value).toBeNull();
      expect(panelField(panel, "Files loaded")).toMatchObject({ value: 1 });
      // the cause's code only: its text was said when it failed
      expect(logs.at(-1)!.msg).toBe(`tidy: ${a} loaded after it had failed (EISDIR)`);

      // a file that changes is tried at once, with all its tries
      const b = join(dir, "raw", "b.jsonl");
      mkdirSync(b);
      vi.advanceTimersByTime(30_000);
      check([seen, { path: b, size: 100, mtimeMs: 0 }]);
      expect(await runBatches()).toEqual(["done", "done", "failed (last try)"]);
      vi.advanceTimersByTime(30_000);
      check([seen, { path: b, size: 100, mtimeMs: 1 }]);
      expect(await runBatches()).toEqual(["done", "done", "failed (last try)"]);
      expect(retryIn()).toBe(RETRY_FAILED_AFTER_MS[0]); // another file: its waits start over

      // the runner stops: the last line of the job says what is left, and when it is tried
      job.close();
      expect(logs.at(-1)).toMatchObject({
        code: "UJR_TIDY_FILE_FAILED",
        files: 1,
        msg: `tidy: stopping with 1 raw file(s) not tidied (the last: ${b}: EISDIR: EISDIR: illegal operation on a directory, read): the job tries them again when it next starts`,
      });
    } finally {
      vi.useRealTimers();
    }
  });

  it("a batch the database stopped (locked past the busy timeout): its files are tried again together, one warning, none reported failed, nothing failed for good", async () => {
    const { logger, logs } = capturingLogger("info");
    const config = plugin.jobs.tidy!.config.parse({ inputs: ["raw"], mode: "once", settleTime: 0 });
    const job = new TidyJob(config, { ...ctxFor("busy", tmp.dir), logger });
    const paths = ["/raw/a.jsonl", "/raw/b.jsonl", "/raw/c.jsonl"];
    const result = (path: string, status: "loaded" | "already-loaded") => ({ path, ok: true as const, result: { path, status, fileId: 1, sha256: path, pages: 1, tweets: 1, errors: 0, nothingLoaded: false } });
    const busy = { code: "UJR_TIDY_DATABASE_BUSY", name: "TidyError", message: `/db stayed locked by another connection for 60 s: ${TIDY_ERRORS.UJR_TIDY_DATABASE_BUSY}` };
    const [check] = job.getRunnableTasks();
    job.onTaskDone(check!, { files: paths.map((path) => ({ path, size: 10, mtimeMs: 0 })) } satisfies CheckResult);
    const [first] = job.getRunnableTasks();
    expect((first!.args as TidyBatchArgs).files).toEqual(paths);
    // a was loaded; then the lock: the batch stopped before b and c
    job.onTaskDone(first!, { files: [result("/raw/a.jsonl", "loaded")], stopped: busy } satisfies TidyBatchResult);
    expect(logs.filter((l) => l.level === 40).map((l) => [l.code, l.msg])).toEqual([
      ["UJR_TIDY_DATABASE_BUSY", `tidy: 2 files (/raw/b.jsonl, ...) not loaded, as the database failed: UJR_TIDY_DATABASE_BUSY: ${busy.message}; tried again together (try 2 of 3)`],
    ]);
    // together, in one batch (not one task each, each waiting the lock out again)
    const again = job.getRunnableTasks();
    expect(again.map((t) => t.args)).toEqual([{ database: join(tmp.dir, "state", "tidy.sqlite"), files: ["/raw/b.jsonl", "/raw/c.jsonl"] }]);
    // b had been loaded before the lock (by an earlier run): skipped, not a failure
    job.onTaskDone(again[0]!, { files: [result("/raw/b.jsonl", "already-loaded"), result("/raw/c.jsonl", "loaded")] } satisfies TidyBatchResult);
    expect(await collectTasks(job)).toEqual({ tasks: [], done: true });
    expect(logs.some((l) => l.msg?.startsWith("tidy: file failed"))).toBe(false);
    expect(job.totals).toMatchObject({ loaded: 2, skipped: 1 });
    expect(panelField(job.statusPanel(), "Files failed")).toMatchObject({ value: 0 });
  });

  it("once: a lock that outlasts every try fails the last one (its task, for the runner) and the job, naming the files and the cause", async () => {
    const { logger, logs } = capturingLogger("info");
    const config = plugin.jobs.tidy!.config.parse({ inputs: ["raw"], mode: "once", settleTime: 0 });
    const job = new TidyJob(config, { ...ctxFor("busy-long", tmp.dir), logger });
    const busy = { code: "UJR_TIDY_DATABASE_BUSY", name: "TidyError", message: "/db stayed locked by another connection for 60 s" };
    const [check] = job.getRunnableTasks();
    job.onTaskDone(check!, { files: ["/raw/a.jsonl", "/raw/b.jsonl"].map((path) => ({ path, size: 10, mtimeMs: 0 })) } satisfies CheckResult);
    const last: unknown[] = [];
    for (let { tasks } = await collectTasks(job); tasks.length > 0; { tasks } = await collectTasks(job)) {
      const args = tasks[0]!.args as TidyBatchArgs;
      last.push(args.lastTry ?? false);
      const result: TidyBatchResult = { files: [], stopped: busy };
      // the last try's task fails (see tidyBatch), its result in the failure's details
      if (args.lastTry) job.onTaskFailed(tasks[0]!, { name: "TidyError", code: "UJR_TIDY_FILE_FAILED", message: "…", retryable: false, details: { batch: result } } satisfies TaskFailure);
      else job.onTaskDone(tasks[0]!, result);
    }
    expect(last).toEqual([false, false, true]);
    expect(logs.filter((l) => l.level === 40).map((l) => l.msg)).toEqual([
      `tidy: 2 files (/raw/a.jsonl, ...) not loaded, as the database failed: UJR_TIDY_DATABASE_BUSY: ${busy.message}; tried again together (try 2 of 3)`,
      `tidy: 2 files (/raw/a.jsonl, ...) not loaded, as the database failed: UJR_TIDY_DATABASE_BUSY: ${busy.message}; tried again together (try 3 of 3)`,
      `tidy: 2 files (/raw/a.jsonl, ...) not loaded after 3 tries, as the database failed: UJR_TIDY_DATABASE_BUSY: ${busy.message}; given up (the job fails at its end)`,
    ]);
    const { failed } = await collectTasks(job);
    expect(failed?.message).toBe(
      // one cause, said once, with the files it kept from loading
      `2 raw file(s) could not be tidied: 2 files (/raw/a.jsonl, /raw/b.jsonl), not reached, as the database failed: UJR_TIDY_DATABASE_BUSY: ${busy.message}`,
    );
    // and by code: the files failed, the database's busy the cause
    expect(failed?.causes).toEqual(["UJR_TIDY_FILE_FAILED", "UJR_TIDY_DATABASE_BUSY"]);
  });

  it("continuous: files given up for the database's failure get one try after the wait, said as a retry, not as the round's tries", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    try {
      const { logger, logs } = capturingLogger("info");
      const config = plugin.jobs.tidy!.config.parse({ inputs: ["raw"], settleTime: 0, pollInterval: "30s" });
      const job = new TidyJob(config, { ...ctxFor("busy-retry", tmp.dir), logger });
      const busy = { code: "UJR_TIDY_DATABASE_BUSY", name: "TidyError", message: "/db stayed locked by another connection for 60 s" };
      const files = ["/raw/a.jsonl", "/raw/b.jsonl"].map((path) => ({ path, size: 10, mtimeMs: 0 }));
      const check = async () => {
        const t = (await collectTasks(job)).tasks.find((x) => x.signature === "check");
        expect(t, "a check is due").toBeDefined();
        job.onTaskDone(t!, { files } satisfies CheckResult);
      };
      const tries = async (): Promise<number> => {
        let n = 0;
        for (;;) {
          const batch = (await collectTasks(job)).tasks.find((x) => x.signature !== "check");
          if (batch === undefined) return n;
          n++;
          const result: TidyBatchResult = { files: [], stopped: busy };
          if ((batch.args as TidyBatchArgs).lastTry) job.onTaskFailed(batch, { name: "TidyError", code: "UJR_TIDY_FILE_FAILED", message: "…", retryable: false, details: { batch: result } } satisfies TaskFailure);
          else job.onTaskDone(batch, result);
        }
      };
      await check();
      expect(await tries()).toBe(3);
      vi.setSystemTime(Date.now() + 61_000);
      await check();
      expect(await tries()).toBe(1);
      const warned = logs.filter((l) => l.level === 40).map((l) => l.msg);
      expect(warned.at(-2)).toMatch(/^tidy: 2 files \(\/raw\/a\.jsonl, \.\.\.\) not loaded after 3 tries, as the database failed: UJR_TIDY_DATABASE_BUSY: .*; given up for now: tried again at the first check after /);
      expect(warned.at(-1)).toMatch(/^tidy: 2 files \(\/raw\/a\.jsonl, \.\.\.\) not loaded on its retry after a wait \(retry 1\), as the database failed: UJR_TIDY_DATABASE_BUSY: .*; given up for now: tried again at the first check after /);
    } finally {
      vi.useRealTimers();
    }
  });

  it("a batch task that failed as a whole (a crashed worker): one warning, its files tried again one at a time", () => {
    const { logger, logs } = capturingLogger("info");
    const config = plugin.jobs.tidy!.config.parse({ inputs: ["raw"], mode: "once", settleTime: 0 });
    const job = new TidyJob(config, { ...ctxFor("crashed", tmp.dir), logger });
    const [check] = job.getRunnableTasks();
    job.onTaskDone(check!, { files: ["/raw/a.jsonl", "/raw/b.jsonl"].map((path) => ({ path, size: 10, mtimeMs: 0 })) } satisfies CheckResult);
    const [batch] = job.getRunnableTasks();
    job.onTaskFailed(batch!, { name: "UjrError", code: "UJR_WORKER_CRASHED", message: "the worker exited" });
    expect(logs.filter((l) => l.level === 40).map((l) => l.msg)).toEqual([
      "tidy: 2 files (/raw/a.jsonl, ...) not loaded, as the batch task failed: UJR_WORKER_CRASHED: the worker exited; tried again one at a time (try 2 of 3)",
    ]);
    expect(job.getRunnableTasks().map((t) => (t.args as TidyBatchArgs).files)).toEqual([["/raw/a.jsonl"]]);
  });

  it("a batch stopped by the job's own fileTimeout names the setting, its unit and what to do, in the warning and in the job's failure", () => {
    const { logger, logs } = capturingLogger("info");
    const config = plugin.jobs.tidy!.config.parse({ inputs: ["raw"], mode: "once", settleTime: 0, fileTimeout: 10 });
    const job = new TidyJob(config, { ...ctxFor("timeout", tmp.dir), logger });
    const [check] = job.getRunnableTasks();
    job.onTaskDone(check!, { files: ["/raw/a.jsonl", "/raw/b.jsonl"].map((path) => ({ path, size: 10, mtimeMs: 0 })) } satisfies CheckResult);
    const timedOut = { name: "UjrError", code: "UJR_TASK_TIMEOUT", message: "Task @ujr/plugin-tweet-tidier/tasks#tidyBatch of job timeout timed out after 20 ms and was stopped." };
    job.onTaskFailed(job.getRunnableTasks()[0]!, timedOut);
    expect(logs.filter((l) => l.level === 40).map((l) => l.msg)).toEqual([
      `tidy: 2 files (/raw/a.jsonl, ...) not loaded, as the batch task failed: UJR_TASK_TIMEOUT: ${timedOut.message} (the job's fileTimeout, 10 (a number is milliseconds), allows 10 ms a file: 20 ms for this batch of 2; raise it, e.g. fileTimeout: "10m", or remove it); tried again one at a time (try 2 of 3)`,
    ]);
    // every later try times out too: the job fails, its message naming the setting
    let failed: Error | undefined;
    try {
      for (let round = 0; round < 10; round++) for (const t of job.getRunnableTasks()) job.onTaskFailed(t, { ...timedOut, message: "timed out after 10 ms and was stopped." });
    } catch (e) {
      failed = e as Error;
    }
    expect(failed?.message).toBe(
      `2 raw file(s) could not be tidied: 2 files (/raw/a.jsonl, /raw/b.jsonl), each: UJR_TASK_TIMEOUT: timed out after 10 ms and was stopped. (the job's fileTimeout, 10 (a number is milliseconds), allows 10 ms a file: 10 ms for this batch of 1; raise it, e.g. fileTimeout: "10m", or remove it)`,
    );
    // a timeout of the runner's own (runner.taskTimeout), not the job's: no hint that would mislead
    const plain = new TidyJob(plugin.jobs.tidy!.config.parse({ inputs: ["raw"], mode: "once", settleTime: 0 }), { ...ctxFor("timeout-2", tmp.dir), logger });
    plain.onTaskDone(plain.getRunnableTasks()[0]!, { files: [{ path: "/raw/c.jsonl", size: 10, mtimeMs: 0 }] } satisfies CheckResult);
    plain.onTaskFailed(plain.getRunnableTasks()[0]!, timedOut);
    expect(logs.at(-1)!.msg).not.toContain("fileTimeout");
  });

  it("once, through the runner: a database that cannot be opened is tried three times, the last a failed task (the runner's count), and the job fails naming the files", async () => {
    const dir = join(tmp.dir, "not-a-db");
    mkdirSync(join(dir, "raw"), { recursive: true });
    const page = readFileSync(fixture("two_tweets.jsonl"), "utf8");
    for (const n of [1, 2, 3]) writeFileSync(join(dir, "raw", `${n}.jsonl`), withIds(n, page));
    writeFileSync(join(dir, "tidy.sqlite"), "not a database ".repeat(300));
    const { logger, logs } = capturingLogger("info");
    const config = plugin.jobs.tidy!.config.parse({ inputs: ["raw"], mode: "once", settleTime: 0, database: "tidy.sqlite" });
    const job = (await plugin.jobs.tidy!.create(config, { ...ctxFor("not-a-db", dir), logger })) as TidyJob;
    const res = await runJob(job, { resolveFrom: [pkgDir], concurrency: 2, logger: silentLogger() });
    expect(res.reason).toBe("failed");
    expect(res.tasks).toMatchObject({ failed: 1, retried: 0 });
    expect(res.failed.map((e) => [e.error.code, e.error.retryable])).toEqual([["UJR_TIDY_FILE_FAILED", false]]);
    expect(res.done.filter((e) => e.task.ref.export === "tidyBatch")).toHaveLength(2);
    expect(res.failed[0]!.error.message).toContain(`3 raw files could not be tidied; the first: ${join(dir, "raw", "1.jsonl")} (UJR_TIDY_DATABASE: ${join(dir, "tidy.sqlite")} is not a SQLite database`);
    expect(res.jobFailure?.message).toContain(`3 raw file(s) could not be tidied: 3 files (${join(dir, "raw", "1.jsonl")}, ${join(dir, "raw", "2.jsonl")}, ${join(dir, "raw", "3.jsonl")}), not reached, as the database failed: UJR_TIDY_DATABASE: ${join(dir, "tidy.sqlite")} is not a SQLite database`);
    // one warning a try, not one a file
    expect(logs.filter((l) => l.level === 40).map((l) => l.msg?.replace(/: UJR_TIDY_DATABASE: .*?;/, ": …;"))).toEqual([
      `tidy: 3 files (${join(dir, "raw", "1.jsonl")}, ...) not loaded, as the database failed: …; tried again together (try 2 of 3)`,
      `tidy: 3 files (${join(dir, "raw", "1.jsonl")}, ...) not loaded, as the database failed: …; tried again together (try 3 of 3)`,
      `tidy: 3 files (${join(dir, "raw", "1.jsonl")}, ...) not loaded after 3 tries, as the database failed: …; given up (the job fails at its end)`,
    ]);
  });

  it("once: a folder that cannot be read fails the job, named with the user, the OS's reason and what to do; the files beside it load", async () => {
    const { logger, logs } = capturingLogger("info");
    const config = plugin.jobs.tidy!.config.parse({ inputs: ["raw"], mode: "once", settleTime: 0 });
    const job = new TidyJob(config, { ...ctxFor("unreadable-once", tmp.dir), logger });
    const [check] = job.getRunnableTasks();
    const reason = "EACCES: permission denied, scandir '/x/raw/c'";
    job.onTaskDone(check!, { files: [], unreadable: [{ path: "/x/raw/c", input: "raw", top: false, code: "EACCES", reason }] } satisfies CheckResult);
    const warned = logs.filter((l) => l.code === "UJR_TIDY_INPUT_UNREADABLE");
    expect(warned).toHaveLength(1);
    expect(warned[0]).toMatchObject({ level: 40, folder: "/x/raw/c", input: "raw", cause: "EACCES" });
    expect(warned[0]!.msg).toMatch(/^tidy: folder \/x\/raw\/c \(under input "raw"\) cannot be read by (user ".+" \(uid \d+\)|uid \d+): EACCES: permission denied, scandir '\/x\/raw\/c': /);
    expect(warned[0]!.msg!.endsWith(TIDY_ERRORS.UJR_TIDY_INPUT_UNREADABLE)).toBe(true);
    const end = await collectTasks(job);
    expect(end.failed?.causes).toEqual(["UJR_TIDY_INPUT_UNREADABLE"]);
    expect(end.failed?.message).toMatch(/^UJR_TIDY_INPUT_UNREADABLE: 1 folder\(s\) could not be read: folder \/x\/raw\/c \(under input "raw"\) cannot be read by .+: EACCES: permission denied, scandir '\/x\/raw\/c': An input of the tidy job, or a folder found inside one, cannot be listed/);

    // the input itself
    const top = new TidyJob(config, ctxFor("unreadable-top", tmp.dir));
    top.onTaskDone(top.getRunnableTasks()[0]!, { files: [], unreadable: [{ path: "/x/raw/c", input: "raw/c", top: true, code: "EACCES", reason }] } satisfies CheckResult);
    expect((await collectTasks(top)).failed?.message).toMatch(/^UJR_TIDY_INPUT_UNREADABLE: 1 folder\(s\) could not be read: input "raw\/c" \(\/x\/raw\/c\) cannot be read by /);

    // a link named as a raw file that leads nowhere: said as a link to fix, not as permissions
    const { logger: linkLogger, logs: linkLogs } = capturingLogger("info");
    const linked = new TidyJob(config, { ...ctxFor("dangling-link", tmp.dir), logger: linkLogger });
    const dangling = { path: "/x/raw/x.jsonl", input: "raw", top: false, link: true as const, code: "ENOENT", reason: "a symbolic link to /gone/x.jsonl, which does not exist" };
    linked.onTaskDone(linked.getRunnableTasks()[0]!, { files: [], unreadable: [dangling] } satisfies CheckResult);
    expect(linkLogs.filter((l) => l.code === "UJR_TIDY_INPUT_UNREADABLE").map((l) => l.msg)).toEqual([
      'tidy: link /x/raw/x.jsonl (under input "raw") is named as a raw file but is a symbolic link to /gone/x.jsonl, which does not exist: fix or remove the link; its file loads once the link leads to it',
    ]);
    expect((await collectTasks(linked)).failed?.message).toBe(
      'UJR_TIDY_INPUT_UNREADABLE: 1 link(s) lead nowhere: link /x/raw/x.jsonl (under input "raw") is named as a raw file but is a symbolic link to /gone/x.jsonl, which does not exist: fix or remove them',
    );
  });

  it("continuous: a folder that cannot be read is warned about once, counted on the panel, looked at again at every check, and said when readable again", () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    try {
      const { logger, logs } = capturingLogger("info");
      const config = plugin.jobs.tidy!.config.parse({ inputs: ["raw"], settleTime: 0, pollInterval: "30s" });
      const job = new TidyJob(config, { ...ctxFor("unreadable-cont", tmp.dir), logger });
      const denied = { path: "/x/raw/c", input: "raw", top: false, code: "EACCES", reason: "EACCES: permission denied, scandir '/x/raw/c'" };
      const check = (unreadable: CheckResult["unreadable"]) => {
        const t = job.getRunnableTasks().find((x) => x.signature === "check");
        expect(t, "a check is due").toBeDefined();
        job.onTaskDone(t!, { files: [], ...(unreadable ? { unreadable } : {}) } satisfies CheckResult);
        vi.advanceTimersByTime(30_000);
      };
      check([denied]);
      check([denied]);
      expect(logs.filter((l) => l.code === "UJR_TIDY_INPUT_UNREADABLE" && l.level === 40)).toHaveLength(1);
      let panel = job.statusPanel();
      expect(panelField(panel, "Not readable")).toMatchObject({ value: 1, unit: "folders or links", tone: "error" });
      expect(panelField(panel, "Last error")?.value).toMatch(/^folder \/x\/raw\/c \(under input "raw"\) cannot be read by .+: EACCES: permission denied/);
      job.close();
      expect(logs.at(-1)).toMatchObject({ code: "UJR_TIDY_INPUT_UNREADABLE", folders: 1, msg: expect.stringMatching(/^tidy: stopping with 1 folder\(s\) not readable \(the last: folder \/x\/raw\/c/) });
      check(undefined);
      expect(logs.at(-1)).toMatchObject({ level: 30, code: "UJR_TIDY_INPUT_UNREADABLE", msg: "tidy: /x/raw/c can be read again: its files are loaded" });
      panel = job.statusPanel();
      expect(panelField(panel, "Not readable")).toMatchObject({ value: 0 });
      expect(panelField(panel, "Last error")?.value).toBeNull();
    } finally {
      vi.useRealTimers();
    }
  });

  it("`ujr run` of a once job over an input with a folder of mode 000 ends 1, the folder named (as this user, or as uid 65534 under root)", (t) => {
    const root = process.getuid?.() === 0;
    const setpriv = root && spawnSync("setpriv", ["--version"]).status === 0;
    if (!tidierBuilt() || (root && !setpriv)) {
      const why = tidierBuilt() ? "running as root without setpriv (util-linux)" : "the tidier is not built (pnpm build)";
      if (process.env.CI === "true") throw new Error(`the mode-000 run cannot run under CI=true: ${why}`);
      console.warn(`skipping the mode-000 run: ${why} (the check's own test covers the listing; under CI=true this fails)`);
      t.skip();
    }
    const dir = join(tmp.dir, "mode000-run");
    mkdirSync(join(dir, "raw", "c"), { recursive: true });
    writeFileSync(join(dir, "raw", "a.jsonl"), readFileSync(fixture("two_tweets.jsonl")));
    writeFileSync(join(dir, "raw", "c", "b.jsonl"), readFileSync(fixture("brexit.jsonl")));
    const cfg = tidyConfig(dir, "mode000", { inputs: [join(dir, "raw")], database: join(dir, "tidy.sqlite"), isolation: "process" });
    chmodSync(tmp.dir, 0o755);
    if (root) for (const p of [dir, join(dir, "raw"), join(dir, "raw", "a.jsonl"), join(dir, "raw", "c"), join(dir, "raw", "c", "b.jsonl"), cfg]) chownSync(p, 65534, 65534);
    chmodSync(join(dir, "raw", "c"), 0o000);
    try {
      const child = fileURLToPath(new URL("./__fixtures__/run-config-child.mjs", import.meta.url));
      const [cmd, ...args] = root ? ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", process.execPath, child, cfg] : [process.execPath, child, cfg];
      const r = spawnSync(cmd!, args, { cwd: dir, encoding: "utf8", timeout: 120_000 });
      const lines = r.stdout.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as { code?: string; msg?: string; folder?: string });
      expect(r.status, r.stderr).toBe(1);
      expect(lines.filter((l) => l.code === "UJR_TIDY_INPUT_UNREADABLE").map((l) => l.folder)).toEqual([join(dir, "raw", "c")]);
      expect(lines.some((l) => l.msg === "tidy: file loaded")).toBe(true); // a.jsonl, beside it
    } finally {
      chmodSync(join(dir, "raw", "c"), 0o755);
    }
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
