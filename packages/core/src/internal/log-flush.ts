/**
 * Buffered log destinations flushed when SIGINT or SIGTERM would end the process.
 * pino flushes them on `exit`, but a signal with no handler kills the process without an
 * `exit` event, and whatever was buffered (tens of thousands of lines under a slow
 * reader) is gone. So: one listener per signal for the whole process; when it is the
 * only listener (nothing else, such as a runner stopping gracefully, handles the signal),
 * it flushes every live destination, steps aside and raises the signal again, so that the
 * process ends exactly as it would have (killed by that signal). When something else
 * handles the signal, the process ends its own way later and the exit flush applies.
 */
interface Flushable {
  flushSync(): void;
  /** SonicBoom's: an asynchronous write is in flight (or waiting to retry after EAGAIN). */
  _writing?: boolean;
  once?(event: "drain", listener: () => void): unknown;
}

const destinations = new Set<WeakRef<Flushable>>();
const SIGNALS = ["SIGINT", "SIGTERM"] as const;
let installed = false;
/** Longest wait for writes in flight (a reader that stopped reading) before ending anyway. */
const DRAIN_WAIT_MS = 5000;

function live(): Flushable[] {
  const found: Flushable[] = [];
  for (const ref of destinations) {
    const destination = ref.deref();
    if (destination) found.push(destination);
    else destinations.delete(ref);
  }
  return found;
}

function flushAll(): void {
  for (const destination of live()) {
    try {
      destination.flushSync();
    } catch {
      /* a closed or broken destination: nothing more can be written there */
    }
  }
}

function onSignal(signal: NodeJS.Signals): void {
  if (process.listenerCount(signal) > 1) return;
  for (const name of SIGNALS) process.off(name, onSignal);
  installed = false;
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    flushAll();
    process.kill(process.pid, signal);
  };
  // flushSync skips a chunk whose asynchronous write is in flight (or waits to retry after
  // EAGAIN when the reader is slow): wait for those to land first, in order, then flush
  // the rest. Meanwhile the same signal again ends the process at once (default action).
  const busy = live().filter((destination) => destination._writing === true && typeof destination.once === "function");
  if (busy.length === 0) return end();
  let waiting = busy.length;
  const timer = setTimeout(end, DRAIN_WAIT_MS);
  for (const destination of busy) {
    destination.once!("drain", () => {
      if (--waiting > 0) return;
      clearTimeout(timer);
      end();
    });
  }
}

export function flushOnSignals(destination: Flushable): void {
  destinations.add(new WeakRef(destination));
  if (installed) return;
  installed = true;
  for (const name of SIGNALS) process.on(name, onSignal);
}
