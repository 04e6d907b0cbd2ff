import { Redis, type RedisOptions } from "ioredis";

/** A Redis URL with its password (and user) hidden: what logs and errors may show. */
export function redactRedisUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    if (parsed.username) parsed.username = "***";
    return parsed.href;
  } catch {
    return "(unparsable redis URL)";
  }
}

/**
 * A connection as BullMQ wants it (no per-request retry limit: blocking commands and
 * workers wait for Redis to come back rather than fail).
 */
export function connect(url: string, extra: RedisOptions = {}): Redis {
  return new Redis(url, { maxRetriesPerRequest: null, enableReadyCheck: true, ...extra });
}

/**
 * Returns a function that holds back the writes of `connection` until the current
 * macrotask ends, so the commands issued meanwhile (a runner round's adds, a batch of
 * removals) reach Redis in one socket write. That is what ioredis's auto-pipelining does,
 * minus its cost: it builds a Pipeline object per tick that copies every script defined on
 * the connection, and BullMQ defines dozens, which costs more than a round's few adds.
 */
export function writeBatcher(connection: Redis): () => void {
  let holding = false;
  return () => {
    if (holding || connection.status !== "ready") return;
    const stream = connection.stream;
    stream.cork();
    holding = true;
    setImmediate(() => {
      holding = false;
      stream.uncork();
    });
  };
}

/** The Redis pub/sub channel that carries cancel requests for running tasks of a queue. */
export function cancelChannel(prefix: string, queue: string): string {
  return `${prefix}:${queue}:ujr-cancel`;
}

export interface CancelMessage {
  jobId: string;
  /** The try to stop: a later try of the same task (same job id) is left alone. */
  runId: string;
  /** The TaskFailure, encoded by `encodeText`. */
  reason: string;
}

/** How long a close waits for Redis before it drops its connections, by default (`closeTimeoutMs`). */
export const CLOSE_TIMEOUT_MS = 5000;

/**
 * True when `work` settled within `ms`. A graceful close sends Redis commands; while Redis is
 * down, ioredis holds them until it reconnects (BullMQ's connections retry for ever), so a
 * close that waited for them would never end. Past `ms` the caller drops its connections.
 */
export async function settledWithin(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([work.then(() => true, () => true), late]);
  } finally {
    clearTimeout(timer);
  }
}
