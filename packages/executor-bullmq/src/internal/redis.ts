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

/** The Redis pub/sub channel that carries cancel requests for running tasks of a queue. */
export function cancelChannel(prefix: string, queue: string): string {
  return `${prefix}:${queue}:ujr-cancel`;
}

export interface CancelMessage {
  jobId: string;
  /** Encoded TaskFailure. */
  reason: string;
}
