import type { WireEncoded } from "@ujr/core";

/**
 * The messages of a worker session (see process-sessions.ts), JSON over a child process's
 * IPC channel. Tagged arrays: compact, and told apart from tinypool's own messages
 * (objects) and from anything a task sends itself.
 */

/**
 * Runner → worker: run this task (the message a per-task tinypool run carries, with its
 * arguments encoded by `encodeWire`).
 */
export const TASK_TAG = "ujr:task";
/** Worker → runner: the session listens for tasks now. */
export const READY_TAG = "ujr:ready";
/** Worker → runner: `[RESULT_TAG, run id, outcome encoded by `encodeWire`]`. */
export const RESULT_TAG = "ujr:result";

/** [module URL, module specifier, export, args, job, run id, attempt, signature, report progress (1) or not (0)] */
export type WorkerMessage = [string, string, string, unknown, string, string, number, string | undefined, (0 | 1)?];

export type TaskMessage = [typeof TASK_TAG, WorkerMessage];
export type ResultMessage = [typeof RESULT_TAG, string, WireEncoded];

export function isTaskMessage(message: unknown): message is TaskMessage {
  return Array.isArray(message) && message.length === 2 && message[0] === TASK_TAG && Array.isArray(message[1]);
}

export function isReadyMessage(message: unknown): boolean {
  return Array.isArray(message) && message.length === 1 && message[0] === READY_TAG;
}

export function isResultMessage(message: unknown): message is ResultMessage {
  return Array.isArray(message) && message.length === 3 && message[0] === RESULT_TAG && typeof message[1] === "string";
}

/** Slot states of a thread session's shared Int32Array (see thread-sessions.ts). */
export const SLOT_FREE = 0;
export const SLOT_QUEUED = 1;
export const SLOT_STARTED = 2;
export const SLOT_CANCELLED = 3;
export const SLOT_DONE = 4;

/**
 * Runner → thread: a message is a list of `[slot, task]`, the tasks handed in one tick;
 * thread → runner: `[READY_TAG]` once, then `[RESULT_TAG, run id, outcome]` per task (the
 * outcome structured-cloned, not encoded).
 */
export type ThreadTaskMessage = [number, WorkerMessage];

