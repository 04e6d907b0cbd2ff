// A page parsed in parts is the page JSON.parse gives: the same values in the same key order,
// and a text that is not JSON fails with JSON.parse's own error.
import fc from "fast-check";
import { readFileSync } from "node:fs";
import { isDeepStrictEqual } from "node:util";
import { describe, expect, it } from "vitest";
import { ALL_FIXTURES, fixture } from "./__fixtures__/helpers.js";
import { JSON_PART_LIMIT, NotSplit, parseJsonBytes, parseJsonParts } from "./parse-json-bytes.js";

/** Equal as JSON.parse's value: deep equality and the same key order (which JSON.stringify shows). */
function expectSameValue(got: unknown, want: unknown): void {
  expect(isDeepStrictEqual(got, want)).toBe(true);
  expect(JSON.stringify(got)).toBe(JSON.stringify(want));
}

/** The error JSON.parse throws for `text`, or undefined. */
function parseError(text: string): string | undefined {
  try {
    JSON.parse(text);
    return undefined;
  } catch (e) {
    return `${(e as Error).name}: ${(e as Error).message}`;
  }
}

const jsonText = fc
  .tuple(fc.jsonValue(), fc.constantFrom<string | number>(0, 1, 2, "\t"), fc.boolean())
  .map(([v, indent, crlf]) => {
    const text = JSON.stringify(v, null, indent);
    // raw line breaks are whitespace between tokens only (inside strings they are escaped)
    return crlf ? text.replace(/\n/g, "\r\n") : text;
  });

describe("parseJsonBytes", () => {
  it("gives JSON.parse's value for any JSON text, however small the parts", () => {
    fc.assert(
      fc.property(jsonText, fc.integer({ min: 1, max: 64 }), fc.constantFrom("", " ", "\n ", "\t\r\n"), (text, limit, pad) => {
        expectSameValue(parseJsonBytes(Buffer.from(pad + text + pad), limit), JSON.parse(text));
      }),
      { numRuns: 2000 },
    );
  });

  it("parses in parts where it can: the parts' value is JSON.parse's (or it declines, never another value)", () => {
    let split = 0;
    fc.assert(
      fc.property(jsonText, fc.integer({ min: 1, max: 64 }), (text, limit) => {
        let got: unknown;
        try {
          got = parseJsonParts(Buffer.from(text), limit);
        } catch {
          return; // declined: parseJsonBytes then parses the whole text
        }
        split++;
        expectSameValue(got, JSON.parse(text));
      }),
      { numRuns: 2000 },
    );
    // the property is not vacuous: most containers of the runs were split
    expect(split).toBeGreaterThan(500);
  });

  it("fails as JSON.parse does, with its message, for text that is not JSON", () => {
    // valid JSON broken at one place: a character dropped, or a structural one put in
    const dropOrPut = fc
      .tuple(jsonText.filter((t) => t.length > 1), fc.nat(), fc.constantFrom("", ",", ":", "{", "}", "[", "]", '"', "\\", "x", "\u0001", " "))
      .map(([text, at, put]) => {
        const i = at % text.length;
        return text.slice(0, i) + put + text.slice(i + 1);
      });
    // a container closed by the other bracket (outside strings: their brackets are not structure)
    const swapped = fc.tuple(jsonText, fc.nat()).map(([text, at]) => {
      const closes: number[] = [];
      for (let i = 0, inString = false; i < text.length; i++) {
        const c = text[i];
        if (inString) {
          if (c === "\\") i++;
          else if (c === '"') inString = false;
        } else if (c === '"') inString = true;
        else if (c === "}" || c === "]") closes.push(i);
      }
      if (closes.length === 0) return text;
      const i = closes[at % closes.length]!;
      return text.slice(0, i) + (text[i] === "}" ? "]" : "}") + text.slice(i + 1);
    });
    const broken = fc.oneof(dropOrPut, swapped);
    fc.assert(
      fc.property(broken, fc.integer({ min: 1, max: 64 }), (text, limit) => {
        const want = parseError(text);
        let got: string | undefined;
        let value: unknown;
        try {
          value = parseJsonBytes(Buffer.from(text), limit);
        } catch (e) {
          got = `${(e as Error).name}: ${(e as Error).message}`;
        }
        expect(got).toBe(want);
        if (want === undefined) expectSameValue(value, JSON.parse(text));
      }),
      { numRuns: 3000 },
    );
  });

  it("keeps a __proto__ key as JSON.parse does: an own property, the prototype untouched", () => {
    const text = `{"__proto__": {"polluted": true}, "data": [${Array.from({ length: 50 }, (_, i) => `{"id": "${i}"}`).join(",")}]}`;
    const got = parseJsonBytes(Buffer.from(text), 16) as Record<string, unknown>;
    expectSameValue(got, JSON.parse(text));
    expect(Object.getPrototypeOf(got)).toBe(Object.prototype);
    expect(Object.hasOwn(got, "__proto__")).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it("keeps the last of duplicate keys where JSON.parse puts the first", () => {
    const text = `{"a": [1, 2, 3], "b": {"c": 1, "c": [4, 5]}, "a": {"x": "yyyyyyyy"}}`;
    expectSameValue(parseJsonBytes(Buffer.from(text), 4), JSON.parse(text));
  });

  it("leaves a container of tiny items to JSON.parse of the whole text (a call per item would cost more)", () => {
    const text = JSON.stringify({ data: Array.from({ length: 200_000 }, (_, i) => i % 10), meta: { result_count: 200_000 } });
    const bytes = Buffer.from(text);
    expect(() => parseJsonParts(bytes)).toThrow(NotSplit);
    expectSameValue(parseJsonBytes(bytes), JSON.parse(text));
    // items of a page's size are still split
    const page = JSON.stringify({ data: Array.from({ length: 200 }, (_, i) => ({ id: String(i), text: "x".repeat(500) })) });
    expectSameValue(parseJsonParts(Buffer.from(page)), JSON.parse(page));
  });

  it("splits real API pages over the limit, into the same page", () => {
    let pagesSplit = 0;
    for (const name of ALL_FIXTURES) {
      for (const line of readFileSync(fixture(name), "utf8").split("\n")) {
        if (line.trim() === "") continue;
        const bytes = Buffer.from(line);
        const error = parseError(line);
        if (error !== undefined) {
          // a fixture's broken line (a stream cut short) fails as it always did
          expect(() => parseJsonBytes(bytes)).toThrow(error.slice(error.indexOf(": ") + 2));
          continue;
        }
        if (bytes.length > JSON_PART_LIMIT) {
          // the split path itself, not the whole-text fallback
          expectSameValue(parseJsonParts(bytes), JSON.parse(line));
          pagesSplit++;
        }
        expectSameValue(parseJsonBytes(bytes), JSON.parse(line));
      }
    }
    // brexit, the timeline and withheld hold pages of 260-430 kB
    expect(pagesSplit).toBeGreaterThanOrEqual(5);
  });
});
