// Tasks run in pool workers (other processes, maybe other machines). They receive and
// return structured-clonable data only, and are addressed by this package's specifier
// ("{{name}}/tasks", see `exports` in package.json) so every worker can resolve them.
// `@ujr/core/task` is the task side of `@ujr/core`: each worker imports this module on
// start, and that entry leaves out zod and the runner, which workers do not need.
import { mkdir, rename, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { defineTask } from "@ujr/core/task";

export interface WriteMessageArgs {
  file: string;
  message: string;
}

/** Writes a message to a file (temp file + rename: never half-written). */
export const writeMessage = defineTask<WriteMessageArgs, { file: string; bytes: number }>({
  module: "{{name}}/tasks",
  name: "writeMessage",
  async run({ file, message }, ctx) {
    await mkdir(dirname(file), { recursive: true });
    await writeFile(`${file}.tmp`, `${message}\n`, { signal: ctx.signal });
    await rename(`${file}.tmp`, file);
    ctx.logger.debug({ file }, "message written");
    return { file, bytes: Buffer.byteLength(message) + 1 };
  },
});
