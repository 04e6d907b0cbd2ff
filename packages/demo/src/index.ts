export { runDemo, defaultExitCode, type DemoOptions } from "./run-demo.js";
export { demoConfig, DEMO_JOBS, DEMO_PLUGINS } from "./config.js";
export { prepareDemoFolder, linkPlugins, DEMO_MARKER } from "./folder.js";
export { demoError, demoErrorCatalogue, type DemoErrorCode } from "./errors.js";
