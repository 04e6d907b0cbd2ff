import type { StoredRun } from "./batches.js";
import type { RunRecord } from "./types.js";

/**
 * How a batch's runs are stored in its `rows` text (schema version 2). Recording a run is
 * paid on the runner's thread, per task, and the price is mostly the bytes: stringifying
 * them and writing them to the file. A batch holds runs of one job, recorded within a
 * fraction of a second, so most of a run repeats its neighbours: the task label (often
 * 40+ characters), the run id's prefix (`<runner>-`), the first 9 digits of each time.
 * Packed, those are said once per batch:
 *
 *   {"v":2,"t":<base ms>,"p":"<run id prefix>","k":["<task label>",…],"r":[<row>,…]}
 *
 * A row is [runId, attempt, task, signature, queuedAt, startedAt, endedAt, outcome,
 * durationMs, code, message, progress] with the run id after the prefix `p` (an id
 * without it whole, in an array: `["id"]`), the task as an index into `k`, times as ms
 * after `t`, and trailing nulls left out. About a third of the version 1 size.
 *
 * Version 1 `rows` (a plain JSON array of StoredRun) are still read: files written
 * before are not rewritten.
 */
interface Packed {
  v: 2;
  t: number;
  p: string;
  k: string[];
  r: PackedRow[];
}

type PackedRow = Array<string | number | null | [string]>;

const delta = (at: number | null | undefined, base: number): number | null => (at === null || at === undefined ? null : at - base);

/**
 * Packs one batch's runs as they are added (the run history's flush, on the runner's
 * thread: one row array per run, nothing else kept).
 */
export class RowPacker {
  readonly #rows: PackedRow[] = [];
  readonly #labels = new Map<string, number>();
  #base = 0;
  #prefix = "";

  get size(): number {
    return this.#rows.length;
  }

  add(run: RunRecord): void {
    this.#add(run.runId, run.attempt, run.task, run.signature ?? null, run.queuedAt, run.startedAt, run.endedAt, run.outcome, run.code ?? null, run.message ?? null, run.durationMs ?? null, run.progress ?? null);
  }

  addStored(row: StoredRun): void {
    this.#add(...row);
  }

  #add(
    runId: string,
    attempt: number,
    task: string,
    signature: string | null,
    queuedAt: number | null | undefined,
    startedAt: number | null | undefined,
    endedAt: number | null | undefined,
    outcome: StoredRun[7],
    code: string | null,
    message: string | null,
    durationMs: number | null,
    progress: string | null,
  ): void {
    if (this.#rows.length === 0) {
      this.#base = queuedAt ?? startedAt ?? endedAt ?? 0;
      // The run id's prefix up to its last "-": the runner's ids are `<runner>-<seq>`.
      this.#prefix = runId.slice(0, runId.lastIndexOf("-") + 1);
    }
    let label = this.#labels.get(task);
    if (label === undefined) {
      label = this.#labels.size;
      this.#labels.set(task, label);
    }
    const base = this.#base;
    // An id without the batch's prefix is kept whole, in an array of its own.
    const id: string | [string] = runId.startsWith(this.#prefix) ? runId.slice(this.#prefix.length) : [runId];
    const row: PackedRow = [id, attempt, label, signature, delta(queuedAt, base), delta(startedAt, base), delta(endedAt, base), outcome, durationMs];
    // Trailing nulls are left out: most runs have no code, message or progress.
    if (progress !== null) row.push(code, message, progress);
    else if (message !== null) row.push(code, message);
    else if (code !== null) row.push(code);
    this.#rows.push(row);
  }

  /** The batch's `rows` text. */
  text(): string {
    if (this.#rows.length === 0) return "[]";
    const batch: Packed = { v: 2, t: this.#base, p: this.#prefix, k: [...this.#labels.keys()], r: this.#rows };
    return JSON.stringify(batch);
  }
}

export function packRows(rows: readonly StoredRun[]): string {
  const packer = new RowPacker();
  for (const row of rows) packer.addStored(row);
  return packer.text();
}

const at = (value: PackedRow[number] | undefined, base: number): number | null => (value === null || value === undefined ? null : (value as number) + base);
const orNull = <T>(value: T | undefined): T | null => (value === undefined ? null : value);

/** A batch's runs as StoredRun, from either version of `rows`. */
export function unpackRows(text: string): StoredRun[] {
  const parsed = JSON.parse(text) as StoredRun[] | Packed;
  if (Array.isArray(parsed)) return parsed;
  const { t: base, p: prefix, k: labels } = parsed;
  return parsed.r.map((row): StoredRun => {
    const id = row[0]!;
    return [
      Array.isArray(id) ? id[0] : `${prefix}${id as string}`,
      row[1] as number,
      labels[row[2] as number]!,
      orNull(row[3]) as string | null,
      at(row[4], base),
      at(row[5], base),
      at(row[6], base),
      row[7] as StoredRun[7],
      orNull(row[9]) as string | null,
      orNull(row[10]) as string | null,
      orNull(row[8]) as number | null,
      orNull(row[11]) as string | null,
    ];
  });
}
