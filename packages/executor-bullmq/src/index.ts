export { BullmqExecutor, type BullmqExecutorOptions } from "./bullmq-executor.js";
export { runWorker, type RunWorkerOptions, type WorkerHandle } from "./worker.js";
export { createExecutorFromConfig, type ExecutorFromConfigOptions } from "./from-config.js";
export { bullmqError, bullmqErrorCatalogue, type BullmqExecutorError, type BullmqErrorCode, type BullmqErrorParams } from "./errors.js";
