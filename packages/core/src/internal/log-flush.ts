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
}

const destinations = new Set<WeakRef<Flushable>>();
const SIGNALS = ["SIGINT", "SIGTERM"] as const;
let installed = false;

function flushAll(): void {
  for (const ref of destinations) {
    const destination = ref.deref();
    if (!destination) {
      destinations.delete(ref);
      continue;
    }
    try {
      destination.flushSync();
    } catch {
      /* a closed or broken destination: nothing more can be written there */
    }
  }
}

function onSignal(signal: NodeJS.Signals): void {
  if (process.listenerCount(signal) > 1) return;
  flushAll();
  for (const name of SIGNALS) process.off(name, onSignal);
  installed = false;
  process.kill(process.pid, signal);
}

export function flushOnSignals(destination: Flushable): void {
  destinations.add(new WeakRef(destination));
  if (installed) return;
  installed = true;
  for (const name of SIGNALS) process.on(name, onSignal);
}
