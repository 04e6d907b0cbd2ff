import { deserialize, serialize } from "node:v8";
import { types } from "node:util";

/**
 * How task arguments and outcomes cross a child process's IPC channel: as they are when
 * JSON carries them exactly as structured clone would (the common case: plain data),
 * else as V8's structured serialization in base64. So Dates, Maps, BigInts, typed
 * arrays, `undefined`, -0, NaN, cycles and shared references arrive as they do in a
 * thread, while plain data pays for JSON only: Node's "advanced" IPC serialization
 * costs a V8 serializer object, a buffer write and garbage per message, on both sides.
 */
export type Encoded = [0, unknown] | [1, string];

const MAX_DEPTH = 64;

export function encode(value: unknown): Encoded {
  if (isJsonExact(value, 0, new Set())) return [0, value];
  return [1, serialize(value).toString("base64")];
}

export function decode(encoded: Encoded): unknown {
  return encoded[0] === 0 ? encoded[1] : deserialize(Buffer.from(encoded[1], "base64"));
}

/** True when JSON.parse(JSON.stringify(value)) gives what structuredClone(value) would. */
export function isJsonExact(value: unknown, depth: number, seen: Set<object>): boolean {
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
