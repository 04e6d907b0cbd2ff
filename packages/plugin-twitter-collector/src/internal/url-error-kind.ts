/**
 * Whether a failed link resolution may succeed if tried again later. Only permanent
 * failures may be cached: a DNS server that was down a minute ago must not mark a link
 * as dead for the rest of the collection.
 */
export type ErrorKind = "transient" | "permanent";

/** Errors that say something about the link itself (or our rules), not about the moment. */
const PERMANENT_CODES = new Set([
  "ENOTFOUND", // NXDOMAIN: the name does not exist
  "EAI_NONAME",
  "EAI_NODATA",
  "EAI_FAIL", // the DNS server refused for good (SERVFAIL is EAI_AGAIN)
  "ERR_INVALID_URL",
  "ERR_UNESCAPED_CHARACTERS",
  "ERR_INVALID_CHAR",
  "UJR_COLLECTOR_URL_REFUSED",
  "CERT_HAS_EXPIRED",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "ERR_TLS_CERT_ALTNAME_INVALID",
  "HPE_INVALID_CONSTANT", // not HTTP at all
  "HPE_INVALID_HEADER_TOKEN",
]);

/** Messages the resolver writes itself for permanent outcomes. */
const PERMANENT_MESSAGES = [/^invalid URL$/, /^unsupported scheme /, /^host .* is not in urlResolution\.onlyHosts$/, /^redirect loop$/, /^too many redirects/, /^invalid redirect location$/, /^refused: /, /^no address for /];

/**
 * The kind of a resolution error as the resolver words it (`"EAI_AGAIN: getaddrinfo ..."`,
 * `"timeout after 10000 ms"`, `"HTTP 503"`, `"redirect loop"`). Also classifies entries of
 * caches written before kinds were recorded. Unknown errors count as transient: they are
 * retried a bounded number of times, which costs little, while caching one would keep a
 * passing fault forever.
 */
export function errorKindOf(error: string): ErrorKind {
  const code = /^([A-Z][A-Z0-9_]+)(?::|$)/.exec(error)?.[1];
  if (code !== undefined && PERMANENT_CODES.has(code)) return "permanent";
  if (PERMANENT_MESSAGES.some((pattern) => pattern.test(error))) return "permanent";
  const status = /^HTTP (\d{3})$/.exec(error)?.[1];
  if (status !== undefined) return Number(status) === 429 || Number(status) >= 500 ? "transient" : "permanent";
  return "transient";
}
