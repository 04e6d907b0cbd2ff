/** A position in a CopyText to cut back to (a file's start, for its rollback). */
export interface CopyMark {
  readonly chunks: number;
  /** Bytes of the open chunk. */
  readonly length: number;
  readonly rows: number;
  readonly chars: number;
}

export const COPY_START: CopyMark = { chunks: 0, length: 0, rows: 0, chars: 0 };

/**
 * Text of one COPY is written into buffers of this many bytes: small enough for the
 * allocator to hand the memory of sent chunks out again (a larger one is a mapping of its
 * own, whose every page faults in fresh).
 */
const CHUNK_BYTES = 1 << 16;

const COPY_SPECIAL = /[\\\n\r\t]/;
const COPY_ESCAPES: Record<string, string> = { "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t" };

/** A value in COPY's text format (`\N` for NULL; backslash, newline, CR and tab escaped). */
export function copyValue(v: string | number | null): string {
  if (v === null) return "\\N";
  if (typeof v === "number") return String(v);
  return COPY_SPECIAL.test(v) ? v.replace(/[\\\n\r\t]/g, (ch) => COPY_ESCAPES[ch]!) : v;
}

/** One row as a line of COPY text, with `extra` (a staging column) after its values. */
export function copyLine(row: readonly (string | number | null)[], extra?: number): string {
  let line = "";
  for (let i = 0; i < row.length; i++) line += (i === 0 ? "" : "\t") + copyValue(row[i]!);
  return extra === undefined ? `${line}\n` : `${line}\t${extra}\n`;
}

/**
 * Rows waiting to be copied to one table, kept as COPY text rather than as row arrays: a
 * row is formatted once, as it arrives, and its values die young; its line is written as
 * UTF-8 straight into a buffer outside the JS heap. Buffered row arrays outlived the young
 * generation and were promoted, so a loader's heap grew by the garbage of every flush;
 * chunks kept as strings were worse (a string built by `+=` keeps every piece it was built
 * of), and a chunk built by `+=` and then encoded was first copied into one flat string, a
 * two-byte one when a single character of it needed that (~0.7 s of each loader's thread
 * on the bench's big files).
 */
export class CopyText {
  private chunks: Buffer[] = [];
  /** The open chunk, written up to `used`; never written again once handed out whole. */
  private buf: Buffer | undefined;
  private used = 0;
  rows = 0;
  chars = 0;

  constructor(private readonly chunkBytes = CHUNK_BYTES) {}

  append(line: string): void {
    // UTF-8 takes at most 3 bytes per UTF-16 code unit
    const most = line.length * 3;
    if (this.buf === undefined || this.used + most > this.buf.length) {
      this.close();
      this.buf = Buffer.allocUnsafe(Math.max(this.chunkBytes, most));
    }
    this.used += this.buf.write(line, this.used, "utf8");
    this.rows++;
    this.chars += line.length;
  }

  /** Closes the open chunk: what it holds becomes the last chunk. */
  private close(): void {
    const b = this.buf;
    // a buffer made for one long line (3 bytes a character) is kept only as big as its text
    if (b !== undefined && this.used > 0) {
      const text = b.subarray(0, this.used);
      this.chunks.push(b.length > this.chunkBytes && this.used < b.length / 2 ? Buffer.from(text) : text);
    }
    this.buf = undefined;
    this.used = 0;
  }

  // A mark is taken at every file's start, for every table; before() and cutTo() are rare.
  mark(): CopyMark {
    return { chunks: this.chunks.length, length: this.used, rows: this.rows, chars: this.chars };
  }

  /** The open chunk's bytes at `m` (it may have been closed since), copied. */
  private openAt(m: CopyMark): Buffer {
    const closed = this.chunks[m.chunks];
    return Buffer.from((closed ?? this.buf!).subarray(0, m.length));
  }

  /** The text appended before `m`. */
  before(m: CopyMark): Buffer[] {
    const out = this.chunks.slice(0, m.chunks);
    if (m.length > 0) out.push(this.openAt(m));
    return out;
  }

  /** Drops what was appended after `m`. */
  cutTo(m: CopyMark): void {
    if (m.length > 0 && m.chunks === this.chunks.length && this.buf !== undefined) {
      // the chunk open at `m` is open still, and no part of it was handed out but copies
      this.used = m.length;
    } else {
      const open = m.length > 0 ? this.openAt(m) : undefined;
      this.chunks.length = m.chunks;
      this.buf = undefined;
      this.used = 0;
      if (open !== undefined) {
        this.buf = Buffer.allocUnsafe(Math.max(this.chunkBytes, open.length));
        this.used = open.copy(this.buf);
      }
    }
    this.rows = m.rows;
    this.chars = m.chars;
  }

  /** Puts `text` (rows taken earlier) back in front of this text. */
  prepend(text: CopyText): void {
    const mine = this.take();
    this.chunks = [...text.all(), ...mine.text];
    this.rows = text.rows + mine.rows;
    this.chars = text.chars + mine.chars;
  }

  /** Appends text taken from another CopyText (chunks of whole rows). */
  appendChunks(chunks: readonly Buffer[], rows: number, chars: number): void {
    this.close();
    for (const c of chunks) if (c.length > 0) this.chunks.push(c);
    this.rows += rows;
    this.chars += chars;
  }

  /** All the text, in order, as UTF-8 (the open chunk's bytes copied). */
  all(): Buffer[] {
    return this.used > 0 ? [...this.chunks, Buffer.from(this.buf!.subarray(0, this.used))] : [...this.chunks];
  }

  /** All the text, in order; this CopyText is empty after. */
  take(): { text: Buffer[]; rows: number; chars: number } {
    this.close();
    const out = { text: this.chunks, rows: this.rows, chars: this.chars };
    this.chunks = [];
    this.rows = 0;
    this.chars = 0;
    return out;
  }
}
