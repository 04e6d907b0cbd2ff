import { deserialize, serialize } from "node:v8";
import { types } from "node:util";

/**
 * A value (task arguments, a result) made ready to cross a JSON channel (a child process's
 * IPC, a queue's job data) and arrive as a structured clone, as it would in a thread:
 * `[0, value]` when JSON carries it exactly (the common case: plain data), `[0]` for
 * `undefined`, else `[1, base64 of V8's structured serialization]`. So Dates, Maps,
 * BigInts, typed arrays, `undefined`, -0, NaN, cycles and shared references survive,
 * while plain data pays for JSON only: a V8 serializer costs an object, a buffer and
 * garbage per value, on both sides.
 */
export type WireEncoded = [0, unknown] | [0] | [1, string];

const MAX_DEPTH = 64;

/** Encodes `value` for a JSON channel; throws a DataCloneError for what structured clone cannot carry (a function...). */
export function encodeWire(value: unknown): WireEncoded {
  if (value === undefined) return [0];
  if (isJsonExact(value, 0, new Set())) return [0, value];
  return [1, serialize(value).toString("base64")];
}

/** The value `encodeWire` encoded, after its trip through JSON. */
export function decodeWire(encoded: WireEncoded): unknown {
  return encoded[0] === 0 ? encoded[1] : deserialize(Buffer.from(encoded[1], "base64"));
}

/** True when JSON.parse(JSON.stringify(value)) gives what structuredClone(value) would. */
function isJsonExact(value: unknown, depth: number, seen: Set<object>): boolean {
  switch (typeof value) {
    case "string":
    case "boolean":
      return true;
    case "number":
      return Number.isFinite(value) && !Object.is(value, -0);
    case "object":
      break;
    default:
      return false; // undefined, bigint, function, symbol
  }
  if (value === null) return true;
  // A repeated object is a shared reference or a cycle: JSON would copy it or fail.
  if (depth > MAX_DEPTH || seen.has(value) || types.isProxy(value)) return false;
  seen.add(value);
  const prototype = Object.getPrototypeOf(value);
  if (prototype === Array.prototype) {
    const array = value as unknown[];
    for (let index = 0; index < array.length; index++) {
      if (!(index in array) || !isJsonExact(array[index], depth + 1, seen)) return false;
    }
    // Named properties on an array survive a structured clone, not JSON.
    return Object.keys(array).length === array.length;
  }
  if (prototype !== Object.prototype && prototype !== null) return false;
  for (const key in value) {
    if (key === "__proto__" || !isJsonExact((value as Record<string, unknown>)[key], depth + 1, seen)) return false;
  }
  return true;
}
