import { closeSync, createReadStream, fstatSync, openSync, readSync, type Stats } from "node:fs";
import { open as openFile } from "node:fs/promises";
import { createHash } from "node:crypto";
import { createGunzip } from "node:zlib";
import type { Readable } from "node:stream";
import { isUtf8 } from "node:buffer";

/** What a line holds: an API response page, or a URL-sidecar record. */
export type LineKind = "pages" | "urls";

export interface RawLine {
  /** Archive member name; "" for a plain file. */
  entry: string;
  /** 1-based line number within the file or member. */
  lineNo: number;
  kind: LineKind;
  /** The line's text; undefined when it could not be decoded (see `problem`). */
  text: string | undefined;
  problem?: LineProblem | undefined;
  /**
   * On the first line of an archive member read whole (MEMBER_HASH_MAX): the SHA-256 and
   * size of the member's bytes as stored, which a raw file of the same bytes has too.
   */
  member?: { sha256: string; size: number } | undefined;
}

/**
 * A line as the loader reads it: its UTF-8 bytes rather than its text (see parseJsonBytes:
 * a page decoded whole is one large string). The bytes are valid until the next line is
 * asked for: reads reuse their buffer.
 */
export interface RawLineBytes extends Omit<RawLine, "text"> {
  /** The line's bytes (valid UTF-8, without a byte-order mark or `\r`); undefined when they are not UTF-8 (see `problem`). */
  bytes: Buffer | undefined;
}

/**
 * Archive members up to this size are read whole and hashed before their lines (the loader
 * skips a member whose bytes it loaded before, see archive_members); larger ones are
 * streamed, without that check. A collector's members are one API page each.
 */
export const MEMBER_HASH_MAX = 64 << 20;

/** Read buffer size: large, so a 100 kB page line arrives in one or few chunks. */
export const READ_BUFFER = 1 << 20;

export type FileKind = "pages" | "urls" | "archive";

export function fileKind(path: string): FileKind {
  const p = path.toLowerCase();
  if (p.endsWith(".tar.gz") || p.endsWith(".tgz")) return "archive";
  if (/\.urls\.jsonl(\.gz)?$/.test(p)) return "urls";
  return "pages";
}

/** A line that could not be read as text: not UTF-8 (with where), or the whole stream is UTF-16. */
export interface LineProblem {
  code: "UJR_TIDY_BAD_UTF8" | "UJR_TIDY_UTF16";
  message: string;
}

/** Offset of the first byte of `b` that does not belong to a valid UTF-8 sequence (b is known to be invalid). */
export function firstInvalidUtf8(b: Uint8Array): number {
  let i = 0;
  while (i < b.length) {
    const c = b[i]!;
    let n = 0;
    let min = 0;
    if (c < 0x80) {
      i++;
      continue;
    } else if (c >= 0xc2 && c <= 0xdf) (n = 1), (min = 0x80);
    else if (c >= 0xe0 && c <= 0xef) (n = 2), (min = 0x800);
    else if (c >= 0xf0 && c <= 0xf4) (n = 3), (min = 0x10000);
    else return i;
    let cp = c & (0x3f >> n);
    for (let k = 1; k <= n; k++) {
      const x = b[i + k];
      if (x === undefined || (x & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (x & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += n + 1;
  }
  return b.length;
}

/** UTF-16 by its byte-order mark, or by the NUL bytes of ASCII text in UTF-16 (`{\0"\0`). */
export function looksUtf16(head: Uint8Array): "UTF-16LE" | "UTF-16BE" | undefined {
  if (head.length >= 2 && head[0] === 0xff && head[1] === 0xfe) return "UTF-16LE";
  if (head.length >= 2 && head[0] === 0xfe && head[1] === 0xff) return "UTF-16BE";
  if (head.length >= 4 && head[1] === 0 && head[3] === 0 && head[0] !== 0 && head[2] !== 0) return "UTF-16LE";
  if (head.length >= 4 && head[0] === 0 && head[2] === 0 && head[1] !== 0 && head[3] !== 0) return "UTF-16BE";
  return undefined;
}

/** ASCII whitespace as String.prototype.trim takes it: tab, line feed, vertical tab, form feed, carriage return, space. */
const ASCII_SPACE = new Uint8Array(128);
for (const c of [9, 10, 11, 12, 13, 32]) ASCII_SPACE[c] = 1;

/**
 * Whether a line is blank as `text.trim() === ""` says, without decoding a line that is not:
 * its first byte other than ASCII whitespace decides, unless it starts a character beyond
 * ASCII (Unicode has spaces of its own), which is then decoded.
 */
function blank(bytes: Buffer): boolean {
  let i = 0;
  while (i < bytes.length && bytes[i]! < 128 && ASCII_SPACE[bytes[i]!] === 1) i++;
  if (i === bytes.length) return true;
  return bytes[i]! >= 128 && bytes.toString("utf8", i).trim() === "";
}

const hex = (x: number) => `0x${x.toString(16).toUpperCase().padStart(2, "0")}`;

/**
 * Splits a byte stream into lines (without the newline; `\r\n` tolerated), skipping blank
 * lines. A line's bytes are valid until the next line is asked for. They are checked
 * strictly: a line that is not valid UTF-8 comes with a `problem` naming the first bad byte
 * (its offset in the line and in the stream) and no bytes; nothing is replaced. A UTF-8 byte-order mark at the start of a line is skipped. A stream
 * that starts as UTF-16 yields one problem line and stops.
 */
export async function* splitLines(
  stream: AsyncIterable<Buffer>,
  keepLine?: (lineNo: number) => boolean,
): AsyncGenerator<{ lineNo: number; bytes: Buffer; problem?: undefined } | { lineNo: number; bytes?: undefined; problem: LineProblem }> {
  // the unfinished line: its chunks, joined once when its end arrives (linear in its length)
  let parts: Buffer[] = [];
  let partLen = 0;
  let lineNo = 0;
  /** Stream offset of the first byte of the current line. */
  let lineStart = 0;
  let first = true;
  const emit = (line: Buffer) => {
    lineNo++;
    let end = line.length;
    if (end > 0 && line[end - 1] === 13) end--;
    const at = lineStart;
    lineStart += line.length + 1;
    if (end === 0) return undefined;
    // another reader's line (a file parsed by several threads): not decoded here
    if (keepLine !== undefined && !keepLine(lineNo)) return undefined;
    // a UTF-8 byte-order mark before the line's JSON (written by tools that add one, or
    // left by files concatenated): not part of the JSON text, and RFC 8259 lets a parser
    // ignore it; JSON.parse would reject the line
    const from = end >= 3 && line[0] === 0xef && line[1] === 0xbb && line[2] === 0xbf ? 3 : 0;
    const bytes = line.subarray(from, end);
    if (isUtf8(bytes)) return blank(bytes) ? undefined : { lineNo, bytes };
    const off = from + firstInvalidUtf8(bytes);
    return {
      lineNo,
      problem: {
        code: "UJR_TIDY_BAD_UTF8" as const,
        message: `line ${lineNo} is not valid UTF-8: byte ${hex(line[off]!)} at byte offset ${off} of the line (byte ${at + off} of the file) does not start or continue a UTF-8 character; the line was not loaded (nothing is replaced). Convert the file to UTF-8 (e.g. iconv -f LATIN1 -t UTF-8) and load it under a new name`,
      },
    };
  };
  for await (const chunk of stream) {
    if (first) {
      first = false;
      const enc = looksUtf16(chunk);
      if (enc !== undefined) {
        if (keepLine !== undefined && !keepLine(1)) return;
        yield {
          lineNo: 1,
          problem: {
            code: "UJR_TIDY_UTF16",
            message: `the file is ${enc} (${chunk[0] === 0xff || chunk[0] === 0xfe ? "byte-order mark" : "NUL bytes between ASCII characters"}), not UTF-8: nothing of it was loaded. Convert it (e.g. iconv -f UTF-16 -t UTF-8) and load it under a new name`,
          },
        };
        return;
      }
    }
    let start = 0;
    let nl = chunk.indexOf(10);
    while (nl !== -1) {
      let line: Buffer;
      if (partLen > 0) {
        parts.push(chunk.subarray(start, nl));
        line = Buffer.concat(parts, partLen + nl - start);
        parts = [];
        partLen = 0;
      } else line = chunk.subarray(start, nl);
      const out = emit(line);
      if (out !== undefined) yield out;
      start = nl + 1;
      nl = chunk.indexOf(10, start);
    }
    if (start < chunk.length) {
      // copied: the stream may reuse its buffers
      parts.push(Buffer.from(chunk.subarray(start)));
      partLen += chunk.length - start;
    }
  }
  if (partLen > 0) {
    const out = emit(Buffer.concat(parts, partLen));
    if (out !== undefined) yield out;
  }
}

/**
 * True for a file whose lines several threads can share by line number: a plain
 * (uncompressed) JSONL file, its line numbers the file's own (an archive numbers its
 * members' lines apart; a compressed file would be decompressed by each).
 */
export function canStripe(path: string): boolean {
  return fileKind(path) !== "archive" && !isGzipName(path) && !startsGzip(path);
}

function isGzipName(path: string): boolean {
  return path.toLowerCase().endsWith(".gz") || path.toLowerCase().endsWith(".tgz");
}

/** The gzip signature (1F 8B) at the start of `b`. */
const hasGzipSignature = (b: Uint8Array): boolean => b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b;

/**
 * The first `n` bytes of a file (fewer when it is shorter), read with one blocking call (a
 * few microseconds: the file is in the page cache or one seek away); undefined when it
 * cannot be read (the read that follows, if any, reports why).
 */
export function readHead(path: string, n: number): Buffer | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(path, "r");
    const head = Buffer.alloc(n);
    return head.subarray(0, readSync(fd, head, 0, n, 0));
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * Whether a plain (non-archive) file is gzip-compressed, by its first two bytes whatever its
 * name: a .jsonl that holds gzip, or a .jsonl.gz that holds text, is read as what it is
 * (by its name it would be an error that names the wrong cause: "not valid UTF-8", or
 * "incorrect header check"). A file that cannot be read is judged by its name.
 */
function startsGzip(path: string): boolean {
  const head = readHead(path, 2);
  return head === undefined ? isGzipName(path) : hasGzipSignature(head);
}

/**
 * Read buffers, reused: a read stream allocates a fresh buffer for every chunk, and the
 * pages of each cost a fault and zeroing (hashing 163 MB through a stream: 0.5 s of CPU,
 * 19,000 page faults; into a reused buffer: 0.16 s, 3,000). One byte over READ_BUFFER, so
 * that readSmallFile sees a file that grew past it.
 */
const spare: Buffer[] = [];
export function takeReadBuffer(): Buffer {
  return spare.pop() ?? Buffer.allocUnsafeSlow(READ_BUFFER + 1);
}
export function giveReadBuffer(b: Buffer): void {
  if (spare.length < 4) spare.push(b);
}

/**
 * Plain files are read with blocking calls in a thread that does nothing but read and
 * parse them (the parse worker, see setBlockingReads): there an asynchronous read is a
 * round trip through libuv's thread pool, whose thread waits for a core while the parse and
 * loading threads keep both busy (measured: the parse thread waited 250–290 ms on reads
 * in a load of 279 files of 0.6 MB, 13% of its time). Other threads read asynchronously:
 * the loading thread's event loop must not stop.
 */
let blocking = false;

/** Whether this thread reads plain files with blocking calls from now on (modules are per thread: other threads are not affected). */
export function setBlockingReads(on: boolean): void {
  blocking = on;
}

/** A file open for reading, with this thread's kind of calls (see setBlockingReads). */
interface ReadableFile {
  stat(): Stats | Promise<Stats>;
  /** Reads into `buf` at `offset` up to `length` bytes from the file's current position; the bytes read. */
  read(buf: Buffer, offset: number, length: number): number | Promise<number>;
  close(): void | Promise<void>;
}

async function openForReading(path: string): Promise<ReadableFile> {
  if (blocking) {
    const fd = openSync(path, "r");
    return { stat: () => fstatSync(fd), read: (buf, offset, length) => readSync(fd, buf, offset, length, null), close: () => closeSync(fd) };
  }
  const fh = await openFile(path, "r");
  return { stat: () => fh.stat(), read: async (buf, offset, length) => (await fh.read(buf, offset, length, null)).bytesRead, close: () => fh.close() };
}

/**
 * A plain file's bytes in chunks read into one reused buffer: a chunk is valid until the
 * next is asked for (splitLines copies what it keeps of one).
 */
async function* readChunks(path: string, signal?: AbortSignal): AsyncGenerator<Buffer> {
  const file = await openForReading(path);
  const buf = takeReadBuffer();
  try {
    for (;;) {
      signal?.throwIfAborted();
      const bytesRead = await file.read(buf, 0, READ_BUFFER);
      if (bytesRead === 0) return;
      yield buf.subarray(0, bytesRead);
    }
  } finally {
    giveReadBuffer(buf);
    await file.close();
  }
}

function gunzipped(path: string, signal?: AbortSignal): Readable {
  const src = createReadStream(path, { highWaterMark: READ_BUFFER, signal });
  const gz = createGunzip({ chunkSize: READ_BUFFER });
  src.on("error", (e) => gz.destroy(e));
  return src.pipe(gz);
}

/** Bytes read already (readSmallFile), decompressed as a stream. */
function gunzippedBytes(bytes: Buffer): Readable {
  const gz = createGunzip({ chunkSize: READ_BUFFER });
  gz.end(bytes);
  return gz;
}

/**
 * The lines of a raw file as an async iterator: `.jsonl`, `.jsonl.gz` (or `.ndjson`,
 * `.ndjson.gz`; gzip or not by the file's first bytes, see startsGzip), `.urls.jsonl`
 * sidecars, and `.tar.gz` archives (their `.jsonl`/`.jsonl.gz`
 * (or `.ndjson`) members, sidecars
 * included; other members such as the manifest are skipped). Streams: memory does not
 * grow with file size. A read or decompression error is thrown from the iterator after
 * the lines before it were yielded.
 *
 * `keepLine`: only the lines whose number it accepts are decoded and yielded (plain files
 * only, see canStripe: a file parsed by several threads, each taking its share).
 */
export async function* readRaw(path: string, signal?: AbortSignal, bytes?: Buffer, keepLine?: (lineNo: number) => boolean): AsyncGenerator<RawLine> {
  for await (const { bytes: lineBytes, ...line } of readRawBytes(path, signal, bytes, keepLine)) yield { ...line, text: lineBytes?.toString("utf8") };
}

/** readRaw's lines as their bytes (see RawLineBytes: each valid until the next is asked for), which the loader parses. */
export async function* readRawBytes(path: string, signal?: AbortSignal, bytes?: Buffer, keepLine?: (lineNo: number) => boolean): AsyncGenerator<RawLineBytes> {
  const kind = fileKind(path);
  if (keepLine !== undefined && !canStripe(path)) throw new Error(`readRaw: keepLine on ${path}, which is not a plain file`);
  if (kind !== "archive") {
    // compressed or not by its bytes, whatever its name (see startsGzip)
    const gz = bytes !== undefined ? hasGzipSignature(bytes) : startsGzip(path);
    const stream = bytes !== undefined ? (gz ? gunzippedBytes(bytes) : oneChunk(bytes)) : gz ? gunzipped(path, signal) : readChunks(path, signal);
    for await (const l of splitLines(stream, keepLine)) yield { entry: "", lineNo: l.lineNo, kind, bytes: l.bytes, problem: l.problem };
    return;
  }
  // loaded on first use: plain files (and the parse worker's start) do not pay for it
  const { default: tar } = await import("tar-stream");
  const extract = tar.extract();
  const gz = gunzipped(path, signal);
  gz.on("error", (e) => extract.destroy(e));
  gz.pipe(extract);
  const occurrences = new Map<string, number>();
  for await (const entry of extract) {
    const lower = entry.header.name.toLowerCase();
    const base = lower.slice(lower.lastIndexOf("/") + 1);
    const hidden = base.startsWith(".");
    if (entry.header.type !== "file" || hidden || !/\.(jsonl|ndjson)(\.gz)?$/.test(lower)) {
      entry.resume();
      continue;
    }
    const name = memberLabel(entry.header.name, occurrences);
    const ek: LineKind = /\.urls\.jsonl(\.gz)?$/.test(lower) ? "urls" : "pages";
    if ((entry.header.size ?? Infinity) > MEMBER_HASH_MAX) {
      const src = (lower.endsWith(".gz") ? entry.pipe(createGunzip()) : entry) as AsyncIterable<Buffer>;
      for await (const l of splitLines(src)) yield { entry: name, lineNo: l.lineNo, kind: ek, bytes: l.bytes, problem: l.problem };
      continue;
    }
    const chunks: Buffer[] = [];
    for await (const c of entry as AsyncIterable<Buffer>) chunks.push(c);
    const bytes = Buffer.concat(chunks);
    let member: RawLine["member"] = hashBytes(bytes);
    for await (const l of splitLines(hasGzipSignature(bytes) ? gunzippedBytes(bytes) : oneChunk(bytes))) {
      yield { entry: name, lineNo: l.lineNo, kind: ek, bytes: l.bytes, problem: l.problem, member };
      member = undefined;
    }
  }
}

/**
 * A member's name as its archive_members and pages rows record it. An archive may hold a
 * name more than once (a file appended again with `tar -r`, an archive made over a folder
 * twice): each copy is loaded or skipped on its own bytes, so the later ones are told apart
 * as GNU tar counts them (`--occurrence`): "raw/a.jsonl (occurrence 2)".
 */
function memberLabel(name: string, occurrences: Map<string, number>): string {
  const n = (occurrences.get(name) ?? 0) + 1;
  occurrences.set(name, n);
  return n === 1 ? name : `${name} (occurrence ${n})`;
}

async function* oneChunk(b: Buffer): AsyncGenerator<Buffer> {
  yield b;
}

/**
 * The bytes of a file of at most READ_BUFFER bytes, read at once (else undefined): a read
 * stream reads a small file into a READ_BUFFER-sized buffer and copies it to one of its
 * size, for each reader (measured: ~0.5 s of the parse worker's time on 279 files of 0.55
 * MB); read once, the bytes are hashed and split into lines (readRaw's `bytes`).
 * The bytes are read into `into` (a takeReadBuffer buffer) and the result is a view of it,
 * valid while the caller keeps the buffer.
 */
export async function readSmallFile(path: string, signal: AbortSignal | undefined, into: Buffer): Promise<Buffer | undefined> {
  const file = await openForReading(path);
  try {
    const st = await file.stat();
    if (!st.isFile() || st.size > READ_BUFFER) return undefined;
    let n = 0;
    while (n < into.length) {
      signal?.throwIfAborted();
      const bytesRead = await file.read(into, n, into.length - n);
      if (bytesRead === 0) break;
      n += bytesRead;
    }
    // grown meanwhile (a file still being written): streamed like a big one
    if (n > READ_BUFFER) return undefined;
    return into.subarray(0, n);
  } finally {
    await file.close();
  }
}

/** SHA-256 (hex) and size of bytes read at once. */
export function hashBytes(b: Buffer): { sha256: string; size: number } {
  return { sha256: createHash("sha256").update(b).digest("hex"), size: b.length };
}

/** SHA-256 (hex) and size of a file, read into a reused buffer (a small file at once). */
export async function hashFile(path: string, signal?: AbortSignal): Promise<{ sha256: string; size: number }> {
  const buf = takeReadBuffer();
  try {
    const small = await readSmallFile(path, signal, buf);
    if (small !== undefined) return hashBytes(small);
    const h = createHash("sha256");
    let size = 0;
    for await (const chunk of readChunks(path, signal)) {
      h.update(chunk);
      size += chunk.length;
    }
    return { sha256: h.digest("hex"), size };
  } finally {
    giveReadBuffer(buf);
  }
}
