import { readlinkSync, realpathSync, statSync } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { join, resolve, sep } from "node:path";
import { TIDY_ERRORS, codeOf } from "./errors.js";
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

/** A folder the check could not list (or whose files it could not stat): nothing under it was found. */
export interface UnreadableFolder {
  /** The folder (absolute), or the input's own path when it is the input that cannot be read. */
  path: string;
  /** The input (as given) it was found under. */
  input: string;
  /** True when it is the input itself (or a glob's folder), false for a folder found inside one. */
  top: boolean;
  /** A symbolic link named as a raw file that leads nowhere, rather than a folder. */
  link?: true | undefined;
  /** The OS error's code (EACCES, EPERM, EIO, ...). */
  code: string;
  /** The OS error's message (it names the call and the path). */
  reason: string;
}

/** What a check of the inputs found: the raw files, and the likely raw data passed over for its name. */
export interface InputListing {
  files: FoundFile[];
  /** Files under a folder or matching a glob whose names the tidier does not read (see isUnreadRawLookalike), sorted. */
  notRead: string[];
  /** Inputs naming a file or folder (not a glob) that does not exist, as given. */
  missing: string[];
  /** Folders that could not be read, sorted by path: what they hold was not found, which is not the same as empty. */
  unreadable: UnreadableFolder[];
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

const errCode = (e: unknown): string => codeOf(e) || "EUNKNOWN";
const errMessage = (e: unknown): string => (e as Error)?.message ?? String(e);
/** A path that is not there (any more): what is not there holds nothing, and that is no error. */
const isAbsent = (e: unknown): boolean => errCode(e) === "ENOENT" || errCode(e) === "ENOTDIR";

/** What one walk of an input collects. */
interface Walk {
  out: FoundFile[];
  notRead: string[];
  unreadable: UnreadableFolder[];
  input: string;
  recursive: boolean;
  /** A glob's files: the paths it matches. */
  filter?: RegExp | undefined;
  /** A glob's folders that can hold a path it matches (see globReaches): only those are reported unreadable. */
  reaches?: ((dir: string) => boolean) | undefined;
  /** Real paths of the folders walked, so that one reached again through a link (or a loop of links) is not walked twice. */
  walked: Set<string>;
}

async function walk(dir: string, w: Walk, top: boolean): Promise<void> {
  // a folder reached twice (through a link, or a loop of links) is walked once
  try {
    const real = realpathSync(dir);
    if (w.walked.has(real)) return;
    w.walked.add(real);
  } catch {
    // not there, or not reachable: the listing below says which
  }
  const cannotRead = (e: unknown) => {
    if (w.reaches && !w.reaches(dir.split(sep).join("/"))) return;
    if (w.unreadable.some((u) => u.path === dir)) return;
    w.unreadable.push({ path: dir, input: w.input, top, code: errCode(e), reason: errMessage(e) });
  };
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (e) {
    // a folder that does not exist (yet, or any more) is simply empty; one that cannot be
    // read is not: its files would be passed over without a word
    if (!isAbsent(e)) cannotRead(e);
    return;
  }
  for (const e of entries) {
    if (e.name.startsWith(".")) continue;
    const p = join(dir, e.name);
    let isDirectory = e.isDirectory();
    let isFile = e.isFile();
    if (e.isSymbolicLink()) {
      // followed, as the shell and `ls` do: raw files linked into an input are loaded, a
      // linked folder is walked (once: a loop of links is not followed round again)
      const target = followLink(p, w);
      if (target === "dangling") continue;
      isDirectory = target === "folder";
      isFile = target === "file";
    }
    if (isDirectory) {
      if (w.recursive) await walk(p, w, false);
    } else if (isFile && !isRawName(e.name)) {
      if (isUnreadRawLookalike(e.name) && (!w.filter || w.filter.test(p.split(sep).join("/"))) && startsAsPage(p)) w.notRead.push(p);
    } else if (isFile) {
      if (w.filter && !w.filter.test(p.split(sep).join("/"))) continue;
      // blocking stats, the event loop let go every STATS_PER_TURN: one awaited round trip
      // through libuv's pool per file took 39 ms for 279 files (the check ahead of every load)
      if (++statsThisTurn % STATS_PER_TURN === 0) await new Promise<void>((r) => setImmediate(r));
      try {
        const st = statSync(p);
        w.out.push({ path: p, size: st.size, mtimeMs: st.mtimeMs });
      } catch (err) {
        // vanished since the listing; any other error (a folder readable but not searchable,
        // mode r--) hides the file as an unreadable folder would
        if (!isAbsent(err)) cannotRead(err);
      }
    }
  }
}

/**
 * What a symbolic link found in a walk leads to (a folder is walked once, see walk). A
 * dangling link named as a raw file is recorded among the
 * unreadable (it is a file the user means to load: silence would drop it); any other
 * dangling link is passed over, as a stray file of another name is.
 */
function followLink(link: string, w: Walk): "file" | "folder" | "other" | "dangling" {
  let st;
  try {
    st = statSync(link);
  } catch (err) {
    const named = isRawName(link) && (!w.filter || w.filter.test(link.split(sep).join("/")));
    if (named) {
      let to = "?";
      try {
        to = readlinkSync(link);
      } catch {
        // gone since the listing: said with "?"
      }
      w.unreadable.push({ path: link, input: w.input, top: false, link: true, code: errCode(err), reason: `a symbolic link to ${to}, which ${isAbsent(err) ? "does not exist" : `cannot be reached (${errMessage(err)})`}` });
    }
    return "dangling";
  }
  return st.isFile() ? "file" : st.isDirectory() ? "folder" : "other";
}

/**
 * Whether a folder can hold a path the glob matches: a glob's walk lists every folder below
 * its root, and one it cannot read matters only if the glob could match something inside
 * (`raw/*.jsonl` never reaches `raw/private/`). Segment by segment, `**` matching any number.
 */
export function globReaches(globPosix: string): (dirPosix: string) => boolean {
  // a brace alternative that holds a "/" spans segments: not worth a matcher of its own
  if (/\{[^}]*\/[^}]*\}/.test(globPosix)) return () => true;
  const parts = globPosix.split("/").filter((s) => s !== "");
  const res = parts.map((s) => (s === "**" ? undefined : globToRegExp(s)));
  return (dirPosix) => {
    const dirs = dirPosix.split("/").filter((s) => s !== "");
    // can the glob's parts from i on match the folder's parts from j on, and then a name below it?
    const can = (i: number, j: number): boolean => {
      if (j === dirs.length) return i < res.length;
      if (i === res.length) return false;
      const re = res[i];
      if (re === undefined) return can(i + 1, j) || can(i, j + 1);
      return re.test(dirs[j]!) && can(i + 1, j + 1);
    };
    return can(0, 0);
  };
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
 * the tidier does not read (a file named in the inputs is read whatever its name), the
 * inputs that do not exist, and the folders that could not be read.
 */
export async function listInputs(inputs: string[], baseDir = process.cwd()): Promise<InputListing> {
  const found: FoundFile[] = [];
  const notRead: string[] = [];
  const missing: string[] = [];
  const unreadable: UnreadableFolder[] = [];
  for (const input of inputs) {
    const abs = resolve(baseDir, input);
    const w: Walk = { out: found, notRead, unreadable, input, recursive: true, walked: new Set() };
    if (hasGlob(input)) {
      const posix = abs.split(sep).join("/");
      const firstGlob = posix.search(/[*?{]/);
      const root = posix.slice(0, posix.lastIndexOf("/", firstGlob)) || "/";
      await walk(root, { ...w, filter: globToRegExp(posix), reaches: globReaches(posix) }, true);
      continue;
    }
    let st;
    try {
      st = await stat(abs);
    } catch (e) {
      if (isAbsent(e)) missing.push(input);
      // not there is one thing; there but out of reach (a folder above it without search
      // permission) is another, and says so
      else unreadable.push({ path: abs, input, top: true, code: errCode(e), reason: errMessage(e) });
      continue;
    }
    if (st.isDirectory()) await walk(abs, w, true);
    else if (st.isFile()) found.push({ path: abs, size: st.size, mtimeMs: st.mtimeMs });
  }
  const seen = new Set<string>();
  const files = found
    .filter((f) => (seen.has(f.path) ? false : (seen.add(f.path), true)))
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const folders = new Map<string, UnreadableFolder>();
  for (const u of unreadable) if (!folders.has(u.path)) folders.set(u.path, u);
  // a file also named in the inputs (or matched by another glob) is read
  return {
    files,
    notRead: [...new Set(notRead)].filter((p) => !seen.has(p)).sort(),
    missing,
    unreadable: [...folders.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)),
  };
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
