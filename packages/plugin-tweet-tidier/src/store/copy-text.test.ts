import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { COPY_START, CopyText, copyLine, copyValue } from "./copy-text.js";

describe("COPY text", () => {
  it("formats values as COPY's text format reads them", () => {
    expect(copyValue(null)).toBe("\\N");
    expect(copyValue(12)).toBe("12");
    expect(copyValue("a\\b\tc\r\nd \\N")).toBe("a\\\\b\\tc\\r\\nd \\\\N");
    expect(copyLine(["x", null, 3])).toBe("x\t\\N\t3\n");
    expect(copyLine(["x"], 7)).toBe("x\t7\n");
  });

  // The loader's use: rows appended; a mark at each file's start; a flush sends everything
  // (keeping what came before the current file's mark, to send again); a failed file cuts
  // back to its mark and puts the kept text in front. The text must always be what a list
  // of rows would hold.
  it("holds the same rows as a list would, through any history of appends, marks, flushes and rollbacks", () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant("append" as const), n: fc.integer({ min: 1, max: 6 }), size: fc.integer({ min: 0, max: 20 }) }),
      fc.constant({ kind: "file" as const }),
      fc.constant({ kind: "flush" as const }),
      fc.constant({ kind: "rollback" as const }),
    );
    fc.assert(
      // chunks of ~40 characters: a mark's chunk is often closed before the flush or rollback
      fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
        const buf = new CopyText(40);
        let mark = COPY_START;
        let carried = new CopyText();
        // the model: rows buffered, the file's start, rows of earlier files sent during it
        let rows: string[] = [];
        let modelMark = 0;
        let modelCarried: string[] = [];
        let next = 0;
        for (const o of ops) {
          if (o.kind === "append") {
            for (let i = 0; i < o.n; i++) {
              const line = `${next++}\t${(o.size % 2 === 0 ? "abc" : "vé€😀").repeat(o.size)}\n`;
              buf.append(line);
              rows.push(line);
            }
          } else if (o.kind === "file") {
            mark = buf.mark();
            modelMark = rows.length;
            carried = new CopyText();
            modelCarried = [];
          } else if (o.kind === "flush") {
            carried.appendChunks(buf.before(mark), mark.rows, mark.chars);
            modelCarried.push(...rows.slice(0, modelMark));
            mark = COPY_START;
            modelMark = 0;
            expect(buf.take().text.join("")).toBe(rows.join(""));
            rows = [];
          } else {
            buf.cutTo(mark);
            rows = rows.slice(0, modelMark);
            buf.prepend(carried);
            rows = [...modelCarried, ...rows];
            carried = new CopyText();
            modelCarried = [];
            mark = COPY_START;
            modelMark = 0;
          }
          expect(buf.all().join("")).toBe(rows.join(""));
          expect(buf.rows).toBe(rows.length);
          expect(buf.chars).toBe(rows.join("").length);
        }
      }),
      { numRuns: 500 },
    );
  });
});
