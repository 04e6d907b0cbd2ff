import { createReadStream } from "node:fs";
import { createHash } from "node:crypto";
import { createGunzip } from "node:zlib";
import type { Readable } from "node:stream";

/** What a line holds: an API response page, or a URL-sidecar record. */
export type LineKind = "pages" | "urls";

export interface RawLine {
  /** Archive member name; "" for a plain file. */
  entry: string;
  /** 1-based line number within the file or member. */
  lineNo: number;
  kind: LineKind;
  text: string;
}

/** Read buffer size: large, so a 100 kB page line arrives in one or few chunks. */
export const READ_BUFFER = 1 << 20;

export type FileKind = "pages" | "urls" | "archive";

export function fileKind(path: string): FileKind {
  const p = path.toLowerCase();
  if (p.endsWith(".tar.gz") || p.endsWith(".tgz")) return "archive";
  if (/\.urls\.jsonl(\.gz)?$/.test(p)) return "urls";
  return "pages";
}

/** Splits a byte stream into lines (without the newline; `\r\n` tolerated), skipping blank lines. */
export async function* splitLines(stream: AsyncIterable<Buffer>): AsyncGenerator<{ lineNo: number; text: string }> {
  let carry: Buffer | undefined;
  let lineNo = 0;
  for await (const chunk of stream) {
    let buf = chunk;
    let start = 0;
    let nl = buf.indexOf(10);
    if (carry !== undefined && nl !== -1) {
      buf = Buffer.concat([carry, buf]);
      nl += carry.length;
      carry = undefined;
    }
    while (nl !== -1) {
      lineNo++;
      let end = nl;
      if (end > start && buf[end - 1] === 13) end--;
      if (end > start) yield { lineNo, text: buf.toString("utf8", start, end) };
      start = nl + 1;
      nl = buf.indexOf(10, start);
    }
    if (start < buf.length) {
      const rest = buf.subarray(start);
      carry = carry === undefined ? Buffer.from(rest) : Buffer.concat([carry, rest]);
    }
  }
  if (carry !== undefined && carry.length > 0) {
    lineNo++;
    let end = carry.length;
    if (carry[end - 1] === 13) end--;
    const text = carry.toString("utf8", 0, end);
    if (text.trim() !== "") yield { lineNo, text };
  }
}

function isGzipName(path: string): boolean {
  return path.toLowerCase().endsWith(".gz") || path.toLowerCase().endsWith(".tgz");
}

function open(path: string, signal?: AbortSignal): Readable {
  return createReadStream(path, { highWaterMark: READ_BUFFER, signal });
}

function gunzipped(path: string, signal?: AbortSignal): Readable {
  const src = createReadStream(path, { highWaterMark: READ_BUFFER, signal });
  const gz = createGunzip({ chunkSize: READ_BUFFER });
  src.on("error", (e) => gz.destroy(e));
  return src.pipe(gz);
}

/**
 * The lines of a raw file as an async iterator: `.jsonl`, `.jsonl.gz`, `.urls.jsonl`
 * sidecars, and `.tar.gz` archives (their `.jsonl`/`.jsonl.gz` members, sidecars
 * included; other members such as the manifest are skipped). Streams: memory does not
 * grow with file size. A read or decompression error is thrown from the iterator after
 * the lines before it were yielded.
 */
export async function* readRaw(path: string, signal?: AbortSignal): AsyncGenerator<RawLine> {
  const kind = fileKind(path);
  if (kind !== "archive") {
    const stream = isGzipName(path) ? gunzipped(path, signal) : open(path, signal);
    for await (const l of splitLines(stream)) yield { entry: "", lineNo: l.lineNo, kind, text: l.text };
    return;
  }
  // loaded on first use: plain files (and the parse worker's start) do not pay for it
  const { default: tar } = await import("tar-stream");
  const extract = tar.extract();
  const gz = gunzipped(path, signal);
  gz.on("error", (e) => extract.destroy(e));
  gz.pipe(extract);
  for await (const entry of extract) {
    const name = entry.header.name;
    const lower = name.toLowerCase();
    const base = lower.slice(lower.lastIndexOf("/") + 1);
    const hidden = base.startsWith(".");
    if (entry.header.type !== "file" || hidden || !/\.jsonl(\.gz)?$/.test(lower)) {
      entry.resume();
      continue;
    }
    const ek: LineKind = /\.urls\.jsonl(\.gz)?$/.test(lower) ? "urls" : "pages";
    const src = (lower.endsWith(".gz") ? entry.pipe(createGunzip()) : entry) as AsyncIterable<Buffer>;
    for await (const l of splitLines(src)) yield { entry: name, lineNo: l.lineNo, kind: ek, text: l.text };
  }
}

/** SHA-256 (hex) and size of a file, streaming. */
export async function hashFile(path: string, signal?: AbortSignal): Promise<{ sha256: string; size: number }> {
  const h = createHash("sha256");
  let size = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: READ_BUFFER, signal })) {
    h.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { sha256: h.digest("hex"), size };
}
