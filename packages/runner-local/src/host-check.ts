import { isIP } from "node:net";

/**
 * Which `Host` headers the status server answers. A browser page can make requests to
 * a loopback port under its own domain name by pointing that name at 127.0.0.1 (DNS
 * rebinding); the browser then sends the attacker's name as `Host`. Answering only
 * names that mean this machine (or that the user listed) closes that door when no
 * token protects the endpoints.
 */
export interface HostCheckOptions {
  /** The port the server listens on: a `Host` with another port is refused. */
  port: number;
  /** The bind address: when it is a specific address, it is accepted as a Host too. */
  bindHost?: string | undefined;
  /** More accepted host names (`runner.status.allowedHosts`), with or without a port; `"*"`: any. */
  allowedHosts?: readonly string[] | undefined;
  /** With a token every request is authenticated: any Host is accepted. */
  token?: boolean | undefined;
}

const LOOPBACK_NAMES = ["localhost", "127.0.0.1", "[::1]"];

/** Splits `name[:port]` (IPv6 literals in brackets), lower-cased, without a trailing dot. */
export function parseHostHeader(value: string): { name: string; port: number | undefined } | undefined {
  const match = /^(\[[0-9a-f:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/i.exec(value.trim());
  if (!match) return undefined;
  const name = match[1]!.toLowerCase().replace(/\.$/, "");
  return { name, port: match[2] === undefined ? undefined : Number(match[2]) };
}

function bracketed(host: string): string {
  return isIP(host) === 6 ? `[${host.toLowerCase()}]` : host.toLowerCase();
}

/** Returns a predicate over a request's `Host` header (undefined when the request has none). */
export function createHostCheck(options: HostCheckOptions): (host: string | undefined) => boolean {
  const allowed = options.allowedHosts ?? [];
  if (options.token || allowed.includes("*")) return () => true;
  const names = new Map<string, number | undefined>();
  for (const name of LOOPBACK_NAMES) names.set(name, undefined);
  const bind = options.bindHost;
  if (bind && bind !== "0.0.0.0" && bind !== "::") names.set(bracketed(bind), undefined);
  const extra: Array<{ name: string; port: number | undefined }> = [];
  for (const entry of allowed) {
    const parsed = parseHostHeader(isIP(entry) === 6 ? `[${entry}]` : entry);
    if (parsed) extra.push(parsed);
  }
  return (header) => {
    // Browsers always send Host; a request without one (HTTP/1.0) cannot be a rebinding page.
    if (header === undefined) return true;
    const parsed = parseHostHeader(header);
    if (!parsed) return false;
    if (parsed.port !== undefined && parsed.port !== options.port) return false;
    if (names.has(parsed.name)) return true;
    return extra.some((entry) => entry.name === parsed.name && (entry.port === undefined || entry.port === parsed.port));
  };
}
