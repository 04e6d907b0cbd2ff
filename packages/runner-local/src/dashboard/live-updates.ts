import type { ServerResponse } from "node:http";
import type { Runner } from "@ujr/core";

/** Runner events after which the dashboard's view is out of date. */
const CHANGES = [
  "task:started",
  "task:done",
  "task:failed",
  "task:timeout",
  "task:retry",
  "task:cancelled",
  "task:progress",
  "job:added",
  "job:done",
  "job:failed",
  "job:removed",
  "job:error",
  "job:paused",
  "job:resumed",
  "runner:stopping",
  "runner:stopped",
];

export interface LiveUpdatesOptions {
  /** The payload of an update (built only when someone listens). */
  build: (force: boolean) => Promise<unknown>;
  /** Fewest ms between two updates (default 300): progress events come in bursts. */
  minIntervalMs?: number | undefined;
  /** An update at least this often, for times that pass (next check, backoff) (default 5 s). */
  maxIntervalMs?: number | undefined;
}

/**
 * Server-sent events: each client gets an `overview` event when it connects, then one
 * whenever the runner changed (at most every `minIntervalMs`), and at least every
 * `maxIntervalMs`. Nothing is computed while nobody listens.
 */
export class LiveUpdates {
  readonly #clients = new Set<ServerResponse>();
  readonly #runner: Runner;
  readonly #options: LiveUpdatesOptions;
  #dirty = false;
  #building = false;
  #timer: NodeJS.Timeout | undefined;
  #heartbeat: NodeJS.Timeout | undefined;
  #lastSent = 0;
  readonly #onChange = () => this.#changed();

  constructor(runner: Runner, options: LiveUpdatesOptions) {
    this.#runner = runner;
    this.#options = options;
  }

  get clients(): number {
    return this.#clients.size;
  }

  add(response: ServerResponse): void {
    response.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-store", connection: "keep-alive", "x-accel-buffering": "no" });
    if (this.#clients.size === 0) this.#listen();
    this.#clients.add(response);
    response.on("close", () => {
      this.#clients.delete(response);
      if (this.#clients.size === 0) this.#unlisten();
    });
    void this.#options.build(true).then((payload) => this.#write(response, payload), () => response.end());
  }

  #listen(): void {
    const emitter = this.#runner as unknown as { on(name: string, handler: () => void): void };
    for (const name of CHANGES) emitter.on(name, this.#onChange);
    const max = this.#options.maxIntervalMs ?? 5000;
    this.#heartbeat = setInterval(() => {
      if (Date.now() - this.#lastSent >= max - 10) this.#send();
    }, max);
    this.#heartbeat.unref();
  }

  #unlisten(): void {
    const emitter = this.#runner as unknown as { off(name: string, handler: () => void): void };
    for (const name of CHANGES) emitter.off(name, this.#onChange);
    clearInterval(this.#heartbeat);
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #changed(): void {
    this.#dirty = true;
    if (this.#timer) return;
    const wait = Math.max(0, (this.#options.minIntervalMs ?? 300) - (Date.now() - this.#lastSent));
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.#dirty) this.#send();
    }, wait);
    this.#timer.unref();
  }

  #send(): void {
    this.#dirty = false;
    if (this.#clients.size === 0 || this.#building) return;
    this.#building = true;
    this.#lastSent = Date.now();
    this.#options.build(false).then(
      (payload) => {
        this.#building = false;
        for (const client of this.#clients) this.#write(client, payload);
        // Changes that came while it was built go out next.
        if (this.#dirty) this.#changed();
      },
      () => {
        this.#building = false;
      },
    );
  }

  #write(response: ServerResponse, payload: unknown): void {
    if (response.writableEnded) return;
    this.#lastSent = Date.now();
    response.write(`event: overview\ndata: ${JSON.stringify(payload)}\n\n`);
  }

  close(): void {
    this.#unlisten();
    for (const client of this.#clients) client.end();
    this.#clients.clear();
  }
}
