import { Redis, type RedisOptions } from "ioredis";
import { toTaskFailure, type Logger } from "@ujr/core";
import { bullmqError } from "../errors.js";

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

/** Errors of the connection itself (Redis down, restarting, unreachable), as ioredis reports each failed attempt. */
const CONNECTION_ERROR = /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN|EPIPE|Connection is closed|Stream isn't writeable/;
/** How often an outage is said again while it lasts. */
const OUTAGE_REPEAT_MS = 60_000;

/**
 * What a worker or a coordinator says of its Redis connection's errors. ioredis reports
 * every failed reconnect attempt (dozens a minute, each with its stack): an outage is said
 * once with its code and `retrying` (what this process does meanwhile), again at most once
 * a minute, and its end (`back`; a caller that says the end itself passes none). BullMQ's
 * other errors are said as what they mean for the task.
 */
export function redisTrouble(logger: Logger, connection: Redis, where: { redis: string; queue: string }, said: { retrying: string; back?: string }): (error: Error) => void {
  let since: number | undefined;
  let lastSaid = 0;
  connection.on("ready", () => {
    if (since === undefined) return;
    if (said.back !== undefined) logger.info({ redis: where.redis, downMs: Date.now() - since }, said.back);
    since = undefined;
    lastSaid = 0;
  });
  return (error) => {
    const message = error?.message ?? String(error);
    if (/Missing (lock|key) for job/.test(message)) {
      logger.warn({ err: toTaskFailure(error) }, "a task's outcome could not be stored: its lock was lost (Redis was away longer than lockDuration, or another worker took the task over); the task runs again");
      return;
    }
    if (!CONNECTION_ERROR.test(`${(error as { code?: string }).code ?? ""} ${message}`)) {
      logger.warn({ err: toTaskFailure(error) }, "queue error");
      return;
    }
    const now = Date.now();
    since ??= now;
    if (lastSaid > 0 && now - lastSaid < OUTAGE_REPEAT_MS) return;
    lastSaid = now;
    const unreachable = bullmqError("UJR_BULLMQ_REDIS_UNREACHABLE", { ...where, reason: message });
    logger.warn(
      { code: unreachable.code, redis: where.redis, since: new Date(since).toISOString() },
      `${unreachable.message} ${said.retrying} (said again at most once a minute while it lasts).`,
    );
  };
}
