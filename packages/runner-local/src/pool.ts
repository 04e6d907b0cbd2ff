/**
 * `@ujr/runner-local/pool`: the local pool alone, without zod, the config schemas and the
 * runner, so that `ujr run` can start its first worker process from the config file as
 * written, while those load and the file is checked (see apps/cli/README.md, "Start-up cost").
 */
import { readFileSync, statSync } from "node:fs";
import { parseDocument } from "yaml";
import { LOG_LEVELS, type LogLevel } from "@ujr/core/task";
import { TinypoolExecutor, type Isolation } from "./tinypool-executor.js";

export { TinypoolExecutor, type TinypoolExecutorOptions, type Isolation } from "./tinypool-executor.js";

/** What a local pool's workers are started with: a pool started with other settings cannot stand in for it. */
export interface PoolSettings {
  /** Undefined: one per CPU. */
  workers: number | undefined;
  isolation: Isolation;
  logLevel: LogLevel;
  prettyLogs: boolean;
}

/** What the command line sets over the config's runner section. */
export interface PoolOverrides {
  workers?: number | undefined;
  logLevel?: LogLevel | undefined;
  prettyLogs?: boolean | undefined;
}

/** The runner section's fields that make the pool (checked, or read as written by writtenPoolSettings). */
export interface PoolFields {
  workers?: number | undefined;
  isolation?: Isolation | undefined;
  logLevel?: LogLevel | undefined;
}

/** The pool a runner section stands for, with the command line's overrides (the same defaults as ConfigFileRunner.startPool). */
export function poolSettings(runner: PoolFields, overrides: PoolOverrides = {}): PoolSettings {
  return {
    workers: overrides.workers ?? runner.workers,
    isolation: runner.isolation ?? "process",
    logLevel: overrides.logLevel ?? runner.logLevel ?? "info",
    prettyLogs: overrides.prettyLogs ?? false,
  };
}

export function samePoolSettings(a: PoolSettings, b: PoolSettings): boolean {
  return a.workers === b.workers && a.isolation === b.isolation && a.logLevel === b.logLevel && a.prettyLogs === b.prettyLogs;
}

const plainObject = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);

/**
 * The local pool of a config as written (its parsed YAML, before `${VAR}` and before it is
 * checked), when the runner section says it plainly: no runner section, or one whose
 * `workers`, `isolation`, `logLevel` and `executor` are absent or plain valid values, the
 * executor local. Undefined otherwise: a distributed executor (no local pool), a value
 * that names a variable or is wrong (the check will say so). Only a guess: what counts is
 * the checked config (see EarlyPool.adopt).
 */
export function writtenPoolSettings(config: unknown, overrides: PoolOverrides = {}): PoolSettings | undefined {
  if (!plainObject(config)) return undefined;
  const runner = config.runner ?? {};
  if (!plainObject(runner)) return undefined;
  const { workers, isolation, logLevel, executor } = runner;
  if (workers !== undefined && !(typeof workers === "number" && Number.isInteger(workers) && workers > 0)) return undefined;
  if (isolation !== undefined && isolation !== "process" && isolation !== "thread") return undefined;
  if (logLevel !== undefined && !LOG_LEVELS.includes(logLevel as LogLevel)) return undefined;
  if (executor !== undefined && !(plainObject(executor) && executor.kind === "local")) return undefined;
  return poolSettings({ workers: workers as number | undefined, isolation: isolation as Isolation | undefined, logLevel: logLevel as LogLevel | undefined }, overrides);
}

/**
 * A local pool started from a config file as written, before the file is checked and its
 * plugins load: its first worker process starts (Node's start-up, the worker's modules)
 * while this process loads zod, the config schemas and the plugins, instead of after.
 * The run takes it (adopt) when the checked config asks for the same pool; otherwise it is
 * closed and the run starts its own, so a wrong guess costs a process start, never a
 * wrong setting.
 */
export class EarlyPool {
  #pool: TinypoolExecutor | undefined;

  private constructor(
    readonly settings: PoolSettings,
    pool: TinypoolExecutor,
  ) {
    this.#pool = pool;
  }

  /** Starts the pool of `config` as written (see writtenPoolSettings), or nothing when it cannot be read plainly. */
  static start(config: unknown, overrides: PoolOverrides = {}): EarlyPool | undefined {
    const settings = writtenPoolSettings(config, overrides);
    if (!settings) return undefined;
    const pool = TinypoolExecutor.fromSettings(settings);
    pool.prestart();
    return new EarlyPool(settings, pool);
  }

  /**
   * Starts the pool of the config file at `path` as written (read and parsed as YAML here,
   * nothing checked), or nothing when it is not a regular file (a pipe is read once, by the
   * loader), cannot be read or parsed, or its runner section is not plain: loading the file
   * reports what is wrong.
   */
  static fromFile(path: string, overrides: PoolOverrides = {}): EarlyPool | undefined {
    let config: unknown;
    try {
      // a pipe (`ujr run <(...)`, /dev/stdin) can be read once only: that read is the loader's
      if (!statSync(path).isFile()) return undefined;
      const doc = parseDocument(readFileSync(path, "utf8"), { prettyErrors: false, uniqueKeys: true });
      if (doc.errors.length > 0) return undefined;
      config = doc.toJS();
    } catch {
      return undefined;
    }
    return EarlyPool.start(config, overrides);
  }

  /**
   * The pool, when `checked` (the settings of the checked config) are the ones it was
   * started with; the caller then owns it. Otherwise it is closed, and undefined. Once only.
   */
  adopt(checked: PoolSettings): TinypoolExecutor | undefined {
    const pool = this.#pool;
    this.#pool = undefined;
    if (pool && samePoolSettings(this.settings, checked)) return pool;
    void pool?.close();
    return undefined;
  }

  /** Closes the pool unless a run adopted it (a config that failed its check, a distributed executor). */
  async close(): Promise<void> {
    const pool = this.#pool;
    this.#pool = undefined;
    await pool?.close();
  }
}
