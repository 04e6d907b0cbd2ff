import { describe, expect, it } from "vitest";
import { configFileSchema, runnerConfigSchema, zodIssues } from "./config.js";

const problems = (runner: unknown) => {
  const parsed = runnerConfigSchema.safeParse(runner);
  return parsed.success ? [] : zodIssues(parsed.error, ["runner"], runnerConfigSchema).map((issue) => `${issue.path}: ${issue.message}`);
};

describe("runner settings: every value checked, no NaN or overflowing numbers reach the runner", () => {
  it("refuses pool sizes, ports and durations that are not usable numbers", () => {
    expect(problems({ workers: 0 })).toEqual(["runner.workers: Too small: expected number to be >0"]);
    expect(problems({ workers: 1.5 })).toEqual(["runner.workers: Invalid input: expected int, received number"]);
    expect(problems({ workers: "4" })).toEqual(["runner.workers: Invalid input: expected number, received string"]);
    expect(problems({ status: { port: 70000 } })).toEqual(["runner.status.port: Too big: expected number to be <=65535"]);
    expect(problems({ checkInterval: "soon" })).toEqual(['runner.checkInterval: a duration such as "500ms", "30s", "5m", "2h"']);
    expect(problems({ checkInterval: "30d" })).toEqual(["runner.checkInterval: at most 2147483647 ms (about 24 days): the longest delay a timer can wait"]);
    expect(problems({ retry: { attempts: 3, baseMs: 1e12 } })).toEqual(["runner.retry.baseMs: at most 2147483647 ms (about 24 days): the longest delay a timer can wait"]);
  });

  it("accepts durations as numbers of ms or with units", () => {
    expect(runnerConfigSchema.parse({ checkInterval: "5m", shutdownGrace: 1500, taskTimeout: "2h" })).toMatchObject({ checkInterval: 300_000, shutdownGrace: 1500, taskTimeout: 7_200_000 });
  });

  it("refuses a bare number under 1000 for a timeout, a grace or an interval: it meant seconds, and says how to write either", () => {
    expect(problems({ taskTimeout: 60 })).toEqual(['runner.taskTimeout: 60 would be 60 milliseconds (a bare number is milliseconds): write "60s" for seconds, or "60ms" if you mean milliseconds']);
    expect(problems({ shutdownGrace: 30 })).toEqual(['runner.shutdownGrace: 30 would be 30 milliseconds (a bare number is milliseconds): write "30s" for seconds, or "30ms" if you mean milliseconds']);
    expect(problems({ checkInterval: 5 })).toHaveLength(1);
    const job = configFileSchema.safeParse({ jobs: { a: { plugin: "p", type: "t", taskTimeout: 90 } } });
    expect(zodIssues(job.error!, [], configFileSchema).map((issue) => `${issue.path}: ${issue.message}`)).toEqual([
      'jobs.a.taskTimeout: 90 would be 90 milliseconds (a bare number is milliseconds): write "90s" for seconds, or "90ms" if you mean milliseconds',
    ]);
    // what is plainly meant stays accepted: 0 (no grace), 1000 and more, and units
    expect(runnerConfigSchema.parse({ shutdownGrace: 0, taskTimeout: "60ms", checkInterval: 1000 })).toMatchObject({ shutdownGrace: 0, taskTimeout: 60, checkInterval: 1000 });
  });

  it("a value of a union's kind is told what is wrong inside it; one of no kind is told the kinds (not zod's bare \"Invalid input\")", () => {
    const issues = (history: unknown) => {
      const parsed = configFileSchema.safeParse({ runner: { history } });
      return zodIssues(parsed.error!, [], configFileSchema).map((issue) => `${issue.path}: ${issue.message}`);
    };
    expect(issues({ retention: { days: "7d" } })).toEqual(["runner.history.retention.days: Invalid input: expected number, received string"]);
    expect(issues({ retention: "30d" })).toEqual(["runner.history.retention: Invalid input: expected object, received string"]);
    expect(issues({ fil: "runs.sqlite" })).toEqual(['runner.history.fil: unknown key "fil". Did you mean "file"?']);
    expect(issues(true)).toEqual(["runner.history: expected false or a mapping"]);
  });

  it("unknown keys: one issue each, at the key, with the key it is close to", () => {
    const parsed = configFileSchema.safeParse({ runner: { wrokers: 2, colour: "blue" }, jobz: {} });
    expect(zodIssues(parsed.error!, [], configFileSchema).map((issue) => `${issue.path}: ${issue.message}`)).toEqual([
      'runner.wrokers: unknown key "wrokers". Did you mean "workers"?',
      'runner.colour: unknown key "colour".',
      'jobz: unknown key "jobz". Did you mean "jobs"?',
    ]);
  });
});
