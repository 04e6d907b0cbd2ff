import { describe, expect, it } from "vitest";
import { decodeWire, encodeWire, type WireEncoded } from "./wire-codec.js";

/** What the other side of a JSON channel gets. */
const acrossJson = (value: unknown) => decodeWire(JSON.parse(JSON.stringify(encodeWire(value))) as WireEncoded);

class Point {
  constructor(
    public x: number,
    public y: number,
  ) {}
}

class Money {
  constructor(public amount: number) {}
  toJSON() {
    return `${this.amount} EUR`;
  }
}

describe("wire codec", () => {
  const cases: Record<string, unknown> = {
    "plain data": { name: "a", n: 1.5, ok: true, none: null, list: [1, "two", { three: 3 }], nested: { deep: { deeper: ["x"] } } },
    "a Date": { since: new Date(1000) },
    "Maps and Sets": { tags: new Map([["a", 1]]), ids: new Set(["x"]) },
    "a BigInt": { big: 2n ** 70n },
    "typed arrays and buffers": { bytes: new Uint8Array([1, 2, 3]), floats: new Float64Array([0.5]) },
    "undefined in an object and an array": { missing: undefined, list: [1, undefined] },
    "a sparse array": [1, , 3], // eslint-disable-line no-sparse-arrays
    "an array with a named property": Object.assign([1, 2], { extra: "kept" }),
    "-0, NaN and Infinity": { values: [-0, Number.NaN, Number.POSITIVE_INFINITY] },
    "a class instance (arrives as a plain object)": new Point(1, 2),
    "an object whose class has toJSON": { price: new Money(5) },
    "a RegExp and an Error": { pattern: /a+/g, error: new Error("boom") },
    "a null-prototype object": Object.assign(Object.create(null), { a: 1 }),
  };
  for (const [name, value] of Object.entries(cases)) {
    it(`${name} arrives as a structured clone`, () => {
      expect(acrossJson(value)).toEqual(structuredClone(value));
    });
  }

  it("keeps shared references and cycles", () => {
    const shared = { id: 1 };
    const cyclic: Record<string, unknown> = { a: shared, b: shared };
    cyclic.self = cyclic;
    const arrived = acrossJson(cyclic) as typeof cyclic;
    expect(arrived.a).toBe(arrived.b);
    expect(arrived.self).toBe(arrived);
  });

  it("sends plain data as JSON, untouched", () => {
    const value = { rows: [{ id: 1, text: "é\u2028\ud800" }], total: 1 };
    expect(encodeWire(value)).toEqual([0, value]);
  });

  it("carries undefined itself (a task that returns nothing), as JSON", () => {
    expect(encodeWire(undefined)).toEqual([0]);
    expect(acrossJson(undefined)).toBeUndefined();
  });

  it("throws on what structured clone cannot carry", () => {
    expect(() => encodeWire({ fn: () => 1 })).toThrow(/could not be cloned/);
  });
});
