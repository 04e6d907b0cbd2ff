import { z } from "zod";
import type { Job, JobContext } from "./job.js";
import type { TaskDefinition } from "./task.js";

/** The plugin API this core speaks. Plugins declare the version they were built for. */
export const PLUGIN_API_VERSION = 1;

export const PLUGIN_TYPE = "@ujr/plugin";
export const JOB_TYPE_TYPE = "@ujr/job-type";

export interface JobTypeDefinition<Schema extends z.ZodType = z.ZodType> {
  description?: string;
  /** Validates, fills defaults for and documents (as JSON Schema) the job's `config`. */
  config: Schema;
  create(config: z.output<Schema>, context: JobContext): Job | Promise<Job>;
  /**
   * The tasks jobs of this type may return. Optional; when given, `ujr validate` and the
   * runner check before anything runs that each task module resolves where the workers
   * will look for it (a package whose `exports` lacks the subpath is caught there, not
   * when the first task fails). Task definitions exported by the plugin's entry module
   * are checked too.
   */
  tasks?: ReadonlyArray<TaskDefinition<any, any>>;
}

export interface JobType<Schema extends z.ZodType = z.ZodType> extends JobTypeDefinition<Schema> {
  readonly $$type: typeof JOB_TYPE_TYPE;
}

export interface PluginDefinition {
  /** The npm package name. */
  name: string;
  version?: string;
  description?: string;
  apiVersion: number;
  jobs: Record<string, JobType<any>>;
}

export interface Plugin extends PluginDefinition {
  readonly $$type: typeof PLUGIN_TYPE;
}

export function defineJobType<Schema extends z.ZodType>(definition: JobTypeDefinition<Schema>): JobType<Schema> {
  return Object.freeze({ ...definition, $$type: JOB_TYPE_TYPE });
}

export function definePlugin(definition: PluginDefinition): Plugin {
  return Object.freeze({ ...definition, jobs: Object.freeze({ ...definition.jobs }), $$type: PLUGIN_TYPE });
}

/** Branded check that works across copies of @ujr/core (no instanceof). */
export function isPlugin(value: unknown): value is Plugin {
  return typeof value === "object" && value !== null && (value as { $$type?: unknown }).$$type === PLUGIN_TYPE;
}

export function isJobType(value: unknown): value is JobType {
  return typeof value === "object" && value !== null && (value as { $$type?: unknown }).$$type === JOB_TYPE_TYPE;
}

/** JSON Schema of a job type's config, for editors and `ujr plugins`. */
export function jobConfigJsonSchema(jobType: JobType): Record<string, unknown> {
  try {
    return z.toJSONSchema(jobType.config, { io: "input", unrepresentable: "any" }) as Record<string, unknown>;
  } catch {
    return {};
  }
}
