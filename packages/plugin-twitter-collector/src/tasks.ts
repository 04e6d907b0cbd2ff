/**
 * The collector's tasks. This module is imported by workers (thread or process) by its
 * reference "@ujr/plugin-twitter-collector/tasks": arguments and results are plain data.
 */
import { defineTask } from "@ujr/core/task";
import { archiveRun, type ArchiveArgs, type ArchiveResult } from "./archive.js";
import { fetchPagesRun, type FetchArgs, type FetchResult } from "./fetch.js";
import { writingTo } from "./internal/disk-full.js";
import { resolveUrlsRun, type ResolveUrlsArgs, type ResolveUrlsResult } from "./urls.js";

export const TASKS_MODULE = "@ujr/plugin-twitter-collector/tasks";

/** Fetches up to `pagesPerTask` pages from the saved cursor, each stored durably before the cursor advances. */
export const fetchPages = defineTask<FetchArgs, FetchResult>({
  module: TASKS_MODULE,
  name: "fetchPages",
  run: (args, ctx) => writingTo(args.rawDir, "the collected pages", () => fetchPagesRun(args, ctx)),
});

/** Resolves the links of raw files into `<file>.urls.jsonl` sidecars. */
export const resolveUrls = defineTask<ResolveUrlsArgs, ResolveUrlsResult>({
  module: TASKS_MODULE,
  name: "resolveUrls",
  run: (args, ctx) => writingTo(args.rawDir, "the resolved links", () => resolveUrlsRun(args, ctx)),
});

/** Packs closed raw files and sidecars into a verified tar.gz with a manifest of SHA-256 sums. */
export const archiveFiles = defineTask<ArchiveArgs, ArchiveResult>({
  module: TASKS_MODULE,
  name: "archiveFiles",
  // the archive is written to a stream: its write errors name no file
  run: (args, ctx) => writingTo(args.archiveDir, "an archive", () => archiveRun(args, ctx)),
});

export type { FetchArgs, FetchResult, ResolveUrlsArgs, ResolveUrlsResult, ArchiveArgs, ArchiveResult };
