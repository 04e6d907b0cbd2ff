// A runner with one task of three 0.4 s steps and a 3 s timeout, for the test that stops
// this process (kill -STOP) mid-task, as Ctrl-Z or a frozen VM does, and starts it again.
// Prints "started" when the task starts, then the run's outcome as JSON.
import { InProcessExecutor, JobDone, Runner } from "@ujr/core";
import { steps } from "./tasks.mjs";

let asked = 0;
const job = {
  name: "stopped",
  getRunnableTasks() {
    if (asked++ > 0) throw new JobDone();
    return [steps.with({ steps: 3, ms: 400 }, { signature: "s", timeoutMs: 3_000 })];
  },
};
const runner = new Runner({ executor: new InProcessExecutor(), jobs: [job] });
runner.on("task:started", () => process.stdout.write("started\n"));
const result = await runner.run();
process.stdout.write(`${JSON.stringify(result.tasks)}\n`);
