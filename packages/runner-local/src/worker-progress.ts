import type { TaskProgress } from "@ujr/core";

/** What a pool worker sends to the runner while a task runs: `[PROGRESS_TAG, run id, progress]`. */
export const PROGRESS_TAG = "ujr:progress";
export type ProgressMessage = [typeof PROGRESS_TAG, string, TaskProgress];

export function isProgressMessage(message: unknown): message is ProgressMessage {
  return Array.isArray(message) && message.length === 3 && message[0] === PROGRESS_TAG && typeof message[1] === "string" && typeof message[2] === "object" && message[2] !== null;
}

export interface ProgressThrottle {
  /** Records a report: sent at once if none was sent in the last interval, else kept as the latest. */
  report(progress: TaskProgress): void;
  /** The task ended: a kept report is dropped (nobody shows progress of a finished task). */
  end(): void;
}

/**
 * At most one progress message per `intervalMs` for one task try, keeping the last: the
 * first report goes out at once, later ones within the interval replace each other and
 * the latest goes out when the interval ends. A task that reports in a tight loop costs
 * the runner a few messages a second, not one per call.
 */
export function throttleProgress(send: (progress: TaskProgress) => void, intervalMs = 100, now: () => number = Date.now): ProgressThrottle {
  let lastSent = -Infinity;
  let pending: TaskProgress | undefined;
  let timer: NodeJS.Timeout | undefined;
  let ended = false;
  const flush = () => {
    timer = undefined;
    if (ended || pending === undefined) return;
    const progress = pending;
    pending = undefined;
    lastSent = now();
    send(progress);
  };
  return {
    report(progress) {
      if (ended) return;
      pending = progress;
      if (timer) return;
      const wait = lastSent + intervalMs - now();
      if (wait <= 0) flush();
      else {
        timer = setTimeout(flush, wait);
        timer.unref?.();
      }
    },
    end() {
      ended = true;
      pending = undefined;
      if (timer) clearTimeout(timer);
      timer = undefined;
    },
  };
}
