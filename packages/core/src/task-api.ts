/**
 * `@ujr/core/task`: what a task module and a task worker need, without the config schemas
 * (zod) and the runner loop. Every worker process or thread imports its task modules on
 * start; importing this instead of `@ujr/core` keeps zod, the runner and their modules out
 * of each worker's start-up (see apps/cli/README.md, "Start-up cost"). The same modules as
 * `@ujr/core` (one instance of each), so both can be used side by side.
 */
export * from "./errors.js";
export * from "./duration.js";
export * from "./retry.js";
export * from "./task.js";
export * from "./executor.js";
export * from "./logger.js";
export * from "./execute.js";
export * from "./durable-files.js";
export * from "./disk-space.js";
export * from "./process-alive.js";
export * from "./nearest-folder.js";
export * from "./make-folders.js";
export * from "./clock.js";
export { awakeTimeout, type AwakeTimeout } from "./awake-time.js";
export * from "./native-module.js";
export * from "./wire-codec.js";
