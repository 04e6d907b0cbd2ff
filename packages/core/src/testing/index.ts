/**
 * `@ujr/core/testing`: what a plugin author needs to test jobs and tasks without a pool,
 * a config file or real waiting.
 *
 * - `createTestContext()`: a JobContext (temp state folder, capturing logger) for `create`.
 * - `collectTasks(job)`: ask a job once what it would run now.
 * - `runTask(definition, args)` / `runTask(task)`: run one task with a fake TaskContext.
 * - `runJob(job)`: run a job to the end in this thread, recording every task; under
 *   `vi.useFakeTimers()` time jumps ahead whenever the job only waits.
 */
export { InProcessExecutor } from "../in-process-executor.js";
export { runJob, collectTasks, type RunJobOptions, type RunJobResult } from "./run-job.js";
export { runTask, type RunTaskOptions, type RunTaskResult } from "./run-task.js";
export { createTestContext, capturingLogger, type TestContext, type TestContextOptions, type LogRecord, type CapturingLogger } from "./context.js";
