// The fetch lock: a holder that is gone is taken over at once; a live holder (the pool
// worker of a runner killed a moment ago) is waited for, and the lock is taken as soon as
// it lets go; one that does not let go in time fails the try with UJR_COLLECTOR_BUSY.
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { acquireLock } from "./lock.js";

let dir: string;
let holder: ChildProcess | undefined;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "ujr-lock-"));
});
afterEach(async () => {
  holder?.kill("SIGKILL");
  holder = undefined;
  await rm(dir, { recursive: true, force: true });
});

/** A live process other than this one: it runs until killed. */
async function liveProcess(): Promise<ChildProcess> {
  const p = spawn(process.execPath, ["-e", "process.stdout.write('up'); setInterval(() => {}, 1 << 30)"], { stdio: ["ignore", "pipe", "ignore"] });
  await once(p.stdout!, "data");
  return p;
}

describe("the fetch lock", () => {
  it("a lock left by a process that is gone is taken over at once", async () => {
    const p = await liveProcess();
    p.kill("SIGKILL");
    await once(p, "exit");
    const lock = join(dir, "fetch.lock");
    writeFileSync(lock, String(p.pid));
    const release = await acquireLock(lock, "fetch", { waitMs: 0 });
    expect(readFileSync(lock, "utf8")).toBe(String(process.pid));
    await release();
    expect(existsSync(lock)).toBe(false);
  });

  it("a live holder is waited for: the lock is taken once it exits", async () => {
    holder = await liveProcess();
    const lock = join(dir, "fetch.lock");
    writeFileSync(lock, String(holder.pid));
    let taken = false;
    const acquiring = acquireLock(lock, "fetch", { waitMs: 60_000 }).then((release) => {
      taken = true;
      return release;
    });
    // still waiting while the holder lives (its first checks are behind us once it is killed)
    await new Promise((r) => setImmediate(r));
    expect(taken).toBe(false);
    holder.kill("SIGKILL");
    await once(holder, "exit");
    const release = await acquiring;
    expect(readFileSync(lock, "utf8")).toBe(String(process.pid));
    await release();
  });

  it("a holder that does not let go in time fails the try, retryable, naming its pid", async () => {
    holder = await liveProcess();
    const lock = join(dir, "fetch.lock");
    writeFileSync(lock, String(holder.pid));
    await expect(acquireLock(lock, "fetch", { waitMs: 100 })).rejects.toMatchObject({
      code: "UJR_COLLECTOR_BUSY",
      retryable: true,
      message: expect.stringContaining(`Another process (pid ${holder.pid}) is running the fetch of this job`),
    });
    expect(readFileSync(lock, "utf8")).toBe(String(holder.pid));
  });

  it("an abort stops the wait", async () => {
    holder = await liveProcess();
    const lock = join(dir, "fetch.lock");
    writeFileSync(lock, String(holder.pid));
    const ac = new AbortController();
    const acquiring = acquireLock(lock, "fetch", { waitMs: 60_000, signal: ac.signal });
    ac.abort(new Error("stopped"));
    await expect(acquiring).rejects.toMatchObject({ name: "AbortError" });
  });
});
