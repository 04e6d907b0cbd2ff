/**
 * JSON.parse of UTF-8 bytes, without turning a whole page into one string.
 *
 * Why: V8 puts every string over 128 KiB in memory mapped for it alone and unmaps it once it
 * is collected, so each ~200 kB page line decoded whole costs ~50–100 page faults of fresh
 * memory; on a VM a fault is dear (a big load spent ~0.3–0.45 s of system time on them in the
 * parse thread, which sets a load's pace). Here one pass over the bytes finds the members and
 * elements of the outer containers (depth <= MAX_SPLIT_DEPTH); every part of at most
 * `limit` bytes is decoded and parsed on its own (young, reused memory), and the containers
 * above them are put together from the parts. The same pages parsed 30% faster this way in
 * one thread (docs/performance.md).
 *
 * The result is JSON.parse's: the same values, key order and duplicate-key rule (the last
 * wins), and every byte is checked by JSON.parse (each part) or here (the separators and
 * whitespace between them). Anything unusual (invalid JSON, a `__proto__` key, a part that
 * cannot be split further) falls back to JSON.parse of the whole text, so an error is
 * JSON.parse's own, message included.
 */

/** The most bytes decoded as one string: as two-byte text (2 bytes a character) still under V8's 128 KiB. */
export const JSON_PART_LIMIT = 60_000;

/** Containers this deep or shallower are split (a page, its `data` and `includes`, the lists of `includes`). */
const MAX_SPLIT_DEPTH = 3;

/**
 * A container with a separator every this many bytes of the text or more often is left to
 * JSON.parse of the whole text: a JSON.parse call per item of a few bytes (`[1,2,3,…]`)
 * made a degenerate 5.8 MB line 3× slower than one call. A page has one every ~35 bytes at
 * most, counting its tweets' own keys.
 */
const TINY_ITEMS = 8;

/** JSON's whitespace: space, tab, line feed, carriage return. */
const WS = new Uint8Array(256);
WS[0x20] = WS[0x09] = WS[0x0a] = WS[0x0d] = 1;

const QUOTE = 1;
const OPEN = 2;
const CLOSE = 3;
const SEPARATOR = 4;
const CLASS = new Uint8Array(256);
CLASS[0x22] = QUOTE;
CLASS[0x7b] = CLASS[0x5b] = OPEN;
CLASS[0x7d] = CLASS[0x5d] = CLOSE;
CLASS[0x2c] = CLASS[0x3a] = SEPARATOR;

/** A container at a split depth: where it opens and closes, its commas and colons, its split children in order. */
interface Frame {
  open: number;
  close: number;
  seps: number[];
  kids: Frame[];
}

/** Not what this parser puts together: JSON.parse of the whole decides (and says what is wrong). */
export class NotSplit extends Error {}

function scan(b: Uint8Array, start: number, end: number): Frame {
  const tinyItems = Math.max(64, Math.floor((end - start) / TINY_ITEMS));
  const root: Frame = { open: start, close: -1, seps: [], kids: [] };
  const stack: Frame[] = [root];
  let top = root;
  let depth = 1;
  let i = start + 1;
  while (i < end) {
    const c = CLASS[b[i]!];
    if (c === 0) {
      i++;
    } else if (c === QUOTE) {
      i++;
      for (;;) {
        if (i >= end) throw new NotSplit();
        const d = b[i]!;
        if (d === 0x22) break;
        i += d === 0x5c ? 2 : 1;
      }
      i++;
    } else if (c === OPEN) {
      depth++;
      if (depth <= MAX_SPLIT_DEPTH) {
        const f: Frame = { open: i, close: -1, seps: [], kids: [] };
        top.kids.push(f);
        stack.push(f);
        top = f;
      }
      i++;
    } else if (c === CLOSE) {
      if (depth <= MAX_SPLIT_DEPTH) {
        top.close = i;
        stack.pop();
        top = stack[stack.length - 1]!;
      }
      depth--;
      i++;
      if (depth === 0) break;
    } else {
      if (depth <= MAX_SPLIT_DEPTH) {
        // items this small cost more as parts than a whole-text JSON.parse saves (see TINY_ITEMS)
        if (top.seps.push(i) === tinyItems) throw new NotSplit();
      }
      i++;
    }
  }
  if (depth !== 0) throw new NotSplit();
  for (; i < end; i++) if (WS[b[i]!] === 0) throw new NotSplit();
  return root;
}

/** [start, end) without JSON's whitespace around it (empty when it is all whitespace). */
function trim(b: Uint8Array, s: number, e: number): [number, number] {
  while (s < e && WS[b[s]!] === 1) s++;
  while (e > s && WS[b[e - 1]!] === 1) e--;
  return [s, e];
}

class Builder {
  constructor(
    private readonly b: Buffer,
    private readonly limit: number,
  ) {}

  private text(s: number, e: number): unknown {
    return JSON.parse(this.b.toString("utf8", s, e));
  }

  /** An item's [start, end) without the whitespace around it; an empty item is not JSON. */
  private trimmed(s: number, e: number): [number, number] {
    const range = trim(this.b, s, e);
    if (range[0] === range[1]) throw new NotSplit();
    return range;
  }

  /** A value: parsed whole when small, else put together from its split child (the next at or after `k`). */
  private value(f: Frame, s: number, e: number, k: { at: number }): unknown {
    if (e - s <= this.limit) return this.text(s, e);
    const kids = f.kids;
    while (k.at < kids.length && kids[k.at]!.open < s) k.at++;
    const kid = kids[k.at];
    // a part too big that is no container of a split depth (a huge string): not split
    if (kid === undefined || kid.open !== s || kid.close !== e - 1) throw new NotSplit();
    return this.frame(kid);
  }

  frame(f: Frame): unknown {
    const b = this.b;
    const isObject = b[f.open] === 0x7b;
    if (b[f.close] !== (isObject ? 0x7d : 0x5d)) throw new NotSplit();
    const seps = f.seps;
    const n = seps.length;
    const k = { at: 0 };
    let from = f.open + 1;
    if (n === 0) {
      const [s, e] = trim(b, from, f.close);
      if (s === e) return isObject ? {} : [];
    }
    if (isObject) {
      // key : value , key : value ... : a colon at every even separator, a comma at every odd one
      if (n % 2 === 0) throw new NotSplit();
      const out: Record<string, unknown> = {};
      for (let j = 0; j < n; j += 2) {
        const colon = seps[j]!;
        if (b[colon] !== 0x3a) throw new NotSplit();
        const [ks, ke] = this.trimmed(from, colon);
        if (b[ks] !== 0x22) throw new NotSplit();
        const key = this.text(ks, ke) as string;
        // an own property as JSON.parse makes it, which an assignment would not
        if (key === "__proto__") throw new NotSplit();
        const end = j + 1 < n ? seps[j + 1]! : f.close;
        if (j + 1 < n && b[end] !== 0x2c) throw new NotSplit();
        const [vs, ve] = this.trimmed(colon + 1, end);
        out[key] = this.value(f, vs, ve, k);
        from = end + 1;
      }
      return out;
    }
    const out: unknown[] = [];
    for (let j = 0; j <= n; j++) {
      const end = j < n ? seps[j]! : f.close;
      if (j < n && b[end] !== 0x2c) throw new NotSplit();
      const [vs, ve] = this.trimmed(from, end);
      out.push(this.value(f, vs, ve, k));
      from = end + 1;
    }
    return out;
  }
}

/**
 * The split parse alone: the value, or NotSplit (or JSON.parse's error of a part) where
 * parseJsonBytes falls back to the whole text. Exported for the tests, which check that pages
 * do take this path.
 */
export function parseJsonParts(bytes: Buffer, limit = JSON_PART_LIMIT): unknown {
  const [s, e] = trim(bytes, 0, bytes.length);
  const first = bytes[s];
  if (first !== 0x7b && first !== 0x5b) throw new NotSplit();
  return new Builder(bytes, limit).frame(scan(bytes, s, e));
}

/**
 * The value of the JSON text in `bytes` (valid UTF-8), as `JSON.parse(bytes.toString("utf8"))`
 * gives it, throwing its error for a text that is not JSON. `limit`: the largest part decoded
 * as one string (tests make it small to split small values).
 */
export function parseJsonBytes(bytes: Buffer, limit = JSON_PART_LIMIT): unknown {
  if (bytes.length > limit) {
    try {
      return parseJsonParts(bytes, limit);
    } catch {
      // not split here (see NotSplit): JSON.parse of the whole decides, with its own error
    }
  }
  return JSON.parse(bytes.toString("utf8"));
}
