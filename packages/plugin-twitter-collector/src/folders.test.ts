/**
 * The folders the collector's tasks write (the state folder, `<outputDir>/raw`,
 * `<outputDir>/archive`), made one plain mkdir per level (makeFolders of @ujr/core): a folder
 * that cannot be made fails the task at once with UJR_COLLECTOR_FOLDER_UNWRITABLE naming it,
 * the OS's refusal and the setting to change. outputDir's raw/ and archive/ are checked when
 * the job is made too (its create(): `ujr validate`, the start of `ujr run`), with the same
 * message, leaving nothing behind.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { startEmulator, type Emulator } from "@ujr/x-api-emulator";
import { makeFolders } from "@ujr/core/task";
import { archiveRun } from "./archive.js";
import plugin from "./index.js";
import { checkOutputFolders } from "./internal/folders.js";
import { boundedNode } from "../../runner-local/src/__fixtures__/bounded-node.js";
import { needsBuilt, needsProcFolders } from "../../runner-local/src/__fixtures__/processes.js";
import { TOKEN, captureLogger, drive, readRawPages, searchJob, tempDir } from "./__fixtures__/helpers.js";

let emulator: Emulator;
let tmp: { dir: string; cleanup: () => Promise<void> };
beforeEach(async () => {
  tmp = await tempDir("ujr-collector-folders-");
  emulator = await startEmulator({ port: 0 });
});
afterEach(async () => {
  await emulator.close();
  await tmp.cleanup();
});

const RETRY = { attempts: 3, baseMs: 1, maxMs: 1, jitter: 0 };
const AFTER = "to a folder that can be made, on a writable disk where the user running ujr may write; nothing stored is lost, and the job tries again after its pauses.";

describe("the collector's folders", () => {
  it("an outputDir of new nested folders: raw/ and archive/ are made in it", async () => {
    const job = searchJob({ query: "#brexit", baseUrl: emulator.url, mode: "continuous", maxResults: 10, pagesPerTask: 1, outputDir: "out/a/b" }, tmp.dir);
    const result = await drive(job, { maxRounds: 1 });
    expect(result.tasks.map((t) => [t.export, t.ok])).toEqual([["fetchPages", true]]);
    const rawDir = join(tmp.dir, "out", "a", "b", "raw");
    expect(await readRawPages(rawDir)).toHaveLength(1);

    const archiveDir = join(tmp.dir, "out", "a", "b", "archive");
    await archiveRun({ job: "test-search", stateDir: tmp.dir, rawDir, archiveDir, files: [], removeOriginals: false }, { signal: new AbortController().signal, logger: captureLogger().logger });
    expect((await stat(archiveDir)).isDirectory()).toBe(true);
  });

  it("a file put in the way of outputDir after the job was made: the fetch fails with UJR_COLLECTOR_FOLDER_UNWRITABLE (ENOTDIR) naming the folder and `outputDir`, not retried at once; the job backs off", async () => {
    const blocker = join(tmp.dir, "out");
    // (there when the job is made, the check of its folders says it: see below)
    const job = searchJob({ query: "#brexit", baseUrl: emulator.url, mode: "continuous", maxResults: 10, outputDir: "out", retry: RETRY }, tmp.dir);
    await writeFile(blocker, "not a folder");
    const result = await drive(job, { maxRounds: 3 });
    // one try: the same folder fails the same way until the config changes
    expect(result.outcome).toBe("idle");
    expect(result.tasks.map((t) => [t.export, t.ok, t.attempt])).toEqual([["fetchPages", false, 1]]);
    expect(result.tasks[0]!.error).toMatchObject({ code: "UJR_COLLECTOR_FOLDER_UNWRITABLE", retryable: false });
    expect(result.tasks[0]!.error!.message).toBe(
      `Could not make the folder of raw pages ${join(blocker, "raw")}: ${blocker} is not a folder (ENOTDIR: not a directory, mkdir '${join(blocker, "raw")}'). ` +
        `Set the job's \`outputDir\` (where raw/ and archive/ go, now ${blocker}) ${AFTER}`,
    );
    expect(await readFile(blocker, "utf8")).toBe("not a folder");
  });

  it("a file where the archive folder should be: the archive fails with UJR_COLLECTOR_FOLDER_UNWRITABLE (EEXIST) naming it", async () => {
    const outputDir = join(tmp.dir, "out");
    await mkdir(outputDir);
    const archiveDir = join(outputDir, "archive");
    await writeFile(archiveDir, "");
    const run = archiveRun(
      { job: "j", stateDir: tmp.dir, rawDir: join(outputDir, "raw"), archiveDir, files: [], removeOriginals: false },
      { signal: new AbortController().signal, logger: captureLogger().logger },
    );
    await expect(run).rejects.toMatchObject({
      code: "UJR_COLLECTOR_FOLDER_UNWRITABLE",
      retryable: false,
      message:
        `Could not make the folder of archives ${archiveDir}: ${outputDir} already has ${archiveDir} there, which is not a folder (EEXIST: file already exists, mkdir '${archiveDir}'). ` +
        `Set the job's \`outputDir\` (where raw/ and archive/ go, now ${outputDir}) ${AFTER}`,
    });
  });
});

const CREATED = "to a folder that can be made, on a writable disk where the user running ujr may write; no task has run.";

/**
 * The job as the runner makes it (`ujr validate`, the start of `ujr run`): the plugin's
 * create(), with the state folder the runner makes first and relative paths resolved from
 * the config's folder (tmp.dir).
 */
async function create(config: Record<string, unknown>, logger = captureLogger().logger): Promise<unknown> {
  const stateDir = join(tmp.dir, "state");
  await mkdir(stateDir, { recursive: true });
  const search = plugin.jobs.search!;
  return search.create(search.config.parse({ query: "#brexit", bearerToken: TOKEN, ...config }), { name: "j", stateDir, configDir: tmp.dir, logger });
}

describe("the check of outputDir when the job is made", () => {
  it("a file where outputDir should be: create() fails with UJR_COLLECTOR_FOLDER_UNWRITABLE (ENOTDIR), the fetch's message naming the folder and `outputDir`", async () => {
    const blocker = join(tmp.dir, "out");
    await writeFile(blocker, "not a folder");
    const rawDir = join(blocker, "raw");
    await expect(create({ outputDir: "out" })).rejects.toMatchObject({
      code: "UJR_COLLECTOR_FOLDER_UNWRITABLE",
      retryable: false,
      message:
        `Could not make the folder of raw pages ${rawDir}: ${blocker} is not a folder (ENOTDIR: not a directory, mkdir '${rawDir}'). ` +
        `Set the job's \`outputDir\` (where raw/ and archive/ go, now ${blocker}) ${CREATED}`,
    });
    expect(await readFile(blocker, "utf8")).toBe("not a folder");
  });

  it("a file where the archive folder should be: create() fails with UJR_COLLECTOR_FOLDER_UNWRITABLE (EEXIST) naming it; the raw folder it made is removed again", async () => {
    const outputDir = join(tmp.dir, "out");
    const archiveDir = join(outputDir, "archive");
    await mkdir(outputDir);
    await writeFile(archiveDir, "");
    await expect(create({ outputDir: "out" })).rejects.toMatchObject({
      code: "UJR_COLLECTOR_FOLDER_UNWRITABLE",
      message:
        `Could not make the folder of archives ${archiveDir}: ${outputDir} already has ${archiveDir} there, which is not a folder (EEXIST: file already exists, mkdir '${archiveDir}'). ` +
        `Set the job's \`outputDir\` (where raw/ and archive/ go, now ${outputDir}) ${CREATED}`,
    });
    expect(await readdir(outputDir)).toEqual(["archive"]);
  });

  it("an outputDir of new nested folders: create() passes and leaves nothing behind", async () => {
    await create({ outputDir: "new/a/b" });
    expect(await readdir(tmp.dir)).toEqual(["state"]);
  });

  it("an existing outputDir, empty or holding raw/ and archive/: create() passes and leaves it as it was", async () => {
    const empty = join(tmp.dir, "empty");
    await mkdir(empty);
    await create({ outputDir: "empty" });
    expect(await readdir(empty)).toEqual([]);

    const full = join(tmp.dir, "full");
    await mkdir(join(full, "raw"), { recursive: true });
    await mkdir(join(full, "archive"));
    await writeFile(join(full, "raw", "page.jsonl"), "{}\n");
    await create({ outputDir: full });
    expect((await readdir(full)).sort()).toEqual(["archive", "raw"]);
    expect(await readdir(join(full, "raw"))).toEqual(["page.jsonl"]);
  });

  it("a full disk (ENOSPC) is no reason not to make the job: a warning, and what the check made is removed", async () => {
    const outputDir = join(tmp.dir, "out");
    const rawDir = join(outputDir, "raw");
    const archiveDir = join(outputDir, "archive");
    const { logger, lines } = captureLogger();
    const enospc = Object.assign(new Error(`ENOSPC: no space left on device, mkdir '${archiveDir}'`), { code: "ENOSPC" });
    const make: typeof makeFolders = (dir) => (dir === archiveDir ? { refused: { folder: archiveDir, parent: outputDir, error: enospc } } : makeFolders(dir));
    checkOutputFolders(
      [
        [rawDir, "raw"],
        [archiveDir, "archive"],
      ],
      logger,
      make,
    );
    expect(existsSync(outputDir)).toBe(false);
    const warning = lines.map((line) => JSON.parse(line) as { level: number; code?: string; msg: string }).find((line) => line.code === "ENOSPC");
    expect(warning).toMatchObject({ level: 40, msg: expect.stringContaining(`the folder of archives ${archiveDir} cannot be made now: ${outputDir} is on a disk with no space left`) });
    expect(warning!.msg).toContain("UJR_COLLECTOR_DISK_FULL");
  });
});

// The compiled tasks (dist/), as the runner's workers run them, in a child process: Node 20's
// recursive mkdir spun for ever there at 100% CPU, deaf to SIGTERM and to the test's own
// timeout; the test's timeout fails it and the child is killed with SIGKILL (boundedNode).
const node = boundedNode();

/** The compiled collector under /proc: skipped before a build or off Linux, never under CI=true. */
function needsBuiltOnProc(skip: (note: string) => never): void {
  needsProcFolders(skip);
  needsBuilt(new URL("../dist/index.js", import.meta.url), "the collector", skip);
}

describe("the collector's folders under a kernel filesystem", () => {
  it("outputDir (raw/, archive/) or the state folder under /proc: each task fails at once with UJR_COLLECTOR_FOLDER_UNWRITABLE naming the folder, /proc's refusal and the setting, not a hang", async (context) => {
    needsBuiltOnProc(context.skip);
    const outputDir = "/proc/self/ujr-test/x";
    const stateDir = "/proc/self/ujr-test/state";
    const tasks = new URL("../dist/tasks.js", import.meta.url).href;
    const script = `
      const { fetchPages, archiveFiles } = await import(${JSON.stringify(tasks)});
      const logger = { debug() {}, info() {}, warn() {}, error() {}, child() { return logger; } };
      const ctx = { signal: new AbortController().signal, logger, attempt: 1, job: "j", taskId: "1", progress() {} };
      const fetch = (stateDir, rawDir) => ({ job: "j", stateDir, rawDir, kind: "search", endpoint: "recent", query: "q", mode: "once", baseUrl: "http://127.0.0.1:9", bearerToken: "t", maxResults: 10, pagesPerTask: 1, requestTimeoutMs: 1000, rateLimitSlackMs: 0 });
      const steps = [
        () => fetchPages.run(fetch(${JSON.stringify(tmp.dir)}, ${JSON.stringify(`${outputDir}/raw`)}), ctx),
        () => archiveFiles.run({ job: "j", stateDir: ${JSON.stringify(tmp.dir)}, rawDir: ${JSON.stringify(`${outputDir}/raw`)}, archiveDir: ${JSON.stringify(`${outputDir}/archive`)}, files: [], removeOriginals: false }, ctx),
        () => fetchPages.run(fetch(${JSON.stringify(stateDir)}, ${JSON.stringify(join(tmp.dir, "raw"))}), ctx),
      ];
      const results = [];
      for (const step of steps) {
        try { await step(); results.push({ ok: true }); }
        catch (e) { results.push({ code: e.code, retryable: e.retryable, message: e.message }); }
      }
      console.log(JSON.stringify(results));`;
    const stdout = await node(script);
    const [raw, archive, state] = JSON.parse(stdout) as Array<{ code?: string; retryable?: boolean; message?: string }>;
    const kernel = (folder: string) => `/proc/self is on a filesystem of the kernel (such as /proc) that does not allow new folders (ENOENT: no such file or directory, mkdir '${folder}')`;
    for (const result of [raw, archive, state]) expect(result).toMatchObject({ code: "UJR_COLLECTOR_FOLDER_UNWRITABLE", retryable: false });
    expect(raw!.message).toBe(`Could not make the folder of raw pages ${outputDir}/raw: ${kernel("/proc/self/ujr-test")}. Set the job's \`outputDir\` (where raw/ and archive/ go, now ${outputDir}) ${AFTER}`);
    expect(archive!.message).toBe(`Could not make the folder of archives ${outputDir}/archive: ${kernel("/proc/self/ujr-test")}. Set the job's \`outputDir\` (where raw/ and archive/ go, now ${outputDir}) ${AFTER}`);
    expect(state!.message).toBe(
      `Could not make the job's state folder ${stateDir}: ${kernel("/proc/self/ujr-test")}. Set runner.dataDir (the runner keeps each job's state in <runner.dataDir>/<job>, here ${stateDir}) ${AFTER}`,
    );
  }, 30_000);

  it("outputDir under /proc: the job's create() (ujr validate, the start of ujr run) fails at once with UJR_COLLECTOR_FOLDER_UNWRITABLE naming the folder, /proc's refusal and `outputDir`, not a hang", async (context) => {
    needsBuiltOnProc(context.skip);
    const outputDir = "/proc/self/ujr-test/x";
    const index = new URL("../dist/index.js", import.meta.url).href;
    const script = `
      const { default: plugin } = await import(${JSON.stringify(index)});
      const logger = { trace() {}, debug() {}, info() {}, warn() {}, error() {}, fatal() {}, child() { return logger; } };
      const search = plugin.jobs.search;
      try {
        await search.create(search.config.parse({ query: "q", bearerToken: "t", outputDir: ${JSON.stringify(outputDir)} }), { name: "j", stateDir: ${JSON.stringify(tmp.dir)}, configDir: ${JSON.stringify(tmp.dir)}, logger });
        console.log(JSON.stringify({ ok: true }));
      } catch (e) { console.log(JSON.stringify({ code: e.code, retryable: e.retryable, message: e.message })); }`;
    const stdout = await node(script);
    expect(JSON.parse(stdout)).toEqual({
      code: "UJR_COLLECTOR_FOLDER_UNWRITABLE",
      retryable: false,
      message:
        `Could not make the folder of raw pages ${outputDir}/raw: /proc/self is on a filesystem of the kernel (such as /proc) that does not allow new folders (ENOENT: no such file or directory, mkdir '/proc/self/ujr-test'). ` +
        `Set the job's \`outputDir\` (where raw/ and archive/ go, now ${outputDir}) ${CREATED}`,
    });
  }, 30_000);
});
