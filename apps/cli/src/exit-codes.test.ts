import { describe, expect, it } from "vitest";
import type { JobOutcome, RunResult } from "@ujr/core";
import { describeJobOutcomes } from "./exit-codes.js";

const tasks = (counts: Partial<JobOutcome["tasks"]>): JobOutcome["tasks"] => ({ done: 0, failed: 0, timedOut: 0, retried: 0, cancelled: 0, ...counts });
const result = (jobs: Record<string, JobOutcome>): RunResult => ({ reason: "stopped", tasks: tasks({}), failedJobs: [], jobs });

describe("the run's last words, job by job", () => {
  it("says the failed tasks of a job that was stopped, not only of one that finished", () => {
    expect(
      describeJobOutcomes(
        result({
          tidy: { outcome: "stopped", tasks: tasks({ done: 53, failed: 2 }) },
          summary: { outcome: "done", tasks: tasks({ done: 1, failed: 1 }) },
          collect: { outcome: "stopped", tasks: tasks({ done: 4 }) },
        }),
      ),
    ).toEqual([
      "tidy: stopped, 53 task(s) done, 2 task(s) failed (see the warnings)",
      "summary: done, 1 task(s) done (1 task(s) failed for good; the job finished anyway: see the warnings)",
      "collect: stopped, 4 task(s) done",
    ]);
  });
});
