import { join } from "node:path";
import { defineJobType, definePlugin, JobDone, z, type Job, type JobContext, type Task } from "@ujr/core";
import { writeMessage } from "./tasks.js";

export const {{jobTypeCamel}}Config = z.strictObject({
  message: z.string().min(1).default("Hello from {{name}}").describe("What to write."),
  file: z.string().default("message.txt").describe("File name, in the job's state folder."),
});

/** Writes one message into the job's state folder, then is done. */
export class {{jobTypeClass}}Job implements Job {
  readonly name: string;
  written: string | undefined;
  readonly #file: string;
  readonly #message: string;

  constructor(config: z.output<typeof {{jobTypeCamel}}Config>, ctx: JobContext) {
    this.name = ctx.name;
    this.#file = join(ctx.stateDir, config.file);
    this.#message = config.message;
  }

  getRunnableTasks(): Task[] {
    if (this.written) throw new JobDone();
    return [writeMessage.with({ file: this.#file, message: this.#message }, { timeoutMs: 30_000, retry: 3 })];
  }

  onTaskDone(_task: Task, result: unknown): void {
    this.written = (result as { file: string }).file;
  }
}

export default definePlugin({
  name: "{{name}}",
  apiVersion: 1,
  jobs: {
    {{jobTypeKey}}: defineJobType({
      description: "Writes a message into the job's state folder.",
      config: {{jobTypeCamel}}Config,
      create: (config, ctx) => new {{jobTypeClass}}Job(config, ctx),
    }),
  },
});
