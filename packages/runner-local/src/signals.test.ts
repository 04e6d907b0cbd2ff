import { describe, expect, it } from "vitest";
import { EventEmitter } from "node:events";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { createLogger, InProcessExecutor, JobDone, makeTask, type Job, type Task } from "@ujr/core";
import { LocalJobsRunner } from "./local-runner.js";
import { handleStopSignals } from "./signals.js";

const tasks = new URL("./__fixtures__/tasks.mjs", import.meta.url).href;

function onceJob(task: Task): Job {
  let ended = false;
  return {
    name: "slow",
    getRunnableTasks() {
      if (ended) throw new JobDone();
      return [task];
    },
    onTaskDone: () => void (ended = true),
    onTaskFailed: () => void (ended = true),
  };
}

function logged() {
  const lines: Array<{ level: number; msg: string }> = [];
  const destination = new Writable({
    write(chunk, _encoding, callback) {
      for (const line of chunk.toString().split("\n").filter(Boolean)) lines.push(JSON.parse(line));
      callback();
    },
  });
  return { logger: createLogger({ level: "debug", destination }), lines };
}

/** A runner with one task that takes `ms`, and a signal source under the test's control. */
function setup(ms: number) {
  const dir = mkdtempSync(join(tmpdir(), "ujr-signals-"));
  const marker = join(dir, "marker");
  const { logger, lines } = logged();
  const runner = new LocalJobsRunner({
    jobs: [onceJob(makeTask({ module: tasks, export: "slow" }, { marker, ms }))],
    executor: new InProcessExecutor({ size: 1 }),
    handleSignals: false,
    logger,
  });
  const target = new EventEmitter();
  const clock = { t: 0 };
  const signals = handleStopSignals(runner, { graceMs: 60_000, logger, target, now: () => clock.t });
  return { runner, target, clock, signals, lines, marker, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

describe("stop signals", () => {
  it("the same signal delivered twice at once (a wrapper forwarding it) is one stop request: warned once, running tasks finish", async () => {
    const s = setup(300);
    s.runner.on("task:started", () => {
      s.target.emit("SIGTERM", "SIGTERM");
      s.clock.t += 3;
      s.target.emit("SIGTERM", "SIGTERM");
    });
    const result = await s.runner.run();
    s.signals.dispose();
    expect(result.tasks).toMatchObject({ done: 1, cancelled: 0 });
    expect(readFileSync(s.marker, "utf8")).toBe("finished");
    expect(s.lines.filter((l) => /received SIGTERM/.test(l.msg)).map((l) => l.msg)).toEqual([
      "received SIGTERM: no new tasks; running tasks have 60 s to finish (send it again to stop them now)",
    ]);
    expect(s.signals.received).toBe("SIGTERM");
    s.cleanup();
  });

  it("a second signal after the repeat window stops running tasks now, warned once however often it comes", async () => {
    const s = setup(60_000);
    s.runner.on("task:started", () => {
      s.target.emit("SIGINT", "SIGINT");
      s.clock.t += 1000;
      s.target.emit("SIGINT", "SIGINT");
      s.target.emit("SIGINT", "SIGINT");
    });
    const result = await s.runner.run();
    s.signals.dispose();
    expect(result.tasks).toMatchObject({ done: 0, cancelled: 1 });
    expect(s.lines.filter((l) => /received SIGINT/.test(l.msg)).map((l) => l.msg)).toEqual([
      "received SIGINT: no new tasks; running tasks have 60 s to finish (send it again to stop them now)",
      "received SIGINT again: stopping running tasks now",
    ]);
    s.cleanup();
  });
});
