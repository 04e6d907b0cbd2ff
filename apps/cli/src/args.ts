import { parseArgs, type ParseArgsConfig } from "node:util";

export const DEFAULT_CONFIG = "ujr.config.yaml";

export class UsageError extends Error {
  readonly code = "UJR_CLI_USAGE";
  readonly exitCode = 2;
}

export interface ParsedArgs {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
}

export function parse(argv: string[], options: NonNullable<ParseArgsConfig["options"]>): ParsedArgs {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true }) as ParsedArgs;
  } catch (error) {
    throw new UsageError(`${(error as Error).message}. Run \`ujr help\` for the commands and their options.`);
  }
}

export function checkLogLevel(value: string | undefined): void {
  if (value === undefined) return;
  if (!["fatal", "error", "warn", "info", "debug", "trace", "silent"].includes(value)) {
    throw new UsageError(`--log-level must be one of fatal, error, warn, info, debug, trace, silent (got "${value}")`);
  }
}


/**
 * A whole-number flag within [min, max]: "abc", "1.5", "", "-1" or "1e3" are refused
 * with a message naming the flag (never a NaN pool size or port). undefined when absent.
 */
export function intFlag(name: string, value: string | undefined, range: { min: number; max?: number; what?: string }): number | undefined {
  if (value === undefined) return undefined;
  const number = Number(value);
  const max = range.max ?? Number.MAX_SAFE_INTEGER;
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(number) || number < range.min || number > max) {
    const what = range.what ?? (range.max === undefined ? `a whole number of at least ${range.min}` : `a whole number from ${range.min} to ${range.max}`);
    throw new UsageError(`--${name} must be ${what} (got "${value}")`);
  }
  return number;
}

/** Refuses positional arguments beyond the `max` a command takes (they would be ignored silently). */
export function checkPositionals(positionals: string[], max: number, usage: string): void {
  if (positionals.length <= max) return;
  const extra = positionals.slice(max).map((value) => `"${value}"`).join(", ");
  throw new UsageError(`Unexpected argument(s) ${extra}. Usage: ${usage}`);
}
