import { describe, expect, it } from "vitest";
import { fc, test } from "@fast-check/vitest";
import type { StoredRun } from "./batches.js";
import { packRows, unpackRows } from "./packed-rows.js";

const outcome = fc.constantFrom("running", "done", "failed", "timeout", "retry", "cancelled", "interrupted") as fc.Arbitrary<StoredRun[7]>;
const time = fc.option(fc.integer({ min: 1_600_000_000_000, max: 2_000_000_000_000 }), { nil: null });
const text = fc.option(fc.string(), { nil: null });

/** Runs as a batch holds them: run ids mostly of one runner (`<prefix>-<n>`), a few task labels, any field possibly missing. */
const batch = fc.tuple(fc.constantFrom("4f2a91c0-", "x-y-", "", "-"), fc.array(fc.constantFrom("file:///srv/app/tasks.mjs#fetchPage", "file:///srv/app/tasks.mjs#tidy", "m#t"), { minLength: 1, maxLength: 3 })).chain(([prefix, labels]) =>
  fc.array(
    fc.tuple(
      fc.oneof(fc.nat().map((n) => `${prefix}${n}`), fc.string()),
      fc.integer({ min: 1, max: 10 }),
      fc.constantFrom(...labels),
      text,
      time,
      time,
      time,
      outcome,
      text,
      text,
      fc.option(fc.double({ min: 0, max: 1e7, noNaN: true }), { nil: null }),
      text,
    ),
    { maxLength: 40 },
  ),
);

describe("packed rows", () => {
  test.prop([batch])("read back exactly as they were recorded", (rows) => {
    expect(unpackRows(packRows(rows as StoredRun[]))).toEqual(rows);
  });

  it("say the task label, the run id prefix and the high digits of the times once per batch", () => {
    const at = 1_796_548_542_382;
    const rows: StoredRun[] = Array.from({ length: 100 }, (_, index) => [`46358c4d-${index + 1}`, 1, "file:///srv/app/tasks.mjs#fetchPage", String(index), at + index, at + index + 1, at + index + 3, "done", null, null, 2, null]);
    const packed = packRows(rows);
    expect(packed.match(/fetchPage/g)).toHaveLength(1);
    expect(packed.match(/46358c4d/g)).toHaveLength(1);
    // Version 1 stored each run as a plain array: the packed form is well under half of it.
    expect(packed.length).toBeLessThan(JSON.stringify(rows).length / 2.5);
  });

  it("rows written by version 1 (a plain array) are read as they are", () => {
    const v1: StoredRun[] = [["a-1", 2, "m#t", "sig", 1, 2, 3, "failed", "E_X", "boom", 1, "3/4"]];
    expect(unpackRows(JSON.stringify(v1))).toEqual(v1);
  });
});
