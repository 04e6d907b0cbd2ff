export { LocalJobsRunner, type LocalJobsRunnerOptions } from "./local-runner.js";
export { TinypoolExecutor, type TinypoolExecutorOptions, type Isolation } from "./tinypool-executor.js";
export { ConfigFileRunner, type ConfigFileRunnerOptions } from "./config-runner.js";
export { handleStopSignals, type SignalHandling } from "./signals.js";
export { loadConfigFile, type LoadedConfig, type LoadedJob, type PositionedIssue, type ConfigError, type LoadConfigOptions } from "./config/load.js";
export { createJob } from "./config/create-job.js";
export { loadPlugin, resolvePlugin, installCommand, type LoadedPlugin } from "./config/plugins.js";
export { interpolateEnv } from "./config/interpolate.js";
