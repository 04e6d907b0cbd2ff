import type { TidyErrorCode } from "./errors.js";
import { errorInfo } from "./errors.js";
import { parsePage, parseSidecarLine, type ParsedPage, type Row } from "./parse-page.js";
import { parseJsonBytes } from "./parse-json-bytes.js";
import { readRawBytes } from "./read-raw.js";

/** What the load loop receives for each line of a raw file; `index`: 0-based position in the file's events. */
export type ParseEvent =
  /** An archive member starts (its lines follow): its bytes' hash and size (see RawLine.member). */
  | { t: "member"; index: number; entry: string; lineNo: number; sha256: string; size: number }
  | { t: "page"; index: number; entry: string; lineNo: number; parsed: ParsedPage }
  /** A line of a member passed over unparsed (see parseEvents' `skipMember`): it keeps its place in the numbering. */
  | { t: "skipped"; index: number; entry: string; lineNo: number }
  | { t: "sidecar"; index: number; entry: string; lineNo: number; row: Row }
  | { t: "error"; index: number; entry: string; lineNo: number; code: TidyErrorCode; message: string };

/**
 * The message of a line that is not JSON; a line that opens a JSON document and no more (a
 * document written over several lines, pretty-printed) says so, with the fix.
 */
function badJsonMessage(text: string, e: Error): string {
  const t = text.trim();
  if (t === "{" || t === "[") {
    return `invalid JSON: the line is \`${t}\` alone: the file looks like one JSON document written over several lines (pretty-printed), not JSON Lines (one page a line); write it one page a line (\`jq -c ${t === "[" ? "'.[]'" : "."} in.json > out.jsonl\`) and load that`;
  }
  return `invalid JSON: ${e.message}`;
}

/**
 * Reads and parses a raw file into events, in this thread. Bad lines become `error`
 * events; a read/decompression failure becomes a final UJR_TIDY_READ_FAILED event.
 *
 * `skipMember(entry, sha256)`: asked after an archive member's `member` event is taken;
 * true when its bytes were loaded before, and its lines then come as `skipped` events,
 * unparsed (asked lazily, so that a loader pulling the events answers from its own check
 * of that event, and a parse thread from its look-up).
 * `bytes`: the file's bytes when they were read already (readSmallFile).
 * `keepLine`: only lines of these numbers are read (a plain file's share of one of several
 * parse threads); `index` and page numbers then count this share's lines only (the loader
 * renumbers).
 */
export async function* parseEvents(
  path: string,
  fileId: number,
  signal?: AbortSignal,
  skipMember?: (entry: string, sha256: string) => boolean,
  bytes?: Buffer,
  keepLine?: (lineNo: number) => boolean,
): AsyncGenerator<ParseEvent> {
  let pages = 0;
  let index = 0;
  let lastEntry = "";
  let lastLine = 0;
  /** The member whose lines pass unparsed. */
  let passing: string | undefined;
  try {
    for await (const line of readRawBytes(path, signal, bytes, keepLine)) {
      lastEntry = line.entry;
      lastLine = line.lineNo;
      if (line.member !== undefined) {
        yield { t: "member", index: index++, entry: line.entry, lineNo: 0, sha256: line.member.sha256, size: line.member.size };
        passing = skipMember?.(line.entry, line.member.sha256) === true ? line.entry : undefined;
      }
      const i = index++;
      if (passing !== undefined && line.entry === passing) {
        yield { t: "skipped", index: i, entry: line.entry, lineNo: line.lineNo };
        continue;
      }
      if (line.bytes === undefined) {
        const pr = line.problem!;
        yield { t: "error", index: i, entry: line.entry, lineNo: line.lineNo, code: pr.code, message: pr.message };
        continue;
      }
      let value: unknown;
      try {
        value = parseJsonBytes(line.bytes);
      } catch (e) {
        yield { t: "error", index: i, entry: line.entry, lineNo: line.lineNo, code: "UJR_TIDY_BAD_JSON", message: badJsonMessage(line.bytes.toString("utf8"), e as Error) };
        continue;
      }
      try {
        if (line.kind === "urls") {
          yield { t: "sidecar", index: i, entry: line.entry, lineNo: line.lineNo, row: parseSidecarLine(value, fileId) };
        } else {
          const parsed = parsePage(value, { fileId, pageNo: pages + 1, entry: line.entry, lineNo: line.lineNo });
          pages++;
          yield { t: "page", index: i, entry: line.entry, lineNo: line.lineNo, parsed };
        }
      } catch (e) {
        if ((e as { code?: string }).code !== "UJR_TIDY_NOT_A_PAGE") throw e;
        yield { t: "error", index: i, entry: line.entry, lineNo: line.lineNo, code: "UJR_TIDY_NOT_A_PAGE", message: (e as Error).message };
      }
    }
  } catch (e) {
    if (signal?.aborted || (e as Error).name === "AbortError") throw e;
    yield { t: "error", index, entry: lastEntry, lineNo: lastLine + 1, code: "UJR_TIDY_READ_FAILED", message: errorInfo(e).message };
  }
}
