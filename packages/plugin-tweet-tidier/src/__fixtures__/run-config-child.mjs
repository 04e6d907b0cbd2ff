// Child process of the crash-in-a-batch test: what `ujr run <config>` does (a ConfigFileRunner
// over the config file, process isolation by default), logging JSON lines to stdout.
import { ConfigFileRunner } from "@ujr/runner-local";

const runner = await ConfigFileRunner.fromFile(process.argv[2], { watch: false, logLevel: "info" });
const result = await runner.run();
process.exit(result.failedJobs.length > 0 ? 1 : 0);
