/**
 * Time for a runner that runs for months on laptops and servers, where the wall clock is
 * not to be trusted alone: NTP steps it back or forward, a suspended machine wakes with
 * it hours ahead, a user sets it. The monotonic clock (`performance.now()`) never goes back,
 * but on Linux it stands still while the machine sleeps, and it runs on while the process
 * is stopped (Ctrl-Z, `kill -STOP`).
 *
 * So a wait is a Deadline on both clocks and is over when either says so: a wall time a job
 * set (a daily report at 09:00) still comes at 09:00 after a night's sleep, and a wait of a
 * minute lasts about a minute when the clock is set back an hour. Durations are read from
 * the monotonic clock only: they are never negative. Under vitest's fake timers both clocks
 * are faked (its default), so tests move them together.
 */

/** The monotonic clock, in ms. */
export function monoNow(): number {
  return performance.now();
}

/** A moment on both clocks. */
export interface Deadline {
  /** Wall-clock time (ms since the epoch). */
  readonly wall: number;
  /** Monotonic time (`monoNow()`). */
  readonly mono: number;
}

/** The moment `ms` from now. */
export function deadlineIn(ms: number, wallNow = Date.now(), monoAt = monoNow()): Deadline {
  return { wall: wallNow + ms, mono: monoAt + ms };
}

/**
 * A wall-clock time a job gave (its nextCheck). The monotonic side comes `graceMs` later, so
 * that while the clocks agree the wall time is kept to the millisecond (the job sees its
 * time arrived), and after the clock is set back the wait lasts what it was meant to, not
 * that plus the jump.
 */
export function deadlineAtWall(wall: number, graceMs = 1_000, wallNow = Date.now(), monoAt = monoNow()): Deadline {
  return { wall, mono: monoAt + Math.max(0, wall - wallNow) + graceMs };
}

/** Whether the deadline has come on either clock. */
export function deadlineReached(deadline: Deadline, wallNow = Date.now(), monoAt = monoNow()): boolean {
  return wallNow >= deadline.wall || monoAt >= deadline.mono;
}

/** Milliseconds until the deadline comes on either clock (0 when it has). */
export function msUntil(deadline: Deadline, wallNow = Date.now(), monoAt = monoNow()): number {
  return Math.max(0, Math.min(deadline.wall - wallNow, deadline.mono - monoAt));
}

/** The deadline as a wall-clock time, for display: when it will come as far as this clock shows now. */
export function wallTimeOf(deadline: Deadline, wallNow = Date.now(), monoAt = monoNow()): number {
  return wallNow + msUntil(deadline, wallNow, monoAt);
}
