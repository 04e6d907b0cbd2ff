import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { toTaskFailure, ujrError, type Job, type JobEntry, type Logger } from "@ujr/core";
import type { LoadedConfig, LoadedJob } from "./load.js";

/** Creates a job from its loaded config, with its own state folder under dataDir. */
export async function createJob(loaded: LoadedJob, config: Pick<LoadedConfig, "dataDir" | "dir">, logger: Logger): Promise<JobEntry> {
  const stateDir = join(config.dataDir, loaded.name);
  let job: Job;
  try {
    await mkdir(stateDir, { recursive: true });
    job = await loaded.jobType.create(loaded.config, {
      name: loaded.name,
      stateDir,
      configDir: config.dir,
      logger: logger.child({ job: loaded.name }),
    });
  } catch (error) {
    throw ujrError("UJR_JOB_CREATE_FAILED", { job: loaded.name, reason: toTaskFailure(error).message }, { cause: error });
  }
  if (!job || typeof job.getRunnableTasks !== "function") {
    throw ujrError("UJR_JOB_CREATE_FAILED", { job: loaded.name, reason: "the job type's create() did not return a job (an object with getRunnableTasks)" });
  }
  if (job.name !== loaded.name) {
    throw ujrError("UJR_JOB_CREATE_FAILED", { job: loaded.name, reason: `the job calls itself "${job.name}"; use the name from its context (ctx.name)` });
  }
  return { job, settings: loaded.settings };
}
