import type { EventEmitter } from "node:events";
import type { Logger, Runner } from "@ujr/core";

export interface SignalHandling {
  /** The first signal received, if any. */
  readonly received: NodeJS.Signals | undefined;
  dispose(): void;
}

export interface StopSignalOptions {
  graceMs: number;
  logger: Logger;
  /**
   * A repeat of the first signal within this time (ms, default 250) is the same stop
   * request delivered twice, not a second one: a wrapper (pnpm, npx, `timeout`, a
   * service manager) forwards the signal its process group already got, within
   * milliseconds; a person pressing Ctrl-C again takes longer.
   */
  repeatWindowMs?: number | undefined;
  /** Where signals arrive (default `process`; tests emit on their own emitter). */
  target?: Pick<EventEmitter, "on" | "off"> | undefined;
  now?: (() => number) | undefined;
}

/**
 * First SIGINT/SIGTERM: stop asking jobs and let running tasks finish within the grace
 * period. Second (after the repeat window): stop them at once.
 */
export function handleStopSignals(runner: Runner, options: StopSignalOptions): SignalHandling {
  const target = options.target ?? process;
  const now = options.now ?? Date.now;
  const repeatWindowMs = options.repeatWindowMs ?? 250;
  let received: NodeJS.Signals | undefined;
  let receivedAt = 0;
  let repeatsIgnored = 0;
  let forced = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (received === undefined) {
      received = signal;
      receivedAt = now();
      options.logger.warn(
        { signal, graceMs: options.graceMs },
        `received ${signal}: no new tasks; running tasks have ${Math.round(options.graceMs / 1000)} s to finish (send it again to stop them now)`,
      );
      runner.stop({ graceMs: options.graceMs, reason: signal });
      return;
    }
    if (signal === received && now() - receivedAt < repeatWindowMs) {
      if (repeatsIgnored++ === 0) {
        options.logger.debug({ signal, withinMs: now() - receivedAt }, `${signal} delivered again at once (e.g. forwarded by a wrapper): the same stop request`);
      }
      return;
    }
    if (forced) return;
    forced = true;
    options.logger.warn({ signal }, `received ${signal} again: stopping running tasks now`);
    runner.stop();
  };
  target.on("SIGINT", onSignal);
  target.on("SIGTERM", onSignal);
  return {
    get received() {
      return received;
    },
    dispose() {
      target.off("SIGINT", onSignal);
      target.off("SIGTERM", onSignal);
    },
  };
}
