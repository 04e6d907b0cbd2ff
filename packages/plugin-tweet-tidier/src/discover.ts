import { statSync } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { join, resolve, sep } from "node:path";
import { TIDY_ERRORS } from "./errors.js";
import { readHead } from "./read-raw.js";

/** A raw file found by discovery, with what the stability check compares. */
export interface FoundFile {
  path: string;
  size: number;
  mtimeMs: number;
}

const RAW = /\.(jsonl|ndjson)(\.gz)?$|\.(tar\.gz|tgz)$/i;
/**
 * Names of what is likely raw data the tidier does not read from a folder: JSON not named
 * as JSON Lines (twarc2 writes JSON Lines whatever the name it is given; a plain .json file
 * counts only when it starts as a page, see startsAsPage), JSON Lines compressed otherwise
 * than with gzip, archives other than .tar.gz.
 */
const LOOKALIKE = /\.json(\.gz)?$|\.(jsonl|ndjson|json)\.(bz2|xz|zst|zstd|lz4|zip|7z)$|\.(tar\.(bz2|xz|zst)|tbz2?|txz|zip|7z)$/i;
const TEMP = /(\.tmp|\.partial|\.part|\.temp|\.swp|~)$/i;

/** Whether a file's name is hidden or temporary: never read, never reported. */
function ignoredName(name: string): boolean {
  const base = name.slice(name.lastIndexOf("/") + 1);
  return base.startsWith(".") || base.startsWith("~") || TEMP.test(base) || /\.(tmp|partial)\./i.test(base);
}

/** True for names the tidier reads: .jsonl, .jsonl.gz, .ndjson, .ndjson.gz, .tar.gz/.tgz, and not hidden or temporary. */
export function isRawName(name: string): boolean {
  return !ignoredName(name) && RAW.test(name);
}

/** True for a name of likely raw data that a folder or glob input does not read (see LOOKALIKE). */
export function isUnreadRawLookalike(name: string): boolean {
  return !ignoredName(name) && !RAW.test(name) && LOOKALIKE.test(name);
}

/** The start of an API response page (twarc2's keys, in any order; pretty-printed or not, after an optional byte-order mark). */
const PAGE_START = /^(\uFEFF)?\s*\{\s*"(data|includes|meta|errors|__twarc)"\s*:/;

/**
 * A plain .json file is reported only when it starts as an API page does: a folder also
 * holds JSON of other kinds (a collector's state files sit beside its raw/ folder). One
 * small read; compressed names are reported by name alone.
 */
function startsAsPage(path: string): boolean {
  if (!/\.json$/i.test(path)) return true;
  const head = readHead(path, 256);
  return head !== undefined && PAGE_START.test(head.toString("utf8"));
}

/** What a check of the inputs found: the raw files, and the likely raw data passed over for its name. */
export interface InputListing {
  files: FoundFile[];
  /** Files under a folder or matching a glob whose names the tidier does not read (see isUnreadRawLookalike), sorted. */
  notRead: string[];
  /** Inputs naming a file or folder (not a glob) that does not exist, as given. */
  missing: string[];
}

/**
 * The warning for files passed over for their names (code UJR_TIDY_NAME_NOT_READ): how
 * many, the first few, and what to do.
 */
export function notReadMessage(notRead: readonly string[]): string {
  const shown = notRead.slice(0, 5).join(", ");
  const more = notRead.length > 5 ? `, and ${notRead.length - 5} more` : "";
  return `${notRead.length} file(s) not read for their names: ${shown}${more}: ${TIDY_ERRORS.UJR_TIDY_NAME_NOT_READ}`;
}

/** Converts a glob (`*`, `**`, `?`, `{a,b}`) to a RegExp over `/`-separated paths. */
export function globToRegExp(glob: string): RegExp {
  let re = "";
  for (let i = 0; i < glob.length; i++) {
    const ch = glob[i]!;
    if (ch === "*") {
      if (glob[i + 1] === "*") {
        i++;
        if (glob[i + 1] === "/") {
          i++;
          re += "(?:.*/)?";
        } else re += ".*";
      } else re += "[^/]*";
    } else if (ch === "?") re += "[^/]";
    else if (ch === "{") {
      const end = glob.indexOf("}", i);
      if (end === -1) re += "\\{";
      else {
        re += `(?:${glob
          .slice(i + 1, end)
          .split(",")
          .map((x) => x.replace(/[.+^$()|[\]\\]/g, "\\$&").replace(/\*/g, "[^/]*"))
          .join("|")})`;
        i = end;
      }
    } else re += ch.replace(/[.+^$()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}

const hasGlob = (s: string) => /[*?{]/.test(s);

/** Files stat'ed between two turns of the event loop: a few milliseconds of blocking calls. */
const STATS_PER_TURN = 256;
let statsThisTurn = 0;

async function walk(dir: string, out: FoundFile[], notRead: string[], recursive: boolean, filter?: RegExp): Promise<void> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return; // a folder that does not exist (yet) is simply empty
  }
  for (const e of entries) {
    if (e.name.startsWith(".")) continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      if (recursive) await walk(p, out, notRead, recursive, filter);
    } else if (e.isFile() && !isRawName(e.name)) {
      if (isUnreadRawLookalike(e.name) && (!filter || filter.test(p.split(sep).join("/"))) && startsAsPage(p)) notRead.push(p);
    } else if (e.isFile()) {
      if (filter && !filter.test(p.split(sep).join("/"))) continue;
      // blocking stats, the event loop let go every STATS_PER_TURN: one awaited round trip
      // through libuv's pool per file took 39 ms for 279 files (the check ahead of every load)
      if (++statsThisTurn % STATS_PER_TURN === 0) await new Promise<void>((r) => setImmediate(r));
      try {
        const st = statSync(p);
        out.push({ path: p, size: st.size, mtimeMs: st.mtimeMs });
      } catch {
        /* vanished */
      }
    }
  }
}

/**
 * Lists raw files under inputs: folders (recursively), files, or globs (relative to `baseDir`).
 * Sorted by path, deduplicated.
 */
export async function listRawFiles(inputs: string[], baseDir = process.cwd()): Promise<FoundFile[]> {
  return (await listInputs(inputs, baseDir)).files;
}

/**
 * listRawFiles, with the files a folder or glob holds that look like raw data under a name
 * the tidier does not read (a file named in the inputs is read whatever its name).
 */
export async function listInputs(inputs: string[], baseDir = process.cwd()): Promise<InputListing> {
  const out: FoundFile[] = [];
  const notRead: string[] = [];
  const missing: string[] = [];
  for (const input of inputs) {
    const abs = resolve(baseDir, input);
    if (hasGlob(input)) {
      const posix = abs.split(sep).join("/");
      const firstGlob = posix.search(/[*?{]/);
      const root = posix.slice(0, posix.lastIndexOf("/", firstGlob) + 1) || "/";
      await walk(root, out, notRead, true, globToRegExp(posix));
      continue;
    }
    let st;
    try {
      st = await stat(abs);
    } catch (e) {
      if ((e as { code?: unknown }).code === "ENOENT") missing.push(input);
      continue;
    }
    if (st.isDirectory()) await walk(abs, out, notRead, true);
    else if (st.isFile()) out.push({ path: abs, size: st.size, mtimeMs: st.mtimeMs });
  }
  const seen = new Set<string>();
  const files = out
    .filter((f) => (seen.has(f.path) ? false : (seen.add(f.path), true)))
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  // a file also named in the inputs (or matched by another glob) is read
  return { files, notRead: [...new Set(notRead)].filter((p) => !seen.has(p)).sort(), missing };
}

/**
 * Stability check: a file is ready when its size and mtime are the same as at the
 * previous check (files still being written are never read). Keeps its own state.
 */
export class StableFileTracker {
  private readonly last = new Map<string, { size: number; mtimeMs: number }>();

  /** Returns the files unchanged since the previous call (the first call returns none, unless `trustFirst`). */
  stable(files: FoundFile[], trustFirst = false): FoundFile[] {
    const ready: FoundFile[] = [];
    const now = new Map<string, { size: number; mtimeMs: number }>();
    for (const f of files) {
      const prev = this.last.get(f.path);
      now.set(f.path, { size: f.size, mtimeMs: f.mtimeMs });
      if ((prev && prev.size === f.size && prev.mtimeMs === f.mtimeMs) || (!prev && trustFirst)) ready.push(f);
    }
    this.last.clear();
    for (const [k, v] of now) this.last.set(k, v);
    return ready;
  }
}
