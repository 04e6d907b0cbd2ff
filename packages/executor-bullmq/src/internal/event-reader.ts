import type { Redis } from "ioredis";
import { toTaskFailure, type Logger } from "@ujr/core";

/** One BullMQ queue event: its name, its job id and its raw field list ([name, value, ...]). */
export interface QueueEvent {
  event: string;
  jobId: string;
  fields: string[];
}

export interface EventReaderOptions {
  /** A connection of its own: XREAD BLOCK holds it. */
  connection: Redis;
  /** The queue's event stream key (`queue.keys.events`). */
  key: string;
  /** Read entries after this stream id. */
  after: string;
  /** The events to deliver; the others are skipped without being decoded. */
  events: ReadonlySet<string>;
  /** Called with each batch of events read at once, in stream order. */
  onBatch(events: QueueEvent[]): void;
  logger: Logger;
  /** How long one XREAD blocks before it is sent again (ms, default 5000). */
  blockMs?: number | undefined;
  /** Most entries one XREAD returns (default 1000). */
  count?: number | undefined;
  /** Wait after a read error before reading again (ms, default 1000). */
  retryMs?: number | undefined;
}

/** The value of `name` in a stream entry's field list, or undefined. */
export function eventField(fields: readonly string[], name: string): string | undefined {
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
  return undefined;
}

/**
 * Reads a BullMQ queue's event stream, as BullMQ's QueueEvents does, but hands over each
 * XREAD reply as one batch and decodes only the events asked for. The coordinator reads
 * every event of every task of the queue (added, waiting, active, completed...), so this
 * is its busiest path: one object per interesting event, nothing for the rest, and the
 * outcomes of one reply reach the runner together (one round for many completions).
 */
export class EventReader {
  readonly #options: EventReaderOptions;
  #after: string;
  #closed = false;
  #loop: Promise<void> | undefined;
  #wakeRetry: (() => void) | undefined;

  constructor(options: EventReaderOptions) {
    this.#options = options;
    this.#after = options.after;
  }

  start(): void {
    this.#loop ??= this.#run();
  }

  async #run(): Promise<void> {
    const { connection, key, events: wanted, onBatch, logger } = this.#options;
    const blockMs = this.#options.blockMs ?? 5000;
    const count = this.#options.count ?? 1000;
    while (!this.#closed) {
      let reply: Array<[string, Array<[string, string[]]>]> | null;
      try {
        reply = (await connection.xread("COUNT", count, "BLOCK", blockMs, "STREAMS", key, this.#after)) as typeof reply;
      } catch (error) {
        if (this.#closed) return;
        logger.warn({ err: toTaskFailure(error) }, "could not read queue events; reading again shortly");
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, this.#options.retryMs ?? 1000);
          this.#wakeRetry = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        continue;
      }
      const entries = reply?.[0]?.[1];
      if (!entries || entries.length === 0 || this.#closed) continue;
      const batch: QueueEvent[] = [];
      for (const [id, fields] of entries) {
        this.#after = id;
        // BullMQ writes the event name first ("event", name, "jobId", id, ...).
        const event = fields[0] === "event" ? fields[1] : eventField(fields, "event");
        if (event === undefined || !wanted.has(event)) continue;
        const jobId = fields[2] === "jobId" ? fields[3] : eventField(fields, "jobId");
        if (jobId !== undefined) batch.push({ event, jobId, fields });
      }
      if (batch.length === 0) continue;
      try {
        onBatch(batch);
      } catch (error) {
        logger.error({ err: toTaskFailure(error) }, "handling queue events failed");
      }
    }
  }

  /** Stops reading; the connection is the caller's to close (which ends a blocked read). */
  async close(): Promise<void> {
    this.#closed = true;
    this.#wakeRetry?.();
  }

  /** Resolves when the read loop has ended (after close() and the connection closing). */
  get ended(): Promise<void> {
    return this.#loop ?? Promise.resolve();
  }
}
