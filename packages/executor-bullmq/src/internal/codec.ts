import * as crypto from "node:crypto";
import { decodeWire, encodeWire, taskIdentity, type TaskFailure, type TaskOutcome, type TaskRef, type TaskRun, type WireEncoded } from "@ujr/core";

/**
 * What a BullMQ job carries (BullMQ stores it as JSON; every byte is parsed by a worker
 * and kept in Redis). The run's arguments are encoded with `encodeWire`, so they arrive
 * with the same types as in the local pool (Date, Map, typed arrays...), while plain data
 * stays plain JSON, readable by people looking at the queue.
 */
export interface JobData {
  job: string;
  signature?: string | undefined;
  run: { id: string; ref: TaskRef; attempt: number; resolveFrom: string[]; args: WireEncoded };
}

/**
 * A BullMQ job's return value: always an outcome, so task failures keep their shape.
 * The value or failure is encoded with `encodeWire`.
 */
export type JobResult = ({ ok: true; value: WireEncoded } | { ok: false; error: WireEncoded }) & {
  /** The run was aborted by a cancel message: not a result anyone should keep. */
  cancelled?: boolean;
};

/** A TaskFailure (or other small value) as text, for a pub/sub message. */
export function encodeText(value: unknown): string {
  return JSON.stringify(encodeWire(value));
}

export function decodeText<T>(text: string): T {
  return decodeWire(JSON.parse(text) as WireEncoded) as T;
}

export function encodeRun(run: TaskRun): JobData {
  return {
    job: run.job,
    signature: run.signature,
    run: { id: run.id, ref: run.ref, attempt: run.attempt, resolveFrom: run.resolveFrom, args: encodeWire(run.args) },
  };
}

/** The run a job carries; throws (with the reason) for data a ujr coordinator of this version did not write. */
export function decodeRun(data: JobData): TaskRun {
  const run = (data as Partial<JobData> | null)?.run;
  if (typeof data?.job !== "string" || typeof run !== "object" || run === null || !Array.isArray(run.args) || typeof run.ref?.module !== "string") {
    throw new Error("its data has no ujr task run");
  }
  const { id, ref, attempt, resolveFrom, args } = run;
  return { id, job: data.job, ref, args: decodeWire(args), signature: data.signature ?? undefined, attempt, resolveFrom };
}

export function encodeResult(outcome: TaskOutcome, cancelled = false): JobResult {
  const result: JobResult = outcome.ok ? { ok: true, value: encodeWire(outcome.value) } : { ok: false, error: encodeWire(outcome.error) };
  if (cancelled) result.cancelled = true;
  return result;
}

export function decodeResult(result: unknown): { outcome: TaskOutcome; cancelled: boolean } | undefined {
  if (typeof result !== "object" || result === null) return undefined;
  const cancelled = (result as JobResult).cancelled === true;
  const { ok } = result as JobResult;
  if (ok === true && Array.isArray((result as { value?: unknown }).value)) {
    return { outcome: { ok: true, value: decodeWire((result as { value: WireEncoded }).value) }, cancelled };
  }
  if (ok === false && Array.isArray((result as { error?: unknown }).error)) {
    return { outcome: { ok: false, error: decodeWire((result as { error: WireEncoded }).error) as TaskFailure }, cancelled };
  }
  return undefined;
}

/**
 * The BullMQ job id of a task: derived from its dedup identity (job, module#export,
 * signature), so every coordinator maps the same task to the same id and BullMQ refuses
 * to queue it twice. BullMQ ids may not contain ':' and may not be plain integers: the
 * id is the job's name (made safe) and a hash.
 */
export function bullmqJobId(run: Pick<TaskRun, "job" | "ref" | "signature">): string {
  const identity = taskIdentity(run.job, { ref: run.ref, signature: run.signature });
  const hash = sha256(identity).slice(0, 32);
  const name = run.job.replace(/[^A-Za-z0-9._-]/g, "_").slice(0, 64);
  return `${name}.${hash}`;
}

/** One-shot hashing where Node has it (20.12+): no Hash object per task. */
const sha256: (text: string) => string =
  typeof crypto.hash === "function"
    ? (text) => crypto.hash("sha256", text, "base64url")
    : (text) => crypto.createHash("sha256").update(text).digest("base64url");
