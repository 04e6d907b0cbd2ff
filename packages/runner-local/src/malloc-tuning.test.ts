import { afterEach, describe, expect, it, vi } from "vitest";
import { readFileSync } from "node:fs";
import { skipOutsideCI } from "./__fixtures__/processes.js";
import { TASK_PROCESS_MALLOC_TUNABLES, taskProcessMallocTunables } from "./malloc-tuning.js";
import { TinypoolExecutor, type Isolation } from "./tinypool-executor.js";

const fixtures = new URL("./__fixtures__/tasks.mjs", import.meta.url).href;

interface MallocSettings {
  pid: number;
  tunables: string | null;
  hugeAdvised: boolean;
}

const executors: TinypoolExecutor[] = [];
afterEach(async () => {
  vi.unstubAllEnvs();
  await Promise.all(executors.splice(0).map((executor) => executor.close()));
});

/** The malloc settings a task of a new pool sees; the pool reads the runner's environment when it starts. */
async function settingsInWorker(isolation: Isolation): Promise<MallocSettings> {
  const executor = new TinypoolExecutor({ workers: 1, isolation, logLevel: "silent" });
  executors.push(executor);
  const outcome = await executor.submit({ id: "1", job: "j", ref: { module: fixtures, export: "mallocSettings" }, args: {}, attempt: 1, resolveFrom: [] });
  if (!outcome.ok) throw new Error(`mallocSettings failed: ${JSON.stringify(outcome)}`);
  return outcome.value as MallocSettings;
}

describe("malloc settings of task processes", () => {
  it("a task process gets the runner's tuning when the runner's environment has no GLIBC_TUNABLES", async () => {
    vi.stubEnv("GLIBC_TUNABLES", undefined);
    const settings = await settingsInWorker("process");
    expect(settings.pid).not.toBe(process.pid);
    expect(settings.tunables).toBe(TASK_PROCESS_MALLOC_TUNABLES);
    expect(TASK_PROCESS_MALLOC_TUNABLES).toBe("glibc.malloc.hugetlb=1:glibc.malloc.top_pad=16777216");
  });

  it("a user's own GLIBC_TUNABLES reaches the task process as it is, and an empty one turns the tuning off", async () => {
    vi.stubEnv("GLIBC_TUNABLES", "glibc.malloc.arena_max=2");
    expect((await settingsInWorker("process")).tunables).toBe("glibc.malloc.arena_max=2");
    vi.stubEnv("GLIBC_TUNABLES", "");
    expect((await settingsInWorker("process")).tunables).toBe("");
    expect(taskProcessMallocTunables({ GLIBC_TUNABLES: "" })).toBe("");
    expect(taskProcessMallocTunables({})).toBe(TASK_PROCESS_MALLOC_TUNABLES);
  });

  it("thread workers run in the runner's process, whose malloc started before the runner: nothing is set for them", async () => {
    vi.stubEnv("GLIBC_TUNABLES", undefined);
    const settings = await settingsInWorker("thread");
    expect(settings.pid).toBe(process.pid);
    expect(settings.tunables).toBeNull();
  });
});

// glibc 2.35 or later (the `hugetlb` tunable) on a kernel with transparent huge pages not
// switched off: what this project's CI machines run; elsewhere the variable is set but has
// no such effect to observe.
const glibc = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header?.glibcVersionRuntime;
const thp = (() => {
  try {
    return readFileSync("/sys/kernel/mm/transparent_hugepage/enabled", "utf8");
  } catch {
    return "";
  }
})();
const [major, minor] = (glibc ?? "0.0").split(".").map(Number) as [number, number];
const hugePagesObservable = process.platform === "linux" && (major > 2 || (major === 2 && minor >= 35)) && /\[(always|madvise)\]/.test(thp);

describe("malloc's heap in a task process (glibc >= 2.35, transparent huge pages on)", () => {
  it("is advised for huge pages with the runner's tuning, and not with the tuning turned off", async (context) => {
    if (!hugePagesObservable) skipOutsideCI(`huge-page advice is not observable here (platform ${process.platform}, glibc ${glibc ?? "none"}, transparent huge pages ${thp.trim() || "unknown"})`, context.skip);
    vi.stubEnv("GLIBC_TUNABLES", undefined);
    expect((await settingsInWorker("process")).hugeAdvised).toBe(true);
    vi.stubEnv("GLIBC_TUNABLES", "");
    expect((await settingsInWorker("process")).hugeAdvised).toBe(false);
  });
});
