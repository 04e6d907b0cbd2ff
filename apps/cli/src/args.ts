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

