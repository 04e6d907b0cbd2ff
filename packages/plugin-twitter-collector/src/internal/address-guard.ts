import { BlockList, isIP } from "node:net";
import { lookup as dnsLookup, type LookupAddress } from "node:dns";

/**
 * Addresses a link from a tweet must not make us connect to: loopback, private,
 * link-local, carrier-grade NAT, unspecified, multicast, reserved and documentation
 * ranges, for IPv4 and IPv6 (IPv4-mapped, -compatible and NAT64 addresses are checked
 * as the IPv4 address they carry).
 */
const v4 = new BlockList();
for (const [net, prefix] of [
  ["0.0.0.0", 8],
  ["10.0.0.0", 8],
  ["100.64.0.0", 10],
  ["127.0.0.0", 8],
  ["169.254.0.0", 16],
  ["172.16.0.0", 12],
  ["192.0.0.0", 24],
  ["192.0.2.0", 24],
  ["192.88.99.0", 24],
  ["192.168.0.0", 16],
  ["198.18.0.0", 15],
  ["198.51.100.0", 24],
  ["203.0.113.0", 24],
  ["224.0.0.0", 4],
  ["240.0.0.0", 4],
] as const) {
  v4.addSubnet(net, prefix, "ipv4");
}
const v6 = new BlockList();
for (const [net, prefix] of [
  ["::", 128],
  ["::1", 128],
  ["fc00::", 7],
  ["fe80::", 10],
  ["fec0::", 10],
  ["ff00::", 8],
  ["2001:db8::", 32],
  ["100::", 64],
] as const) {
  v6.addSubnet(net, prefix, "ipv6");
}

/** Expands an IPv6 address into 8 16-bit groups (handles `::` and a dotted IPv4 tail). */
function ipv6Groups(address: string): number[] | undefined {
  let text = address.toLowerCase();
  const zone = text.indexOf("%");
  if (zone !== -1) text = text.slice(0, zone);
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const parse = (part: string) => (part === "" ? [] : part.split(":").map((x) => (/^[0-9a-f]{1,4}$/.test(x) ? parseInt(x, 16) : NaN)));
  const left = parse(halves[0]!);
  const right = halves.length === 2 ? parse(halves[1]!) : [];
  const missing = 8 - left.length - right.length;
  if (halves.length === 1 ? missing !== 0 : missing < 0) return undefined;
  const groups = [...left, ...new Array<number>(missing).fill(0), ...right];
  return groups.every((g) => Number.isInteger(g)) ? groups : undefined;
}

function v4FromGroups(hi: number, lo: number): string {
  return `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`;
}

/** True for addresses in a refused range. Unknown formats count as refused. */
export function isPrivateAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return v4.check(address, "ipv4");
  if (family !== 6) return true;
  const groups = ipv6Groups(address);
  if (!groups) return true;
  const zeros = (n: number) => groups.slice(0, n).every((g) => g === 0);
  // ::ffff:a.b.c.d (mapped), ::a.b.c.d (compatible, deprecated), 64:ff9b::a.b.c.d (NAT64)
  if (zeros(5) && groups[5] === 0xffff) return isPrivateAddress(v4FromGroups(groups[6]!, groups[7]!));
  if (zeros(6) && (groups[6] !== 0 || groups[7]! > 1)) return isPrivateAddress(v4FromGroups(groups[6]!, groups[7]!));
  if (groups[0] === 0x64 && groups[1] === 0xff9b && groups.slice(2, 6).every((g) => g === 0)) {
    return isPrivateAddress(v4FromGroups(groups[6]!, groups[7]!));
  }
  return v6.check(groups.map((g) => g.toString(16)).join(":"), "ipv6");
}

export class RefusedAddressError extends Error {
  override readonly name = "RefusedAddressError";
  readonly code = "UJR_COLLECTOR_URL_REFUSED";
  constructor(host: string, address: string) {
    super(`refused: ${host} resolves to the private/loopback/link-local address ${address} (set urlResolution.allowPrivateAddresses to allow)`);
  }
}

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * A `lookup` for http.request that resolves every address of the host and refuses the
 * connection when any of them is in a refused range. Because the socket connects to the
 * address checked here, a DNS answer that changes between check and connect (rebinding)
 * cannot slip through.
 */
export function guardedLookup(allowPrivate: boolean, lookup: typeof dnsLookup = dnsLookup) {
  return (hostname: string, options: { all?: boolean; family?: number } | number, callback: LookupCallback): void => {
    const opts = typeof options === "number" ? { family: options } : (options ?? {});
    lookup(hostname, { family: opts.family ?? 0, all: true }, (error, addresses) => {
      if (error) return callback(error, "");
      const list = addresses as LookupAddress[];
      if (list.length === 0) return callback(Object.assign(new Error(`no address for ${hostname}`), { code: "ENOTFOUND" }), "");
      if (!allowPrivate) {
        const bad = list.find((entry) => isPrivateAddress(entry.address));
        if (bad) return callback(new RefusedAddressError(hostname, bad.address) as unknown as NodeJS.ErrnoException, "");
      }
      if (opts.all) return callback(null, list);
      return callback(null, list[0]!.address, list[0]!.family);
    });
  };
}

/** Checks a URL's host when it is an IP literal (http.request skips lookup for those). */
export function checkLiteralHost(hostname: string, allowPrivate: boolean): void {
  const bare = hostname.startsWith("[") ? hostname.slice(1, -1) : hostname;
  if (!allowPrivate && isIP(bare) !== 0 && isPrivateAddress(bare)) throw new RefusedAddressError(hostname, bare);
}
