import { isMainThread } from "node:worker_threads";
import { createRequire } from "node:module";
import type { DestinationStream, Logger as PinoLogger, LoggerOptions, pino as Pino } from "pino";
import { PrettyTransform } from "./internal/pretty.js";
import { flushOnSignals } from "./internal/log-flush.js";

let loadedPino: typeof Pino | undefined;

/**
 * pino, loaded by the first logger made rather than with this package: `ujr run` starts
 * its worker pool before it makes a logger, so pino's 0.05 s of loading overlaps the
 * workers' start-up. A CommonJS package, so a synchronous require can load it late.
 */
function pino(): typeof Pino {
  loadedPino ??= (createRequire(import.meta.url)("pino") as { pino: typeof Pino }).pino;
  return loadedPino;
}

export type Logger = PinoLogger;
/** pino's levels, most severe first, and `silent`. */
export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Keys whose values are secrets wherever they appear (compared case-insensitively). */
const secretKeyPattern = /^(authorization|bearer_?token|token|access_?token|refresh_?token|api_?key|password|passwd|secret|client_?secret|webhook_?url|cookie|set-cookie|dsn)$/i;
const REDACTED = "[redacted]";

const registeredSecrets = new Set<string>();

/**
 * Marks a value as secret: from now on it is replaced wherever it appears in log lines
 * (messages, fields, error messages and stacks) of every logger made by `createLogger`.
 */
export function registerSecret(value: string | undefined | null): void {
  if (typeof value === "string" && value.length >= 4) registeredSecrets.add(value);
}

export function isSecretKey(key: string): boolean {
  return secretKeyPattern.test(key);
}

/** Registers the values found under secret-looking keys of plain data (e.g. task arguments). */
export function registerSecretsIn(value: unknown, depth = 0): void {
  if (depth > 6 || typeof value !== "object" || value === null) return;
  for (const [key, inner] of Object.entries(value)) {
    if (typeof inner === "string" && isSecretKey(key)) registerSecret(inner);
    else registerSecretsIn(inner, depth + 1);
  }
}

/** Replaces every registered secret in a string. */
export function scrubString(text: string): string {
  if (registeredSecrets.size === 0) return text;
  let result = text;
  for (const secret of registeredSecrets) {
    if (result.includes(secret)) result = result.split(secret).join(REDACTED);
  }
  return result;
}

/** A copy of `value` with secret keys and registered secret values redacted. */
export function scrub(value: unknown, depth = 0): unknown {
  if (typeof value === "string") return scrubString(value);
  if (typeof value !== "object" || value === null || depth > 8) return value;
  if (value instanceof Error) {
    const copy: Record<string, unknown> = { type: value.name, message: scrubString(value.message) };
    if (value.stack) copy.stack = scrubString(value.stack);
    for (const [key, inner] of Object.entries(value)) copy[key] = isSecretKey(key) ? REDACTED : scrub(inner, depth + 1);
    return copy;
  }
  if (Array.isArray(value)) return value.map((item) => scrub(item, depth + 1));
  const copy: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) copy[key] = isSecretKey(key) && inner != null ? REDACTED : scrub(inner, depth + 1);
  return copy;
}

export interface CreateLoggerOptions {
  level?: LogLevel | undefined;
  /** Human-readable coloured lines instead of JSON (for a TTY). */
  pretty?: boolean | undefined;
  /** Colours in pretty mode; default: on unless NO_COLOR is set. */
  colors?: boolean | undefined;
  name?: string | undefined;
  /** Where lines go; default stdout. */
  destination?: DestinationStream | NodeJS.WritableStream | undefined;
  /**
   * Default stdout only: write each line before the log call returns. Default: in task
   * worker processes (their lines must be out before the task's result is), else
   * buffered and flushed on every way the process ends.
   */
  sync?: boolean | undefined;
  base?: Record<string, unknown> | undefined;
}

const isTaskWorkerProcess = () => (globalThis as Record<symbol, unknown>)[Symbol.for("ujr.task-worker")] === true;

/**
 * Formats pino's lines as they are written, in the same call: no stream in between
 * whose buffer an exit would drop, and the destination's own flush still applies.
 */
function prettyDestination(destination: DestinationStream | NodeJS.WritableStream, colors: boolean): DestinationStream & { flushSync?: () => void } {
  const formatter = new PrettyTransform({ colors });
  const target = destination as { write(text: string): unknown; flushSync?: () => void };
  return {
    write(chunk: string) {
      let text = "";
      for (const line of chunk.split("\n")) if (line) text += `${formatter.format(line)}\n`;
      target.write(text);
    },
    ...(typeof target.flushSync === "function" ? { flushSync: () => target.flushSync!() } : {}),
  };
}

/**
 * The logger factory every ujr package uses: pino JSON by default, readable lines for a
 * TTY, and secrets redacted by key name and by registered value.
 *
 * Lines written are not lost when the process ends: the default stdout destination is
 * flushed synchronously on exit (normal end, `process.exit`, uncaught errors) and on a
 * SIGINT/SIGTERM that nothing else handles (the line goes out, then the signal takes
 * its default course); in task workers it writes synchronously.
 */
export function createLogger(options: CreateLoggerOptions = {}): Logger {
  const pinoOptions: LoggerOptions = {
    level: options.level ?? "info",
    base: options.base ?? (options.name ? { name: options.name } : {}),
    timestamp: pino().stdTimeFunctions.isoTime,
    hooks: {
      logMethod(args, method) {
        // Runs only for enabled levels, so the scrubbing cost is paid only for lines written.
        const clean = args.map((arg) => scrub(arg)) as Parameters<typeof method>;
        return method.apply(this, clean);
      },
    },
    serializers: { err: (error: unknown) => scrub(error), error: (error: unknown) => scrub(error) },
  };
  let destination: DestinationStream | NodeJS.WritableStream;
  if (options.destination) destination = options.destination;
  else {
    const sync = options.sync ?? (isTaskWorkerProcess() && isMainThread);
    const stdout = pino().destination({ dest: 1, sync });
    // pino flushes its buffered destinations on exit; a signal that kills the process skips exit.
    if (!sync && isMainThread && !isTaskWorkerProcess()) flushOnSignals(stdout);
    destination = stdout;
  }
  if (options.pretty) destination = prettyDestination(destination, options.colors ?? !process.env.NO_COLOR);
  return pino()(pinoOptions, destination as DestinationStream);
}

/** A logger that writes nothing (for tests and library use). */
export function silentLogger(): Logger {
  return pino()({ level: "silent" });
}
