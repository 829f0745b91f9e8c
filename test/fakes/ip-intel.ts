/**
 * Deterministic "ground truth" threat intel shared by FakeAbuseIpDb and FakeVirusTotal, so that an IP
 * that is malicious in one provider is malicious in the other (a consistent world for end-to-end tests).
 */
import { isIP } from "node:net";
import { fnv1a } from "./http-fake.js";

/** Reputation class of an IP in the fake world. */
export type IpClass = "private" | "malicious" | "suspicious" | "clean";

/** True for a syntactically valid IPv4/IPv6 address. */
export function isValidIp(ip: string): boolean {
  return isIP(ip) !== 0;
}

/**
 * Non-public address: RFC 1918, loopback, link-local, CGNAT, 0/8, multicast/reserved (>= 224), and IPv6
 * ::, ::1, fc00::/7, fe80::/10. Documentation ranges (192.0.2/24, 198.51.100/24, 203.0.113/24) are treated
 * as PUBLIC on purpose so tests can use them as example attacker IPs.
 */
export function isPrivateIp(ip: string): boolean {
  const v = isIP(ip);
  if (v === 4) {
    const [a = 0, b = 0] = ip.split(".").map(Number);
    return (
      a === 0 ||
      a === 10 ||
      a === 127 ||
      a >= 224 ||
      (a === 169 && b === 254) ||
      (a === 172 && b >= 16 && b <= 31) ||
      (a === 192 && b === 168) ||
      (a === 100 && b >= 64 && b <= 127)
    );
  }
  if (v === 6) {
    const lower = ip.toLowerCase();
    if (lower === "::" || lower === "::1") return true;
    if (lower.startsWith("::ffff:")) return isPrivateIp(lower.slice(7));
    return /^f[cd]/.test(lower) || /^fe[89ab]/.test(lower);
  }
  return false;
}

/** Default class of a valid IP: private per {@link isPrivateIp}; else by hash ~20% malicious, ~15% suspicious, ~65% clean. */
export function defaultIpClass(ip: string): IpClass {
  if (isPrivateIp(ip)) return "private";
  const bucket = fnv1a(`class:${ip}`) % 100;
  if (bucket < 20) return "malicious";
  if (bucket < 35) return "suspicious";
  return "clean";
}

/** Stable per-IP integer for deriving details (ASN, ISP, counts...). */
export function ipHash(ip: string, salt = ""): number {
  return fnv1a(`${salt}:${ip}`);
}

const FIRST_OCTETS = [5, 23, 31, 37, 45, 46, 51, 62, 77, 80, 85, 91, 94, 103, 109, 141, 159, 176, 185, 193, 194, 195, 212, 217];

/**
 * `n` distinct public IPv4 addresses whose default class is `kind` (deterministic; `offset` skips matches so
 * two callers can get disjoint sets). Use with fakes that don't override that IP's class.
 */
export function sampleIps(kind: Exclude<IpClass, "private">, n: number, offset = 0): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  let skipped = 0;
  for (let i = 0; out.length < n && i < 50_000_000; i++) {
    const ip = `${FIRST_OCTETS[i % FIRST_OCTETS.length]}.${(i >>> 5) & 255}.${(i * 7 + 13) & 255}.${(i % 253) + 1}`;
    if (seen.has(ip) || defaultIpClass(ip) !== kind) continue;
    seen.add(ip);
    if (skipped < offset) {
      skipped++;
      continue;
    }
    out.push(ip);
  }
  return out;
}

/** Small deterministic geo/ASN table the TI fakes draw from. */
export const NETWORKS = [
  {
    asn: 14061,
    as_owner: "DIGITALOCEAN-ASN",
    isp: "DigitalOcean LLC",
    domain: "digitalocean.com",
    country: "US",
    continent: "NA",
    rir: "ARIN",
    usage: "Data Center/Web Hosting/Transit",
  },
  {
    asn: 16276,
    as_owner: "OVH SAS",
    isp: "OVH SAS",
    domain: "ovhcloud.com",
    country: "FR",
    continent: "EU",
    rir: "RIPE NCC",
    usage: "Data Center/Web Hosting/Transit",
  },
  {
    asn: 4134,
    as_owner: "Chinanet",
    isp: "China Telecom",
    domain: "chinatelecom.com.cn",
    country: "CN",
    continent: "AS",
    rir: "APNIC",
    usage: "Fixed Line ISP",
  },
  {
    asn: 3320,
    as_owner: "Deutsche Telekom AG",
    isp: "Deutsche Telekom AG",
    domain: "telekom.de",
    country: "DE",
    continent: "EU",
    rir: "RIPE NCC",
    usage: "Fixed Line ISP",
  },
  { asn: 12389, as_owner: "Rostelecom", isp: "Rostelecom", domain: "rt.ru", country: "RU", continent: "EU", rir: "RIPE NCC", usage: "Fixed Line ISP" },
  {
    asn: 7922,
    as_owner: "COMCAST-7922",
    isp: "Comcast Cable Communications, LLC",
    domain: "comcast.net",
    country: "US",
    continent: "NA",
    rir: "ARIN",
    usage: "Fixed Line ISP",
  },
  {
    asn: 9009,
    as_owner: "M247 Europe SRL",
    isp: "M247 Europe SRL",
    domain: "m247.com",
    country: "RO",
    continent: "EU",
    rir: "RIPE NCC",
    usage: "Data Center/Web Hosting/Transit",
  },
  {
    asn: 45090,
    as_owner: "Shenzhen Tencent Computer Systems Company Limited",
    isp: "Tencent Cloud Computing (Beijing) Co. Ltd",
    domain: "tencent.com",
    country: "CN",
    continent: "AS",
    rir: "APNIC",
    usage: "Data Center/Web Hosting/Transit",
  },
  { asn: 15169, as_owner: "GOOGLE", isp: "Google LLC", domain: "google.com", country: "US", continent: "NA", rir: "ARIN", usage: "Content Delivery Network" },
  {
    asn: 8075,
    as_owner: "MICROSOFT-CORP-MSN-AS-BLOCK",
    isp: "Microsoft Corporation",
    domain: "microsoft.com",
    country: "NL",
    continent: "EU",
    rir: "RIPE NCC",
    usage: "Data Center/Web Hosting/Transit",
  },
] as const;

/** The network (ASN/ISP/country) an IP belongs to in the fake world. */
export function networkOf(ip: string): (typeof NETWORKS)[number] {
  return NETWORKS[ipHash(ip, "net") % NETWORKS.length]!;
}

/** A "/24" (IPv4) or "/48" (IPv6) CIDR containing `ip`. */
export function cidrOf(ip: string): string {
  if (isIP(ip) === 4) return `${ip.split(".").slice(0, 3).join(".")}.0/24`;
  return `${ip.split(":").slice(0, 3).join(":")}::/48`;
}

/** Fixed reference "now" for derived timestamps (2025-01-01T00:00:00Z), so bodies are byte-stable across runs. */
export const REFERENCE_EPOCH_S = 1_735_689_600;
