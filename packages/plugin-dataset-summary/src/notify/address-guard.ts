/**
 * Refuses outbound connections to loopback, private, link-local and other non-public
 * addresses unless the config allows them (`allowPrivateAddresses: true`). The host is
 * resolved and *every* address checked; the caller then connects to the checked
 * addresses only (no second lookup, so DNS rebinding cannot slip past the check).
 */
import { lookup as dnsLookup } from "node:dns/promises";
import { BlockList, isIP } from "node:net";
import { SummaryErrorCode, summaryError } from "../errors.js";

const blocked = new BlockList();
for (const [net, prefix] of [
  ["0.0.0.0", 8], // "this" network
  ["10.0.0.0", 8], // private
  ["100.64.0.0", 10], // carrier-grade NAT
  ["127.0.0.0", 8], // loopback
  ["169.254.0.0", 16], // link-local (cloud metadata)
  ["172.16.0.0", 12], // private
  ["192.0.0.0", 24], // IETF protocol assignments
  ["192.0.2.0", 24], // documentation
  ["192.168.0.0", 16], // private
  ["198.18.0.0", 15], // benchmarking
  ["198.51.100.0", 24], // documentation
  ["203.0.113.0", 24], // documentation
  ["224.0.0.0", 4], // multicast
  ["240.0.0.0", 4], // reserved, broadcast
] as const) {
  blocked.addSubnet(net, prefix, "ipv4");
}
for (const [net, prefix] of [
  ["::", 128], // unspecified
  ["::1", 128], // loopback
  ["64:ff9b:1::", 48], // local-use NAT64
  ["100::", 64], // discard
  ["2001:db8::", 32], // documentation
  ["fc00::", 7], // unique local
  ["fe80::", 10], // link-local
  ["fec0::", 10], // site-local (deprecated)
  ["ff00::", 8], // multicast
] as const) {
  blocked.addSubnet(net, prefix, "ipv6");
}

/** True when `address` (an IP literal) is loopback, private, link-local or otherwise not public. */
export function isPrivateAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return blocked.check(address, "ipv4");
  if (family === 6) {
    const lower = address.toLowerCase();
    // IPv4-mapped / -compatible / NAT64 addresses: check the embedded IPv4 address.
    const embedded = /^(?:::ffff:(?:0:)?|::|64:ff9b::)(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
    if (embedded) return blocked.check(embedded[1]!, "ipv4");
    const hexMapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(lower);
    if (hexMapped) {
      const hi = parseInt(hexMapped[1]!, 16);
      const lo = parseInt(hexMapped[2]!, 16);
      return blocked.check(`${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`, "ipv4");
    }
    return blocked.check(address, "ipv6");
  }
  return true; // not an IP address: refuse
}

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

export type Resolver = (host: string) => Promise<ResolvedAddress[]>;

export const systemResolver: Resolver = async (host) =>
  (await dnsLookup(host, { all: true, verbatim: true })).map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));

/**
 * Resolves `host` and checks every address. Returns the addresses to connect to.
 * `what` names the target for the error message (never a secret URL: pass the origin).
 */
export async function checkHost(
  host: string,
  options: { allowPrivateAddresses?: boolean | undefined; resolver?: Resolver | undefined; what: string },
): Promise<ResolvedAddress[]> {
  const bare = host.replace(/^\[|\]$/g, "");
  let addresses: ResolvedAddress[];
  const family = isIP(bare);
  if (family) {
    addresses = [{ address: bare, family: family as 4 | 6 }];
  } else {
    try {
      addresses = await (options.resolver ?? systemResolver)(bare);
    } catch (err) {
      throw summaryError(SummaryErrorCode.ADDRESS_REFUSED, `${options.what}: cannot resolve host "${bare}" (${(err as NodeJS.ErrnoException).code ?? "lookup failed"}).`);
    }
  }
  if (addresses.length === 0) {
    throw summaryError(SummaryErrorCode.ADDRESS_REFUSED, `${options.what}: host "${bare}" has no addresses.`);
  }
  if (!options.allowPrivateAddresses) {
    const bad = addresses.filter((a) => isPrivateAddress(a.address));
    if (bad.length > 0) {
      throw summaryError(
        SummaryErrorCode.ADDRESS_REFUSED,
        `${options.what}: host "${bare}" resolves to a loopback, private or link-local address (${bad.map((a) => a.address).join(", ")}); refusing to connect. Set "allowPrivateAddresses: true" on this target if it is meant to be reached on a private network.`,
      );
    }
  }
  return addresses;
}
