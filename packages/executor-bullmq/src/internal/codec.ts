import { createHash } from "node:crypto";
import { deserialize, serialize } from "node:v8";
import { taskIdentity, type TaskOutcome, type TaskRun } from "@ujr/core";

/**
 * What a BullMQ job carries. The task run travels as a structured-clone (v8) payload so
 * that arguments and results keep the same types as with the local pool (Date, Map,
 * typed arrays...), not only what JSON can hold. The readable fields are for people
 * looking at the queue.
 */
export interface JobData {
  job: string;
  task: string;
  signature?: string | undefined;
  payload: string;
}

/** A BullMQ job's return value: always an outcome, so task failures keep their shape. */
export interface JobResult {
  outcome: string;
  /** The run was aborted by a cancel message: not a result anyone should keep. */
  cancelled?: boolean;
}

export function encode(value: unknown): string {
  return serialize(value).toString("base64");
}

export function decode<T>(text: string): T {
  return deserialize(Buffer.from(text, "base64")) as T;
}

export function encodeRun(run: TaskRun): JobData {
  return { job: run.job, task: `${run.ref.module}#${run.ref.export}`, signature: run.signature, payload: encode(run) };
}

export function decodeRun(data: JobData): TaskRun {
  return decode<TaskRun>(data.payload);
}

export function encodeResult(outcome: TaskOutcome, cancelled = false): JobResult {
  return cancelled ? { outcome: encode(outcome), cancelled: true } : { outcome: encode(outcome) };
}

export function decodeResult(result: unknown): { outcome: TaskOutcome; cancelled: boolean } | undefined {
  if (typeof result !== "object" || result === null || typeof (result as JobResult).outcome !== "string") return undefined;
  return { outcome: decode<TaskOutcome>((result as JobResult).outcome), cancelled: (result as JobResult).cancelled === true };
}

/**
 * The BullMQ job id of a task: derived from its dedup identity (job, module#export,
 * signature), so every coordinator maps the same task to the same id and BullMQ refuses
 * to queue it twice. BullMQ ids may not contain ':' and may not be plain integers: the
 * id is the job's name (made safe) and a hash.
 */
export function bullmqJobId(run: Pick<TaskRun, "job" | "ref" | "signature">): string {
  const identity = taskIdentity(run.job, { ref: run.ref, signature: run.signature });
  const hash = createHash("sha256").update(identity).digest("base64url").slice(0, 32);
  const name = run.job.replace(/[^A-Za-z0-9._-]/g, "_").slice(0, 64);
  return `${name}.${hash}`;
}
