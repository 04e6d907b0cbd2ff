import { monoNow } from "./clock.js";

/**
 * Time the process was awake to count: the monotonic clock less the stalls seen while a
 * watch is on. On Linux the monotonic clock runs on while the process is stopped (Ctrl-Z
 * then `fg`, `kill -STOP`, a frozen VM or container), so a task timeout on it alone fires
 * the moment the process runs again, for a task that was stopped along with it. A ticker
 * that should come every second and comes much later, with the process using no CPU in
 * between, saw it stopped for the difference; task timeouts leave that out. (An event loop
 * held by busy code uses CPU for the gap: not a stall, so such a task still times out.)
 */
const TICK_MS = 1_000;
/** A tick this much later than due is a stall, not timer jitter or a busy loop's slack. */
const STALL_MS = TICK_MS;

let watchers = 0;
let ticker: NodeJS.Timeout | undefined;
let lastTick = 0;
let lastCpuMs = 0;
let stalled = 0;

function cpuMs(): number {
  const used = process.cpuUsage();
  return (used.user + used.system) / 1000;
}

/** How much of the time since the last tick the process was stopped: lateness it spent no CPU on. */
function gapStall(now: number, cpu: number): number {
  const late = now - lastTick - TICK_MS;
  if (late <= STALL_MS) return 0;
  return Math.max(0, late - (cpu - lastCpuMs));
}

function tick(): void {
  const now = monoNow();
  const cpu = cpuMs();
  stalled += gapStall(now, cpu);
  lastTick = now;
  lastCpuMs = cpu;
}

/** The stalls seen so far, the one going on now included. */
function stalledNow(): number {
  return ticker === undefined ? stalled : stalled + gapStall(monoNow(), cpuMs());
}

/** Starts watching for stalls (one ticker for all watchers, which keeps no process alive); call the result to stop. */
export function watchStalls(): () => void {
  if (watchers++ === 0) {
    lastTick = monoNow();
    lastCpuMs = cpuMs();
    ticker = setInterval(tick, TICK_MS);
    ticker.unref?.();
  }
  let released = false;
  return () => {
    if (released) return;
    released = true;
    if (--watchers === 0 && ticker !== undefined) {
      tick();
      clearInterval(ticker);
      ticker = undefined;
    }
  };
}

/** A point to measure awake time from. */
export interface AwakeMark {
  readonly mono: number;
  readonly stalled: number;
}

export function awakeMark(): AwakeMark {
  return { mono: monoNow(), stalled: stalledNow() };
}

/** Milliseconds awake since the mark: monotonic time less the stalls seen in between (under a watch). */
export function awakeMsSince(mark: AwakeMark): number {
  return monoNow() - mark.mono - (stalledNow() - mark.stalled);
}

/** A timeout that counts awake time (see above), for a request or a query a task waits on. */
export interface AwakeTimeout {
  /** Aborted with `reason()` once `ms` of awake time have passed. */
  readonly signal: AbortSignal;
  /** Stops it (call it when the work ends). */
  clear(): void;
}

/**
 * Aborts its signal after `ms` of awake time: a process stopped for a while (Ctrl-Z, a frozen
 * VM) does not report every request it was waiting on as timed out the moment it runs again.
 * When the time comes, what arrived meanwhile is read first (setImmediate: after pending I/O),
 * so an answer that came during the stop wins. Like `AbortSignal.timeout`, it keeps no process
 * alive, unless `keepAlive` (the runner's task timeouts: a task that hangs on nothing still
 * times out).
 */
export function awakeTimeout(ms: number, reason: () => unknown, options: { keepAlive?: boolean } = {}): AwakeTimeout {
  const controller = new AbortController();
  const endWatch = watchStalls();
  const mark = awakeMark();
  let timer: NodeJS.Timeout | undefined;
  let cleared = false;
  const clear = (): void => {
    cleared = true;
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    endWatch();
  };
  const check = (): void => {
    if (cleared) return;
    const left = ms - awakeMsSince(mark);
    if (left >= 1) return arm(left);
    clear();
    controller.abort(reason());
  };
  const arm = (wait: number): void => {
    timer = setTimeout(() => setImmediate(check), Math.ceil(wait));
    if (options.keepAlive !== true) timer.unref?.();
  };
  arm(ms);
  return { signal: controller.signal, clear };
}
