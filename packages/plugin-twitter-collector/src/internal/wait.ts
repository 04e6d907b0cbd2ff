import { deadlineAtWall, deadlineReached, wallTimeOf, type Deadline } from "@ujr/core/task";

/**
 * A pause of the job (poll interval, rate limit, backoff): a Deadline of @ujr/core's, over
 * when either clock says so: the wall clock, which runs on while a laptop sleeps (a window
 * whose reset passed during the sleep is over), or the monotonic clock, which does not go
 * back when the wall clock is set back (NTP, by hand): a 20 s poll interval stays 20 s (and
 * a second), not an hour and 20 s. The clocks are passed in, so that tests can move either.
 */
export interface Clocks {
  /** Wall clock, epoch ms. */
  wall(): number;
  /** Monotonic clock, ms. */
  mono(): number;
}

export const systemClocks: Clocks = { wall: () => Date.now(), mono: () => performance.now() };

export type Wait = Deadline;

export const NO_WAIT: Wait = { wall: 0, mono: -Infinity };

/**
 * How much later the monotonic clock ends a pause than the wall clock would: while the
 * clocks agree the wall clock decides, to the millisecond (a rate limit's reset); the
 * monotonic one only when the wall clock went back by more than this.
 */
export const MONO_GRACE_MS = 1000;

/** A pause until a wall-clock time (e.g. a rate limit's reset as this machine reads it). */
export function waitUntil(wallAt: number, clocks: Clocks): Wait {
  return deadlineAtWall(wallAt, MONO_GRACE_MS, clocks.wall(), clocks.mono());
}

/** A pause of `ms` from now. */
export function waitFor(ms: number, clocks: Clocks): Wait {
  return waitUntil(clocks.wall() + ms, clocks);
}

export function waitOver(wait: Wait, clocks: Clocks): boolean {
  return deadlineReached(wait, clocks.wall(), clocks.mono());
}

/** When the pause ends, as an epoch ms on the wall clock as it reads now (for nextCheck). */
export function waitEndsAt(wait: Wait, clocks: Clocks): number {
  return Math.ceil(wallTimeOf(wait, clocks.wall(), clocks.mono()));
}
