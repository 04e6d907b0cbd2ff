// Reading a raw file: its lines and its hash are exactly the file's, whatever the line
// lengths against the read buffer (reads reuse their buffers), and readers at once do not
// share one.
import fc from "fast-check";
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { join } from "node:path";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { tempDir } from "./__fixtures__/helpers.js";
import { READ_BUFFER, hashFile, readRaw, readSmallFile, setBlockingReads, takeReadBuffer } from "./read-raw.js";

const tmp = tempDir();
afterAll(() => tmp.cleanup());

/** The non-blank lines of the file as split here, independently of readRaw. */
function expectedLines(path: string): { lineNo: number; text: string }[] {
  return readFileSync(path, "utf8")
    .split("\n")
    .map((text, i) => ({ lineNo: i + 1, text: text.endsWith("\r") ? text.slice(0, -1) : text }))
    .filter((l) => l.text.trim() !== "");
}

async function lines(path: string, keepLine?: (n: number) => boolean) {
  const out: { lineNo: number; text: string }[] = [];
  for await (const l of readRaw(path, undefined, undefined, keepLine)) out.push({ lineNo: l.lineNo, text: l.text! });
  return out;
}

const sha256 = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");

// the loading thread reads asynchronously, the parse worker with blocking calls: both the same bytes
describe.each([
  ["asynchronous reads", false],
  ["blocking reads (the parse worker's)", true],
])("reading raw files, %s", (_mode, blocking) => {
  beforeEach(() => setBlockingReads(blocking));
  afterEach(() => setBlockingReads(false));
  it("lines of any length against the read buffer, and the hash, are the file's", async () => {
    let k = 0;
    await fc.assert(
      fc.asyncProperty(
        // lengths around the buffer's size: lines ending just before, at and after a read's end
        // and blank lines, of ASCII or Unicode spaces (trim()'s), beside lines that only start with a space
        fc.array(
          fc.oneof(
            fc.nat(200),
            fc.integer({ min: READ_BUFFER - 3, max: READ_BUFFER + 3 }),
            fc.nat(3 * READ_BUFFER),
            fc.constantFrom(" ", "\t \r", "\v\f", "\u00a0", "\u3000 \u2028", " \u00a0x", "\u2003{}"),
          ),
          { minLength: 1, maxLength: 6 },
        ),
        fc.boolean(),
        async (lines_, lastNewline) => {
          const path = join(tmp.dir, `lines-${blocking}-${k++}.jsonl`);
          const body = lines_.map((n, i) => (typeof n === "string" ? n : `${i % 10}`.repeat(n))).join("\n") + (lastNewline ? "\n" : "");
          writeFileSync(path, body);
          expect(await lines(path)).toEqual(expectedLines(path));
          expect(await hashFile(path)).toEqual({ sha256: sha256(path), size: Buffer.byteLength(body) });
          // a share of the lines: the same lines, those numbers only
          expect(await lines(path, (n) => n % 2 === 0)).toEqual(expectedLines(path).filter((l) => l.lineNo % 2 === 0));
        },
      ),
      { numRuns: 25 },
    );
  });

  it("files read at once do not see each other's bytes", async () => {
    const a = join(tmp.dir, `a-${blocking}.jsonl`);
    const b = join(tmp.dir, `b-${blocking}.jsonl`);
    writeFileSync(a, Array.from({ length: 40 }, (_, i) => `"a${i}${"x".repeat(100_000)}"`).join("\n") + "\n");
    writeFileSync(b, Array.from({ length: 40 }, (_, i) => `"b${i}${"y".repeat(90_000)}"`).join("\n") + "\n");
    const [la, lb, ha, hb] = await Promise.all([lines(a), lines(b), hashFile(a), hashFile(b)]);
    expect(la).toEqual(expectedLines(a));
    expect(lb).toEqual(expectedLines(b));
    expect([ha.sha256, hb.sha256]).toEqual([sha256(a), sha256(b)]);
  });

  it("compressed or not by its bytes, whatever its name: gzip named .jsonl and text named .jsonl.gz read as what they are", async () => {
    const text = Array.from({ length: 30 }, (_, i) => `{"n":${i},"pad":"${"z".repeat(i * 997)}"}`).join("\n") + "\n";
    const plain = join(tmp.dir, `plain-${blocking}.jsonl`);
    writeFileSync(plain, text);
    const want = expectedLines(plain);
    const cases = [
      [`gzip-named-plain-${blocking}.jsonl`, gzipSync(text)],
      [`text-named-gz-${blocking}.jsonl.gz`, Buffer.from(text)],
      [`gzip-${blocking}.jsonl.gz`, gzipSync(text)],
    ] as const;
    for (const [name, bytes] of cases) {
      const path = join(tmp.dir, name);
      writeFileSync(path, bytes);
      expect(await lines(path), `${name}, streamed`).toEqual(want);
      // read at once first (as the parse worker reads a small file), then split or decompressed
      const got: { lineNo: number; text: string }[] = [];
      const at = await readSmallFile(path, undefined, takeReadBuffer());
      for await (const l of readRaw(path, undefined, at)) got.push({ lineNo: l.lineNo, text: l.text! });
      expect(got, `${name}, read at once`).toEqual(want);
    }
  });

  it("a small file is read at once; a file over the read buffer is not", async () => {
    const small = join(tmp.dir, `small-${blocking}.jsonl`);
    const big = join(tmp.dir, `big-${blocking}.jsonl`);
    writeFileSync(small, "x".repeat(READ_BUFFER));
    writeFileSync(big, "x".repeat(READ_BUFFER + 1));
    expect((await readSmallFile(small, undefined, takeReadBuffer()))?.length).toBe(READ_BUFFER);
    expect(await readSmallFile(big, undefined, takeReadBuffer())).toBeUndefined();
  });
});
