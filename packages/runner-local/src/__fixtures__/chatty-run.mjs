// A runner whose 4 tasks each log `n` lines from their worker, then the run ends (the pool
// is destroyed). The parent test counts the lines on this process's stdout.
//   node chatty-run.mjs <process|thread> <n>
import { defineTask, JobDone, makeTask } from "@ujr/core";
import { LocalJobsRunner } from "@ujr/runner-local";

export const chatty = defineTask({
  module: import.meta.url,
  name: "chatty",
  run: (args, ctx) => {
    for (let i = 0; i < args.n; i++) ctx.logger.warn({ line: `${args.t}/${i}` }, "chatty line");
    return args.n;
  },
});

const [isolation, n] = process.argv.slice(2);
const done = new Set();
const job = {
  name: "chatty",
  getRunnableTasks() {
    if (done.size === 4) throw new JobDone();
    return [0, 1, 2, 3].filter((t) => !done.has(String(t))).map((t) => makeTask({ module: import.meta.url, export: "chatty" }, { n: Number(n), t }, { signature: String(t) }));
  },
  onTaskDone: (task) => void done.add(task.signature),
  onTaskFailed: (task) => void done.add(task.signature),
};
await new LocalJobsRunner({ jobs: [job], workers: 2, isolation }).run();
