import type { Logger, Runner } from "@ujr/core";

export interface SignalHandling {
  /** The first signal received, if any. */
  readonly received: NodeJS.Signals | undefined;
  dispose(): void;
}

/**
 * First SIGINT/SIGTERM: stop asking jobs and let running tasks finish within the grace
 * period. Second: stop them at once.
 */
export function handleStopSignals(runner: Runner, options: { graceMs: number; logger: Logger }): SignalHandling {
  let received: NodeJS.Signals | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    if (received === undefined) {
      received = signal;
      options.logger.warn(
        { signal, graceMs: options.graceMs },
        `received ${signal}: no new tasks; running tasks have ${Math.round(options.graceMs / 1000)} s to finish (send it again to stop them now)`,
      );
      runner.stop({ graceMs: options.graceMs, reason: signal });
    } else {
      options.logger.warn({ signal }, `received ${signal} again: stopping running tasks now`);
      runner.stop();
    }
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  return {
    get received() {
      return received;
    },
    dispose() {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    },
  };
}
