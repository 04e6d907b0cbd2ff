/**
 * Scheduling of summary runs, as pure functions of (schedule, persisted state, now).
 *
 * - `interval`: the first run is due at start; afterwards `lastRunAt + everyMs`.
 * - `cron`: runs at the slots of one or more cron expressions (croner), in a time zone;
 *   the first run waits for the next slot unless `runOnStart` is set.
 * - `once`: one run, due at start; afterwards the job is done.
 *
 * Missed runs: the next slot is computed from the time the last run *started*, never
 * from "now", so a slot that passed while the runner was down is due at once on start.
 * Because the new run records its own start time, the next slot after it is in the
 * future: however many slots were missed, they are caught up by exactly one run.
 *
 * A clock that went back (a laptop's clock set back by NTP or by hand, after a run):
 * the last run's start is then in the future, and "the slot after the last run" would
 * make the job wait as long as the clock went back, across restarts too. Instead:
 * - `interval`: the next run is at most one interval away (`now + everyMs`);
 * - `cron`: a single slot the clock went back over is not repeated (a daily 08:00 report
 *   is not made twice because the clock went back from 08:30 to 07:30); when it went
 *   back over more than one slot, the schedule goes on from the slots after the new time
 *   (a schedule every minute does not stall for the hour the clock went back).
 */
import { Cron } from "croner";

export type Schedule =
  | { kind: "interval"; everyMs: number }
  | { kind: "cron"; expressions: string[]; timezone?: string | undefined; runOnStart?: boolean | undefined }
  | { kind: "once" };

/** What the schedule needs to remember between runs (persisted in the job's stateDir). */
export interface ScheduleState {
  /** Epoch ms at which the last run (that produced stored results or failed for good) started. */
  lastRunAt?: number | undefined;
  /** Number of runs that finished (successfully or not). */
  runs?: number | undefined;
  /**
   * Epoch ms at which the job first started waiting for its first cron slot (set by
   * `startWaiting`, persisted): without it "the next slot after now" would move forever.
   */
  waitingSince?: number | undefined;
}

/** The state of a schedule that starts waiting at `now` (keeps an existing anchor). */
export function startWaiting(state: ScheduleState, now: number): ScheduleState {
  return state.lastRunAt === undefined && state.waitingSince === undefined ? { ...state, waitingSince: now } : state;
}

/** A clock; inject a fake one in tests (or use vi.useFakeTimers with the default). */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** The next cron slot strictly after `after` (epoch ms), over all expressions; null if none. */
export function nextCronSlot(expressions: readonly string[], timezone: string | undefined, after: number): number | null {
  let best: number | null = null;
  for (const expr of expressions) {
    const cron = new Cron(expr, { paused: true, ...(timezone ? { timezone } : {}) });
    const next = cron.nextRun(new Date(after));
    cron.stop();
    if (next) {
      const t = next.getTime();
      if (best === null || t < best) best = t;
    }
  }
  return best;
}

/** Throws a readable message when a cron expression or time zone is invalid. */
export function validateCron(expression: string, timezone?: string): string | undefined {
  try {
    const cron = new Cron(expression, { paused: true, ...(timezone ? { timezone } : {}) });
    const next = cron.nextRun();
    cron.stop();
    if (!next) return `cron expression "${expression}" never fires`;
    return undefined;
  } catch (err) {
    return `invalid cron expression "${expression}"${timezone ? ` or time zone "${timezone}"` : ""}: ${(err as Error).message}`;
  }
}

/**
 * When the next run is due (epoch ms; may be <= now, meaning "run now"), or null when the
 * schedule has no further runs (a `once` job that already ran).
 */
export function nextRunAt(schedule: Schedule, state: ScheduleState, now: number): number | null {
  switch (schedule.kind) {
    case "once":
      return (state.runs ?? 0) > 0 || state.lastRunAt !== undefined ? null : now;
    case "interval":
      return state.lastRunAt === undefined ? now : state.lastRunAt + schedule.everyMs;
    case "cron": {
      if (state.lastRunAt === undefined) {
        if (schedule.runOnStart) return now;
        return nextCronSlot(schedule.expressions, schedule.timezone, state.waitingSince ?? now);
      }
      return nextCronSlot(schedule.expressions, schedule.timezone, state.lastRunAt);
    }
  }
}

/**
 * The state to schedule from when the clock is now before the last run's start (or before
 * the time the job began waiting for its first slot): the clock went back. Undefined when
 * it did not. See the top of this file for the rules; `wentBackMs` is how far back at least.
 */
export function afterClockWentBack(schedule: Schedule, state: ScheduleState, now: number): { state: ScheduleState; wentBackMs: number } | undefined {
  if (state.lastRunAt === undefined) {
    if (state.waitingSince === undefined || state.waitingSince <= now) return undefined;
    return { state: { ...state, waitingSince: now }, wentBackMs: state.waitingSince - now };
  }
  if (state.lastRunAt <= now) return undefined;
  const wentBackMs = state.lastRunAt - now;
  if (schedule.kind === "interval") return { state: { ...state, lastRunAt: now }, wentBackMs };
  if (schedule.kind !== "cron") return undefined;
  const afterLast = nextCronSlot(schedule.expressions, schedule.timezone, state.lastRunAt);
  const afterNow = nextCronSlot(schedule.expressions, schedule.timezone, now);
  const second = afterNow === null ? null : nextCronSlot(schedule.expressions, schedule.timezone, afterNow);
  // more than one slot between now and the slot after the last run: go on from now
  const fromNow = afterLast !== null && second !== null && second < afterLast;
  // else the slot after the last run stays the next one (the slot gone back over is not repeated)
  return { state: fromNow ? { ...state, lastRunAt: now } : state, wentBackMs };
}

/** True when a run is due at `now`. */
export function isDue(schedule: Schedule, state: ScheduleState, now: number): boolean {
  const next = nextRunAt(schedule, state, now);
  return next !== null && next <= now;
}

/** The state after a run that started at `startedAt` finished. */
export function recordRun(state: ScheduleState, startedAt: number): ScheduleState {
  return { ...state, lastRunAt: startedAt, runs: (state.runs ?? 0) + 1 };
}

/** Counts the slots that passed between the last run and now (for logging a catch-up). */
export function missedSlotCount(schedule: Schedule, state: ScheduleState, now: number, limit = 1000): number {
  if (state.lastRunAt === undefined) return 0;
  if (schedule.kind === "interval") {
    return Math.max(0, Math.min(limit, Math.floor((now - state.lastRunAt) / schedule.everyMs)));
  }
  if (schedule.kind !== "cron") return 0;
  let count = 0;
  let t = state.lastRunAt;
  while (count < limit) {
    const next = nextCronSlot(schedule.expressions, schedule.timezone, t);
    if (next === null || next > now) break;
    count++;
    t = next;
  }
  return count;
}
