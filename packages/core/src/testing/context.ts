import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger, type Logger, type LogLevel } from "../logger.js";
import type { JobContext } from "../job.js";

/** One log line a test logger captured (pino's JSON record: level, msg and the fields). */
export interface LogRecord {
  level: number;
  msg?: string;
  [field: string]: unknown;
}

export interface CapturingLogger {
  logger: Logger;
  /** Every line written so far, parsed (secrets already redacted, as in production). */
  logs: LogRecord[];
}

/**
 * A logger that writes nothing to the terminal and keeps every line in `logs`, redacted
 * like the runner's own logger, so tests can assert what a job or task logs (and that
 * secrets never appear).
 */
export function capturingLogger(level: LogLevel = "trace"): CapturingLogger {
  const logs: LogRecord[] = [];
  // pino calls write() synchronously for each line, so lines are in `logs` at once.
  const destination = {
    write(chunk: string) {
      for (const line of chunk.split("\n")) if (line.trim()) logs.push(JSON.parse(line) as LogRecord);
    },
  };
  const logger = createLogger({ level, destination });
  return { logger, logs };
}

export interface TestContextOptions {
  /** The job's name (default "test-job"). */
  name?: string;
  /** The job's state folder (default: a new temporary folder, removed by `cleanup()`). */
  stateDir?: string;
  /** Folder relative config paths resolve from (default: the state folder). */
  configDir?: string;
  /** A logger of your own (default: a capturing logger, see `logs`). */
  logger?: Logger;
}

export interface TestContext extends JobContext {
  /** Lines logged through `logger` (empty when you passed a logger of your own). */
  readonly logs: LogRecord[];
  /** Removes the temporary state folder (only if this helper made it). */
  cleanup(): Promise<void>;
}

/**
 * A JobContext for a plugin's `create(config, ctx)` in tests: a temporary state folder
 * (created), a silent capturing logger, and a job name.
 *
 * ```ts
 * const ctx = createTestContext();
 * afterEach(() => ctx.cleanup());
 * const job = await plugin.jobs.greet.create(plugin.jobs.greet.config.parse({ names: ["Ada"] }), ctx);
 * ```
 */
export function createTestContext(options: TestContextOptions = {}): TestContext {
  const ownDir = options.stateDir === undefined;
  const stateDir = options.stateDir ?? mkdtempSync(join(tmpdir(), "ujr-test-"));
  if (!ownDir) mkdirSync(stateDir, { recursive: true });
  const captured = options.logger ? { logger: options.logger, logs: [] } : capturingLogger();
  return {
    name: options.name ?? "test-job",
    stateDir,
    configDir: options.configDir ?? stateDir,
    logger: captured.logger,
    logs: captured.logs,
    async cleanup() {
      if (ownDir) rmSync(stateDir, { recursive: true, force: true });
    },
  };
}
