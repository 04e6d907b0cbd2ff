import type { RunnerSnapshot } from "@ujr/core";
import { renderStatus } from "./status-view.js";

/** The part of a terminal stream the live view uses. */
export interface ViewStream {
  isTTY?: boolean | undefined;
  columns?: number | undefined;
  rows?: number | undefined;
  write(chunk: string | Uint8Array, ...rest: unknown[]): boolean;
}

export interface LiveViewOptions {
  /** The terminal. Its `write` (and that of `alsoCapture`) is wrapped while the view is shown. */
  stream: ViewStream;
  /** Other streams that reach the same terminal (stderr): their lines also go above the view. */
  alsoCapture?: ViewStream[] | undefined;
  snapshot: () => RunnerSnapshot;
  /** Most redraws per second (default 4). */
  fps?: number | undefined;
  now?: () => number;
}

export interface LiveView {
  /** Redraws now if the text changed. */
  refresh(): void;
  /**
   * Draws a last frame (the `summary` when given: the run's outcome per job), leaves it on
   * screen and gives the streams their own write back.
   */
  stop(summary?: string): void;
}

/** True when `ujr run` should show the live view: a TTY, no `--no-tty`, not under CI. */
export function wantsLiveView(stream: ViewStream, options: { noTty?: boolean | undefined; env?: NodeJS.ProcessEnv }): boolean {
  const env = options.env ?? process.env;
  const ci = env.CI !== undefined && env.CI !== "" && env.CI !== "0" && env.CI.toLowerCase() !== "false";
  return stream.isTTY === true && !options.noTty && !ci && env.TERM !== "dumb";
}

const CLEAR_BELOW = "\x1b[0J";

/**
 * A status view at the bottom of a terminal, redrawn at most `fps` times a second. Every
 * line written to the stream (logs, workers' output) is printed above it: the view is
 * erased, the complete lines are written, the view is drawn again. Partial lines wait for
 * their end, so the view never splits one.
 */
export function startLiveView(options: LiveViewOptions): LiveView {
  const { stream } = options;
  const now = options.now ?? Date.now;
  const streams = [stream, ...(options.alsoCapture ?? [])];
  const originals = new Map(streams.map((target) => [target, target.write]));
  const rawWrite = (text: string) => originals.get(stream)!.call(stream, text);
  let frame = "";
  let frameLines = 0;
  let stopped = false;
  const pending = new Map<ViewStream, string>();

  const erase = () => (frameLines > 0 ? `\r\x1b[${frameLines}A${CLEAR_BELOW}` : "");
  const draw = (text: string) => {
    frame = text;
    frameLines = text === "" ? 0 : text.split("\n").length;
    return text === "" ? "" : `${text}\n`;
  };
  const render = () => {
    const width = (stream.columns ?? 80) - 1;
    let text = renderStatus(options.snapshot(), width, { now: now() });
    const maxLines = Math.max(3, (stream.rows ?? 24) - 4);
    const lines = text.split("\n");
    if (lines.length > maxLines) text = [...lines.slice(0, maxLines - 1), `… ${lines.length - maxLines + 1} more lines`].join("\n");
    return text;
  };

  for (const target of streams) {
    target.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      const callback = rest.find((arg) => typeof arg === "function") as ((error?: Error | null) => void) | undefined;
      const text = (pending.get(target) ?? "") + (typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8"));
      const end = text.lastIndexOf("\n");
      if (end < 0) pending.set(target, text);
      else {
        pending.set(target, text.slice(end + 1));
        const complete = text.slice(0, end + 1);
        const redraw = frame;
        if (target === stream) rawWrite(erase() + complete + draw(redraw));
        else {
          rawWrite(erase());
          originals.get(target)!.call(target, complete);
          rawWrite(draw(redraw));
        }
      }
      if (callback) process.nextTick(callback);
      return true;
    }) as ViewStream["write"];
  }

  const refresh = () => {
    if (stopped) return;
    const text = render();
    if (text === frame) return;
    rawWrite(erase() + draw(text));
  };
  const timer = setInterval(refresh, Math.round(1000 / (options.fps ?? 4)));
  timer.unref();
  refresh();

  return {
    refresh,
    stop(summary?: string) {
      if (stopped) return;
      refresh();
      // The run's outcome, per job, replaces the status as the frame that stays.
      if (summary !== undefined) rawWrite(erase() + draw(`${render()}\n${summary}`));
      stopped = true;
      clearInterval(timer);
      for (const [target, write] of originals) target.write = write;
      // Lines still waiting for their end go above the last frame.
      const rest = [...pending.entries()].filter(([, text]) => text !== "");
      if (rest.length > 0) {
        const last = frame;
        rawWrite(erase());
        for (const [target, text] of rest) originals.get(target)!.call(target, `${text}\n`);
        rawWrite(draw(last));
      }
    },
  };
}
