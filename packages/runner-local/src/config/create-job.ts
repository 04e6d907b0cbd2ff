import { join } from "node:path";
import { makeFolders, refusalReason, toTaskFailure, ujrError, type Job, type JobEntry, type Logger, type UjrError } from "@ujr/core";
import type { LoadedJob } from "./resolve-config.js";
import { makeDataDir } from "./data-dir.js";

/** Creates a job from its loaded config, with its own state folder under dataDir. */
export async function createJob(loaded: LoadedJob, config: { dataDir: string; dir: string }, logger: Logger): Promise<JobEntry> {
  const stateDir = join(config.dataDir, loaded.name);
  let job: Job;
  try {
    // One plain mkdir per missing level, never a recursive one (it can spin for ever: see
    // makeFolders). Usually only the job's own folder: createJobsOrThrow made dataDir.
    const folder = makeFolders(stateDir);
    if ("refused" in folder) throw new Error(`its state folder ${stateDir} cannot be made: ${folder.refused.parent} ${refusalReason(folder.refused)}`);
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

/** Creates every job, collecting the failures instead of stopping at the first. */
export async function createJobs(jobs: LoadedJob[], config: { dataDir: string; dir: string }, logger: Logger): Promise<{ entries: JobEntry[]; failures: UjrError[] }> {
  const entries: JobEntry[] = [];
  const failures: UjrError[] = [];
  for (const loaded of jobs) {
    try {
      entries.push(await createJob(loaded, config, logger));
    } catch (error) {
      failures.push(error as UjrError);
    }
  }
  return { entries, failures };
}

/**
 * Creates every job, or none: a job whose create() fails is bad input, found before any
 * task runs. The jobs already made are closed and one error names every failed job.
 */
export async function createJobsOrThrow(jobs: LoadedJob[], config: { dataDir: string; dir: string; file?: string | undefined }, logger: Logger): Promise<JobEntry[]> {
  // One error for the folder every job keeps its state in, rather than one per job; made
  // here, before any job's create() (and checked by making it: see dataDirProblem).
  if (jobs.length > 0) makeDataDir(config.dataDir, config.file);
  const { entries, failures } = await createJobs(jobs, config, logger);
  if (failures.length === 0) return entries;
  await Promise.all(entries.map(({ job }) => Promise.resolve().then(() => job.close?.()).catch(() => undefined)));
  if (failures.length === 1) throw failures[0];
  throw ujrError("UJR_JOB_CREATE_FAILED", {
    job: failures.map((failure) => failure.params.job).join('", "'),
    reason: `\n${failures.map((failure) => `  - ${failure.message}`).join("\n")}`,
  });
}
