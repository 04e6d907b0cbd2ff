// Child process of the crash-in-a-batch tests: what `ujr run <config>` does (a ConfigFileRunner
// over the config file, process isolation by default), logging JSON lines to stdout at
// UJR_TEST_LOG_LEVEL (default info).
import { ConfigFileRunner } from "@ujr/runner-local";

const runner = await ConfigFileRunner.fromFile(process.argv[2], { watch: false, logLevel: process.env.UJR_TEST_LOG_LEVEL || "info" });
const result = await runner.run();
process.exit(result.failedJobs.length > 0 ? 1 : 0);
