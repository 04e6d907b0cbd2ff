import { statSync } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { join, resolve, sep } from "node:path";

/** A raw file found by discovery, with what the stability check compares. */
export interface FoundFile {
  path: string;
  size: number;
  mtimeMs: number;
}

const RAW = /\.(jsonl|jsonl\.gz|tar\.gz|tgz)$/i;
const TEMP = /(\.tmp|\.partial|\.part|\.temp|\.swp|~)$/i;

/** True for names the tidier reads: .jsonl, .jsonl.gz, .tar.gz/.tgz, and not hidden or temporary. */
export function isRawName(name: string): boolean {
  const base = name.slice(name.lastIndexOf("/") + 1);
  if (base.startsWith(".") || base.startsWith("~") || TEMP.test(base)) return false;
  if (/\.(tmp|partial)\./i.test(base)) return false;
  return RAW.test(base);
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

async function walk(dir: string, out: FoundFile[], recursive: boolean, filter?: RegExp): Promise<void> {
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
      if (recursive) await walk(p, out, recursive, filter);
    } else if (e.isFile() && isRawName(e.name)) {
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
  const out: FoundFile[] = [];
  for (const input of inputs) {
    const abs = resolve(baseDir, input);
    if (hasGlob(input)) {
      const posix = abs.split(sep).join("/");
      const firstGlob = posix.search(/[*?{]/);
      const root = posix.slice(0, posix.lastIndexOf("/", firstGlob) + 1) || "/";
      await walk(root, out, true, globToRegExp(posix));
      continue;
    }
    let st;
    try {
      st = await stat(abs);
    } catch {
      continue;
    }
    if (st.isDirectory()) await walk(abs, out, true);
    else if (st.isFile()) out.push({ path: abs, size: st.size, mtimeMs: st.mtimeMs });
  }
  const seen = new Set<string>();
  return out
    .filter((f) => (seen.has(f.path) ? false : (seen.add(f.path), true)))
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
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
