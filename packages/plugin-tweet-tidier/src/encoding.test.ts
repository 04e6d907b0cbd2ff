import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { capturingLogger } from "@ujr/core/testing";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { fixture, tempDir } from "./__fixtures__/helpers.js";
import { firstInvalidUtf8 } from "./read-raw.js";
import { SqliteTidyStore } from "./store/sqlite.js";

let dir: string;
let cleanup: () => void;
let store: SqliteTidyStore;
beforeEach(() => {
  ({ dir, cleanup } = tempDir());
  store = new SqliteTidyStore(join(dir, "tidy.sqlite"));
});
afterEach(async () => {
  await store.close();
  cleanup();
});

const pages = () => readFileSync(fixture("timeline-observatoryteam.jsonl"), "utf8").trimEnd().split("\n");

describe("text encoding: decoded strictly, never replaced", () => {
  it("a line with a Latin-1 byte is an ingest error naming the line and byte offsets; the other lines load; nothing is replaced", async () => {
    const [a, b, c] = pages();
    // page b with "é" written as the single Latin-1 byte 0xE9 inside a tweet text
    const at = b!.indexOf('"text":"') + 8;
    const bad = Buffer.concat([Buffer.from(b!.slice(0, at)), Buffer.from([0xe9]), Buffer.from(b!.slice(at))]);
    const file = join(dir, "latin1.jsonl");
    const head = Buffer.from(`${a}\n`);
    writeFileSync(file, Buffer.concat([head, bad, Buffer.from(`\n${c}\n`)]));
    const r = await store.ingestFile(file);
    expect(r).toMatchObject({ status: "partial", pages: 2, errors: 1, nothingLoaded: false });
    const errs = await store.query<{ line_no: number; code: string; message: string }>("SELECT line_no, code, message FROM ingest_errors");
    expect(errs).toHaveLength(1);
    expect(errs[0]).toMatchObject({ line_no: 2, code: "UJR_TIDY_BAD_UTF8" });
    const offset = Buffer.byteLength(b!.slice(0, at));
    expect(errs[0]!.message).toContain(`line 2 is not valid UTF-8: byte 0xE9 at byte offset ${offset} of the line (byte ${head.length + offset} of the file)`);
    expect(await store.count("tweets", "text LIKE '%' || char(65533) || '%'")).toBe(0);
  });

  it("a UTF-16 file gets a message that says it is UTF-16, and nothing of it loads", async () => {
    for (const [name, bytes] of [
      ["bom.jsonl", Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(`${pages()[0]}\n`, "utf16le")])],
      ["nobom.jsonl", Buffer.from(`${pages()[0]}\n`, "utf16le")],
    ] as const) {
      const file = join(dir, name);
      writeFileSync(file, bytes);
      const r = await store.ingestFile(file);
      expect(r, name).toMatchObject({ status: "partial", pages: 0, errors: 1, nothingLoaded: true });
    }
    const errs = await store.query<{ code: string; message: string }>("SELECT code, message FROM ingest_errors ORDER BY id");
    expect(errs.map((e) => e.code)).toEqual(["UJR_TIDY_UTF16", "UJR_TIDY_UTF16"]);
    expect(errs[0]!.message).toContain("the file is UTF-16LE (byte-order mark), not UTF-8");
    expect(errs[1]!.message).toContain("the file is UTF-16LE (NUL bytes between ASCII characters), not UTF-8");
  });

  it("a UTF-8 byte-order mark before a line (a file written with one, files concatenated) is skipped: every page loads as without it", async () => {
    const [a, b, c] = pages();
    const bom = Buffer.from([0xef, 0xbb, 0xbf]);
    const plain = join(dir, "plain.jsonl");
    writeFileSync(plain, `${a}\n${b}\n${c}\n`);
    const marked = join(dir, "bom.jsonl");
    // a mark at the file's start, and one at the start of its third line (a second file with one appended)
    writeFileSync(marked, Buffer.concat([bom, Buffer.from(`${a}\n${b}\n`), bom, Buffer.from(`${c}\n`)]));
    const other = new SqliteTidyStore(join(dir, "plain.sqlite"));
    try {
      expect(await other.ingestFile(plain)).toMatchObject({ status: "loaded", pages: 3, errors: 0 });
      expect(await store.ingestFile(marked)).toMatchObject({ status: "loaded", pages: 3, errors: 0 });
      const texts = "SELECT id, text FROM tweets ORDER BY id";
      expect(await store.query(texts)).toEqual(await other.query(texts));
    } finally {
      await other.close();
    }
  });

  it("a bad byte after a byte-order mark is named at its offset in the line as written (the mark counted)", async () => {
    const [a] = pages();
    const at = a!.indexOf('"text":"') + 8;
    const file = join(dir, "bom-latin1.jsonl");
    writeFileSync(file, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(a!.slice(0, at)), Buffer.from([0xe9]), Buffer.from(`${a!.slice(at)}\n`)]));
    await store.ingestFile(file);
    const [err] = await store.query<{ code: string; message: string }>("SELECT code, message FROM ingest_errors");
    const offset = 3 + Buffer.byteLength(a!.slice(0, at));
    expect(err).toMatchObject({ code: "UJR_TIDY_BAD_UTF8" });
    expect(err!.message).toContain(`line 1 is not valid UTF-8: byte 0xE9 at byte offset ${offset} of the line (byte ${offset} of the file)`);
  });

  it("finds the first invalid byte of overlong, surrogate and truncated sequences", () => {
    expect(firstInvalidUtf8(Buffer.from([0x61, 0xc0, 0x80]))).toBe(1); // overlong
    expect(firstInvalidUtf8(Buffer.from([0x61, 0x62, 0xed, 0xa0, 0x80]))).toBe(2); // a surrogate
    expect(firstInvalidUtf8(Buffer.from([0xc3, 0xa9, 0xe2, 0x82]))).toBe(2); // truncated €
    expect(firstInvalidUtf8(Buffer.from("é€😀", "utf8"))).toBe(9);
  });
});

describe("a JSON document written over several lines (pretty-printed) instead of one page a line", () => {
  it("its opening line's error says so and how to fix the file", async () => {
    const page = JSON.parse(pages()[0]!) as unknown;
    for (const [name, doc, fix] of [
      ["pretty.json.jsonl", JSON.stringify(page, null, 2), "jq -c . in.json > out.jsonl"],
      ["array.jsonl", JSON.stringify([page], null, 2), "jq -c '.[]' in.json > out.jsonl"],
    ] as const) {
      const file = join(dir, name);
      writeFileSync(file, `${doc}\n`);
      const r = await store.ingestFile(file);
      expect(r, name).toMatchObject({ pages: 0, nothingLoaded: true });
      const [first] = await store.query<{ code: string; message: string }>("SELECT code, message FROM ingest_errors WHERE path = ? AND line_no = 1", [file]);
      expect(first, name).toMatchObject({ code: "UJR_TIDY_BAD_JSON" });
      expect(first!.message, name).toContain(`the file looks like one JSON document written over several lines (pretty-printed), not JSON Lines (one page a line); write it one page a line (\`${fix}\`)`);
    }
  });
});

describe("bad lines: every one stored, the log not flooded", () => {
  it("logs the first 5 bad lines of a file and one summary line; stores all with capped messages", async () => {
    const good = pages()[0]!;
    const bad = Array.from({ length: 40 }, (_, i) => `{"broken": ${"x".repeat(2000)} ${i}`);
    const file = join(dir, "many-bad.jsonl");
    writeFileSync(file, [good, ...bad].join("\n") + "\n");
    const { logger, logs } = capturingLogger("info");
    const r = await store.ingestFile(file, { logger });
    expect(r).toMatchObject({ status: "partial", pages: 1, errors: 40 });
    const skipped = logs.filter((l) => l.msg?.startsWith("tidy: line skipped"));
    expect(skipped.map((l) => l.lineNo)).toEqual([2, 3, 4, 5, 6]);
    const summary = logs.filter((l) => l.msg?.includes("bad lines in"));
    expect(summary).toHaveLength(1);
    expect(summary[0]!.msg).toBe(`tidy: 40 bad lines in ${file}; the first 5 were logged, all are in ingest_errors`);
    const errs = await store.query<{ line_no: number; message: string }>("SELECT line_no, message FROM ingest_errors ORDER BY line_no");
    expect(errs.map((e) => e.line_no)).toEqual(Array.from({ length: 40 }, (_, i) => i + 2));
    expect(Math.max(...errs.map((e) => e.message.length))).toBeLessThanOrEqual(300);
  });
});
