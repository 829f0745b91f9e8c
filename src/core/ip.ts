/**
 * IP address classification (pure): is an address worth a threat-intel lookup? Only globally routable
 * unicast addresses are; private, loopback, link-local, multicast, CGNAT, documentation, benchmarking and
 * other IANA special-purpose ranges are not (RFC 6890 registries, IPv4 and IPv6).
 */
import { BlockList, isIP } from "node:net";

/** Which special-purpose range a non-public address falls in (for logs and tests). */
export type IpRange =
  | "unspecified"
  | "loopback"
  | "private"
  | "cgnat"
  | "link_local"
  | "unique_local"
  | "multicast"
  | "documentation"
  | "benchmarking"
  | "reserved";

/** Outcome of classifying an address text; `ip` is the canonical form (lower-case, compressed IPv6; IPv4 for mapped). */
export type IpClassification =
  | { kind: "public"; ip: string; version: 4 | 6 }
  | { kind: "non_public"; ip: string; version: 4 | 6; range: IpRange }
  | { kind: "invalid" };

type Subnet = readonly [address: string, prefix: number];

// Checked in this order, so the more specific label wins (e.g. ::1 is loopback, not the deprecated ::/96).
const RANGES: readonly { range: IpRange; v4: readonly Subnet[]; v6: readonly Subnet[] }[] = [
  { range: "unspecified", v4: [["0.0.0.0", 8]], v6: [["::", 128]] },
  { range: "loopback", v4: [["127.0.0.0", 8]], v6: [["::1", 128]] },
  {
    range: "private",
    v4: [
      ["10.0.0.0", 8],
      ["172.16.0.0", 12],
      ["192.168.0.0", 16],
    ],
    v6: [["64:ff9b:1::", 48]],
  },
  { range: "cgnat", v4: [["100.64.0.0", 10]], v6: [] },
  { range: "link_local", v4: [["169.254.0.0", 16]], v6: [["fe80::", 10]] },
  { range: "unique_local", v4: [], v6: [["fc00::", 7]] },
  { range: "multicast", v4: [["224.0.0.0", 4]], v6: [["ff00::", 8]] },
  {
    range: "documentation",
    v4: [
      ["192.0.2.0", 24],
      ["198.51.100.0", 24],
      ["203.0.113.0", 24],
    ],
    v6: [
      ["2001:db8::", 32],
      ["3fff::", 20],
    ],
  },
  { range: "benchmarking", v4: [["198.18.0.0", 15]], v6: [["2001:2::", 48]] },
  {
    range: "reserved",
    // 192.0.0/24 protocol assignments, 192.88.99/24 old 6to4 relays, 240/4 future use + broadcast.
    v4: [
      ["192.0.0.0", 24],
      ["192.88.99.0", 24],
      ["240.0.0.0", 4],
    ],
    // IPv4-compatible (deprecated), discard-only, Teredo, ORCHID v1/v2, SRv6 SIDs, site-local (deprecated).
    v6: [
      ["::", 96],
      ["100::", 64],
      ["2001::", 32],
      ["2001:10::", 28],
      ["2001:20::", 28],
      ["5f00::", 16],
      ["fec0::", 10],
    ],
  },
];

const LISTS = RANGES.map(({ range, v4, v6 }) => {
  const list = new BlockList();
  for (const [address, prefix] of v4) list.addSubnet(address, prefix, "ipv4");
  for (const [address, prefix] of v6) list.addSubnet(address, prefix, "ipv6");
  return { range, list };
});

const GLOBAL_UNICAST_V6 = new BlockList();
GLOBAL_UNICAST_V6.addSubnet("2000::", 3, "ipv6");

/** Classify an address as found in an alert (trimmed; `[v6]` brackets and `%zone` suffixes tolerated). */
export function classifyIp(text: string): IpClassification {
  let t = text.trim();
  if (t.startsWith("[") && t.endsWith("]")) t = t.slice(1, -1);
  const version = isIP(t);
  if (version === 4) return classifyV4(t);
  if (version !== 6) return { kind: "invalid" };
  const ip = canonicalV6(t.replace(/%.*$/, ""));
  if (ip === null) return { kind: "invalid" };
  const embedded = embeddedIpv4(ip);
  if (embedded !== null) return classifyV4(embedded);
  const range = rangeOf(ip, "ipv6") ?? (GLOBAL_UNICAST_V6.check(ip, "ipv6") ? null : "reserved");
  return range === null ? { kind: "public", ip, version: 6 } : { kind: "non_public", ip, version: 6, range };
}

function classifyV4(ip: string): IpClassification {
  const range = rangeOf(ip, "ipv4");
  return range === null ? { kind: "public", ip, version: 4 } : { kind: "non_public", ip, version: 4, range };
}

function rangeOf(ip: string, family: "ipv4" | "ipv6"): IpRange | null {
  for (const { range, list } of LISTS) if (list.check(ip, family)) return range;
  return null;
}

/** RFC 5952 text (lower-case, longest zero run compressed), via the WHATWG URL host serializer. */
function canonicalV6(ip: string): string | null {
  try {
    return new URL(`http://[${ip}]/`).hostname.slice(1, -1);
  } catch {
    return null;
  }
}

/** The IPv4 inside an IPv4-mapped (::ffff:0:0/96) or NAT64 well-known-prefix (64:ff9b::/96) address. */
function embeddedIpv4(canonical: string): string | null {
  const h = hextets(canonical);
  const mapped = h[0] === 0 && h[1] === 0 && h[2] === 0 && h[3] === 0 && h[4] === 0 && h[5] === 0xffff;
  const nat64 = h[0] === 0x64 && h[1] === 0xff9b && h[2] === 0 && h[3] === 0 && h[4] === 0 && h[5] === 0;
  if (!mapped && !nat64) return null;
  const hi = h[6] ?? 0;
  const lo = h[7] ?? 0;
  return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
}

/** The eight 16-bit groups of a canonical (hex-only) IPv6 address. */
function hextets(canonical: string): number[] {
  const [head = "", tail] = canonical.split("::");
  const parse = (s: string) => (s === "" ? [] : s.split(":").map((g) => parseInt(g, 16)));
  const left = parse(head);
  const right = tail === undefined ? [] : parse(tail);
  return [...left, ...Array<number>(8 - left.length - right.length).fill(0), ...right];
}
