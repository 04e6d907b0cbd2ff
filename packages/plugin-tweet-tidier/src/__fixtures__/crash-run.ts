// The kill -9 machinery of the crash suites (crash-batch.test.ts, crash-archives.test.ts):
// a `ujr run` of a config file in a child process group (run-config-child.mjs), killed with
// SIGKILL at a seeded point of its progress: the n-th log line of a kind, or the n-th write
// to a SQLite database's WAL that this process is told of.
import { spawn } from "node:child_process";
import { existsSync, watch, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const pkgDir = fileURLToPath(new URL("../..", import.meta.url));
const child = fileURLToPath(new URL("./run-config-child.mjs", import.meta.url));

/** True when the tidier is built: the child processes run the built plugin (dist/). */
export const tidierBuilt = (): boolean => existsSync(fileURLToPath(new URL("../../dist/index.js", import.meta.url)));

/** mulberry32: a small seeded generator. */
export function random(s: number): () => number {
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The seed of a crash suite: UJR_TIDY_CRASH_SEED (to replay its draws), else a new one, printed. */
export function crashSeed(suite: string): number {
  const seed = Number(process.env.UJR_TIDY_CRASH_SEED ?? Math.floor(Math.random() * 2 ** 31));
  console.log(`${suite} test seed: ${seed} (UJR_TIDY_CRASH_SEED=${seed} replays it)`);
  return seed;
}

/** Writes `<dir>/<name>.yaml`: a once tidy job of this plugin over `inputs` into `database`. */
export function tidyConfig(
  dir: string,
  name: string,
  o: { inputs: string[]; database: string; isolation: "process" | "thread"; parallel?: number | undefined },
): string {
  const p = join(dir, `${name}.yaml`);
  writeFileSync(
    p,
    [
      "runner:",
      `  isolation: ${o.isolation}`,
      "jobs:",
      "  tidy:",
      `    plugin: ${JSON.stringify(pkgDir)}`,
      "    type: tidy",
      "    config:",
      `      inputs: [${o.inputs.map((i) => JSON.stringify(i)).join(", ")}]`,
      `      database: ${JSON.stringify(o.database)}`,
      "      mode: once",
      "      settleTime: 0",
      ...(o.parallel === undefined ? [] : [`      parallel: ${o.parallel}`]),
      "",
    ].join("\n"),
  );
  return p;
}

export interface RunOptions {
  /** SIGKILLs the process group at the `at`-th log line (JSON, on stdout) that `counts`. */
  killAtLine?: { counts: (line: string) => boolean; at?: number | undefined } | undefined;
  /** Counts the writes to the SQLite database `walOf`'s WAL this process is told of; SIGKILLs the group at the `killAtWrite`-th. */
  wal?: { walOf: string; killAtWrite?: number | undefined } | undefined;
  /** The runner's log level (default info; debug also logs each archive member skipped). */
  logLevel?: "info" | "debug";
}

export interface RunOutcome {
  code: number | null;
  signal: string | null;
  /** Log lines that counted (killAtLine.counts). */
  lines: number;
  /** The last of them (at a kill: the one it followed). */
  lastLine?: string | undefined;
  walWrites: number;
}

/** A log line of a file loaded (in its open transaction, as a worker logs it). */
export const fileLoaded = (line: string): boolean => line.includes('"msg":"tidy: file loaded');

/**
 * Runs the config as `ujr run` does, in a process group of its own, and SIGKILLs the whole
 * group (the runner and its worker processes) at the point `o` names, if the run gets there.
 */
export function runConfig(cfg: string, o: RunOptions = {}): Promise<RunOutcome> {
  return new Promise((resolve, reject) => {
    let walWrites = 0;
    let killed = false;
    const kill = () => {
      if (killed) return;
      killed = true;
      try {
        process.kill(-proc.pid!, "SIGKILL");
      } catch {
        /* already gone */
      }
    };
    const wal = o.wal;
    const watcher = wal
      ? watch(dirname(wal.walOf), (_event, name) => {
          if (name !== `${basename(wal.walOf)}-wal`) return;
          if (++walWrites === wal.killAtWrite) kill();
        })
      : undefined;
    // small group commits, so that a kill finds some files committed and some not; the
    // WAL checkpointed in the background and the first load without its secondary indexes
    // (as a batch of 16 MB or more is), so that kills also fall during its checkpoints and
    // while the indexes are dropped
    const proc = spawn(process.execPath, [child, cfg], {
      detached: true,
      stdio: ["ignore", "pipe", "inherit"],
      env: {
        ...process.env,
        UJR_TIDY_GROUP_COMMIT_BYTES: String(400_000),
        UJR_TIDY_BACKGROUND_CHECKPOINT_BYTES: "0",
        UJR_TIDY_DEFER_INDEXES_BYTES: "0",
        UJR_TEST_LOG_LEVEL: o.logLevel ?? "info",
      },
    });
    let lines = 0;
    let lastLine: string | undefined;
    let buf = "";
    proc.stdout.on("data", (d: Buffer) => {
      buf += d.toString();
      let nl;
      while ((nl = buf.indexOf("\n")) !== -1) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (!o.killAtLine?.counts(line)) continue;
        lastLine = line;
        if (++lines === o.killAtLine.at) kill();
      }
    });
    proc.on("error", reject);
    proc.on("exit", (code, signal) => {
      watcher?.close();
      resolve({ code, signal, lines, lastLine, walWrites });
    });
  });
}
