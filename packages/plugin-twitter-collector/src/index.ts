import { defineJobType, definePlugin } from "@ujr/core";
import { searchConfigSchema, timelineConfigSchema } from "./config.js";
import { CollectorJob } from "./job.js";

export { CollectorJob, type CollectorJobStatus } from "./job.js";
export {
  searchConfigSchema,
  timelineConfigSchema,
  retryConfigSchema,
  urlResolutionSchema,
  archiveSchema,
  type SearchConfig,
  type TimelineConfig,
  type CollectorConfig,
} from "./config.js";
export * from "./errors.js";
export * from "./fields.js";
export { COLLECTOR_VERSION } from "./version.js";
export { fingerprintOf, resumeAt, type FetchArgs, type FetchResult, type Cursor } from "./fetch.js";
export { UrlResolver, type UrlResolverOptions, type Resolution } from "./url-resolver.js";
export { linksOfPage, loadUrlCache, type SidecarLine, type ResolveUrlsArgs, type ResolveUrlsResult } from "./urls.js";
export { archiveName, readArchive, verifyArchive, type ArchiveManifest, type ArchiveArgs, type ArchiveResult } from "./archive.js";
export { isPrivateAddress } from "./internal/address-guard.js";
export { pyDumps } from "./internal/pyjson.js";
export type { CollectorState, Sweep, ArchiveState } from "./internal/state.js";

const plugin = definePlugin({
  name: "@ujr/plugin-twitter-collector",
  version: "0.1.0",
  description: "Collect X (Twitter) API v2 searches and user timelines into twarc2-compatible JSONL, resolve their links and archive them.",
  apiVersion: 1,
  jobs: {
    search: defineJobType({
      description: "Recent (7 days) or full-archive search: continuous (polls with since_id) or once (startTime..endTime).",
      config: searchConfigSchema,
      create: (config, context) => new CollectorJob({ kind: "search", ...config }, context),
    }),
    timeline: defineJobType({
      description: "A user's tweets (by userId or username): continuous or once.",
      config: timelineConfigSchema,
      create: (config, context) => new CollectorJob({ kind: "timeline", ...config }, context),
    }),
  },
});

export default plugin;
