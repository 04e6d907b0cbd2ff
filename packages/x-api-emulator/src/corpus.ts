import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import { emulatorError, EmulatorErrorCodes } from "./errors.js";
import { idToMillis, isNumericId, millisToId } from "./internal/snowflake.js";
import type { ApiObject, Includes, Page, Tweet } from "./types.js";

/** The bundled sample corpus (see README): a few hundred real tweets. */
export const SAMPLE_CORPUS_URL = new URL("../corpus/sample.jsonl", import.meta.url);

/** What `corpus` accepts: file paths / URLs of twarc2 JSONL (optionally .gz), or parsed pages. */
export type CorpusSource = string | URL | Page;

export interface CorpusStats {
  pages: number;
  skippedLines: number;
  tweets: number;
  includedTweets: number;
  users: number;
  media: number;
  polls: number;
  places: number;
}

interface Entry {
  id: bigint;
  time: number;
  tweet: Tweet;
}

/**
 * The in-memory corpus: the searchable timeline (tweets from `data`, newest first) and
 * lookup maps for everything that can be expanded into `includes`.
 */
export class Corpus {
  /** Searchable tweets, sorted newest first (descending snowflake id). */
  readonly timeline: Entry[] = [];
  readonly tweets = new Map<string, ApiObject>();
  readonly users = new Map<string, ApiObject>();
  readonly usernames = new Map<string, string>();
  readonly media = new Map<string, ApiObject>();
  readonly polls = new Map<string, ApiObject>();
  readonly places = new Map<string, ApiObject>();
  private readonly inTimeline = new Set<string>();
  pages = 0;
  skippedLines = 0;

  stats(): CorpusStats {
    return {
      pages: this.pages,
      skippedLines: this.skippedLines,
      tweets: this.timeline.length,
      includedTweets: this.tweets.size,
      users: this.users.size,
      media: this.media.size,
      polls: this.polls.size,
      places: this.places.size,
    };
  }

  maxId(): bigint {
    return this.timeline[0]?.id ?? 0n;
  }

  /** Adds one page (twarc2 line). Also accepts a bare tweet object (flattened twarc output). */
  addPage(page: Page): void {
    if (typeof page !== "object" || page === null) return;
    this.pages++;
    if (page.data === undefined && typeof page.id === "string" && "text" in page) {
      this.addTimelineTweets([page as unknown as Tweet]);
      return;
    }
    if (page.includes) this.addIncludes(page.includes);
    const data = page.data;
    if (Array.isArray(data)) this.addTimelineTweets(data as Tweet[]);
    else if (data && typeof data === "object") this.addTimelineTweets([data as Tweet]);
  }

  addIncludes(includes: Includes): void {
    for (const t of includes.tweets ?? []) if (validId(t)) this.tweets.set(t.id as string, t);
    for (const u of includes.users ?? []) this.addUser(u);
    for (const m of includes.media ?? []) if (typeof m.media_key === "string") this.media.set(m.media_key, m);
    for (const p of includes.polls ?? []) if (validId(p)) this.polls.set(p.id as string, p);
    for (const p of includes.places ?? []) if (validId(p)) this.places.set(p.id as string, p);
  }

  addUser(user: ApiObject): void {
    if (!validId(user)) return;
    this.users.set(user.id as string, user);
    if (typeof user.username === "string") this.usernames.set(user.username.toLowerCase(), user.id as string);
  }

  /** Adds tweets to the searchable timeline (a tweet id already there is replaced). */
  addTimelineTweets(tweets: Tweet[]): void {
    let added = false;
    for (const tweet of tweets) {
      if (!validId(tweet) || !isNumericId(tweet.id)) continue;
      const id = BigInt(tweet.id);
      this.tweets.set(tweet.id, tweet);
      const created = typeof tweet.created_at === "string" ? Date.parse(tweet.created_at) : Number.NaN;
      const entry: Entry = { id, time: Number.isNaN(created) ? idToMillis(id) : created, tweet };
      if (this.inTimeline.has(tweet.id)) {
        const at = added ? this.timeline.findIndex((e) => e.id === id) : this.indexOf(id);
        this.timeline[at] = entry;
      } else {
        this.timeline.push(entry);
        this.inTimeline.add(tweet.id);
        added = true;
      }
    }
    if (added) this.timeline.sort((a, b) => (a.id > b.id ? -1 : a.id < b.id ? 1 : 0));
  }

  /** Index of the first entry with an id <= `id` (timeline is descending). */
  indexOf(id: bigint): number {
    let lo = 0;
    let hi = this.timeline.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.timeline[mid]!.id > id) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** A fresh id greater than every id in the timeline, no older than the clock's snowflake. */
  nextId(now: number): bigint {
    const byClock = millisToId(now);
    const next = this.maxId() + 1n;
    return byClock > next ? byClock : next;
  }
}

function validId(o: unknown): o is ApiObject & { id: string } {
  return typeof o === "object" && o !== null && typeof (o as ApiObject).id === "string";
}

/** Parses twarc2 JSONL text into pages; lines that are not JSON objects are counted and skipped. */
export function parseJsonl(text: string): { pages: Page[]; skipped: number } {
  const pages: Page[] = [];
  let skipped = 0;
  for (const line of text.split("\n")) {
    const trimmed = line.trim();
    if (trimmed === "") continue;
    try {
      const value: unknown = JSON.parse(trimmed);
      if (typeof value === "object" && value !== null && !Array.isArray(value)) pages.push(value as Page);
      else skipped++;
    } catch {
      skipped++;
    }
  }
  return { pages, skipped };
}

export function readCorpusFile(source: string | URL): { pages: Page[]; skipped: number } {
  const path = source instanceof URL ? fileURLToPath(source) : source.startsWith("file:") ? fileURLToPath(source) : source;
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (cause) {
    throw emulatorError(
      EmulatorErrorCodes.CORPUS_READ,
      `Cannot read corpus file ${path}: ${(cause as Error).message}. Pass existing twarc2 JSONL files (or .jsonl.gz) in \`corpus\`.`,
      cause,
    );
  }
  if (buf[0] === 0x1f && buf[1] === 0x8b) {
    try {
      buf = gunzipSync(buf);
    } catch (cause) {
      throw emulatorError(EmulatorErrorCodes.CORPUS_INVALID, `Corpus file ${path} looks gzipped but cannot be decompressed.`, cause);
    }
  }
  return parseJsonl(buf.toString("utf8"));
}

/** Builds a corpus from files and/or parsed pages; the bundled sample when `sources` is omitted. */
export function loadCorpus(sources?: readonly CorpusSource[] | CorpusSource): Corpus {
  const corpus = new Corpus();
  const list = sources === undefined ? [SAMPLE_CORPUS_URL] : Array.isArray(sources) ? sources : [sources];
  for (const source of list as CorpusSource[]) {
    if (typeof source === "string" || source instanceof URL) {
      const { pages, skipped } = readCorpusFile(source);
      corpus.skippedLines += skipped;
      for (const page of pages) corpus.addPage(page);
    } else if (typeof source === "object" && source !== null) {
      corpus.addPage(source);
    } else {
      throw emulatorError(EmulatorErrorCodes.OPTION_INVALID, "`corpus` entries must be file paths, file URLs or parsed page objects.");
    }
  }
  return corpus;
}
