/**
 * Loopback fake of VirusTotal API v3 `GET /api/v3/ip_addresses/{ip}` (shared/reference/external-apis.md §C):
 * `x-apikey` auth, `{"error":{"code":"<Name>","message":...}}` envelopes, public-tier limits (4/min, 500/day)
 * answered with 429 `QuotaExceededError` and no rate-limit headers. Data per IP is deterministic (./ip-intel.ts),
 * consistent with FakeAbuseIpDb (same malicious/suspicious/clean classes).
 */
import type { IncomingMessage } from "node:http";
import { HttpFake, WindowLimiter, type BaseFakeOptions, type Outcome, type Reply, type RequestContext } from "./http-fake.js";
import { REFERENCE_EPOCH_S, cidrOf, defaultIpClass, ipHash, isValidIp, networkOf, type IpClass } from "./ip-intel.js";

/** Fault kinds: `429` (QuotaExceededError), `429_too_many` (TooManyRequestsError), `500` (InternalError, unverified code),
 * `503` (TransientError), `504` (DeadlineExceededError), `hang`, `reset` (drop connection), `malformed` (200, truncated JSON). */
export type VirusTotalFaultKind = "429" | "429_too_many" | "500" | "503" | "504" | "hang" | "reset" | "malformed";

/** `last_analysis_stats` of an IP object. */
export interface VtAnalysisStats {
  harmless: number;
  malicious: number;
  suspicious: number;
  undetected: number;
  timeout: number;
}

/** Attributes the fake returns (all optional in the real API; private IPs get only a few). */
export interface VtIpAttributes {
  as_owner?: string;
  asn?: number;
  continent?: string;
  country?: string;
  network?: string;
  regional_internet_registry?: string;
  jarm?: string;
  reputation: number;
  tags: string[];
  total_votes: { harmless: number; malicious: number };
  last_analysis_date?: number;
  last_modification_date: number;
  last_analysis_stats: VtAnalysisStats;
  last_analysis_results: Record<string, { method: string; engine_name: string; category: string; result: string }>;
  whois?: string;
  whois_date?: number;
}

/** Per-IP overrides: any attribute, with `last_analysis_stats` merged field by field. */
export type VtAttributeOverrides = Partial<Omit<VtIpAttributes, "last_analysis_stats">> & {
  last_analysis_stats?: Partial<VtAnalysisStats>;
};

export interface FakeVirusTotalOptions extends BaseFakeOptions<VirusTotalFaultKind> {
  /** Accepted API key(s) (header `x-apikey`). Default "test-virustotal-key". */
  apiKey?: string | readonly string[];
  /** Requests per window (public tier: 4/min). Default 4; Infinity disables. */
  rpm?: number;
  /** Window for `rpm` (ms). Default 60_000. */
  windowMs?: number;
  /** `rpm` window kind. Default "sliding" (the docs: "at most 4 requests in any given 1 minute time frame"). */
  windowMode?: "sliding" | "fixed";
  /** Daily budget (public tier: 500). Default 500; Infinity disables. */
  daily?: number;
  /** Length of a "day" (ms), anchored at the fake's start. Default 86_400_000. */
  dayMs?: number;
  /** Answer for a syntactically invalid IP (undocumented upstream): 400 InvalidArgumentError (default) or 404 NotFoundError. */
  invalidIpStatus?: 400 | 404;
  /** Valid IPs answered 404 NotFoundError. */
  notFoundIps?: readonly string[];
  /** IP → class override (malicious/suspicious/clean). */
  classes?: Record<string, Exclude<IpClass, "private">>;
  /** IP → attribute overrides merged over the derived ones. */
  records?: Record<string, VtAttributeOverrides>;
  /** Send `Retry-After: <s>` on limiter 429s (the real API may or may not). Default false. */
  retryAfterHeader?: boolean;
}

const DEFAULT_KEY = "test-virustotal-key";
const ENGINES = [
  "Kaspersky",
  "Fortinet",
  "Sophos",
  "ESET",
  "BitDefender",
  "G-Data",
  "CRDF",
  "CyRadar",
  "Cyble",
  "Emsisoft",
  "Webroot",
  "Forcepoint ThreatSeeker",
  "alphaMountain.ai",
  "AlienVault",
  "Certego",
  "SOCRadar",
  "Lionic",
  "MalwareURL",
  "PhishTank",
  "OpenPhish",
  "Spamhaus",
  "URLhaus",
  "ViriBack",
  "Xcitium Verdict Cloud",
];
const TOTAL_ENGINES = 94;

/** Derive the deterministic IP object attributes for `ip` (exported so tests can compute expectations). */
export function virusTotalAttributes(ip: string, opts: Pick<FakeVirusTotalOptions, "classes" | "records"> = {}): VtIpAttributes {
  const h = ipHash(ip, "vt");
  const cls: IpClass = opts.classes?.[ip] ?? defaultIpClass(ip);
  let attrs: VtIpAttributes;
  if (cls === "private") {
    attrs = {
      reputation: 0,
      tags: [],
      total_votes: { harmless: 0, malicious: 0 },
      last_modification_date: REFERENCE_EPOCH_S,
      last_analysis_stats: { harmless: 0, malicious: 0, suspicious: 0, undetected: TOTAL_ENGINES, timeout: 0 },
      last_analysis_results: {},
    };
  } else {
    const net = networkOf(ip);
    const malicious = cls === "malicious" ? 8 + (h % 15) : cls === "suspicious" ? 1 + (h % 3) : 0;
    const suspicious = cls === "malicious" ? 1 + (h % 3) : cls === "suspicious" ? h % 2 : 0;
    const harmless = 55 + (h % 8);
    const stats: VtAnalysisStats = { harmless, malicious, suspicious, undetected: TOTAL_ENGINES - harmless - malicious - suspicious, timeout: 0 };
    attrs = {
      as_owner: net.as_owner,
      asn: net.asn,
      continent: net.continent,
      country: net.country,
      network: cidrOf(ip),
      regional_internet_registry: net.rir,
      jarm: h.toString(16).padStart(8, "0").repeat(8).slice(0, 62),
      reputation: cls === "malicious" ? -(10 + (h % 60)) : cls === "suspicious" ? -(h % 5) : h % 20,
      tags: [],
      total_votes: { harmless: h % 7, malicious: cls === "clean" ? 0 : 1 + (h % 9) },
      last_analysis_date: REFERENCE_EPOCH_S - (h % 86_400),
      last_modification_date: REFERENCE_EPOCH_S,
      last_analysis_stats: stats,
      last_analysis_results: {},
      whois: `NetRange: ${cidrOf(ip)}\nOrgName: ${net.isp}\nCountry: ${net.country}\n`,
      whois_date: REFERENCE_EPOCH_S - 30 * 86_400,
    };
  }
  const override = opts.records?.[ip];
  if (override) {
    const { last_analysis_stats: statsOverride, ...rest } = override;
    attrs = { ...attrs, ...rest, last_analysis_stats: { ...attrs.last_analysis_stats, ...statsOverride } };
  }
  attrs.last_analysis_results = analysisResults(attrs.last_analysis_stats);
  return attrs;
}

/** A few named engines' results consistent with the stats (first N engines get the "worst" categories). */
function analysisResults(stats: VtAnalysisStats): VtIpAttributes["last_analysis_results"] {
  const cats: [string, string][] = [
    ...Array.from({ length: stats.malicious }, (): [string, string] => ["malicious", "malicious"]),
    ...Array.from({ length: stats.suspicious }, (): [string, string] => ["suspicious", "suspicious"]),
    ...Array.from({ length: stats.harmless }, (): [string, string] => ["harmless", "clean"]),
    ...Array.from({ length: stats.undetected }, (): [string, string] => ["undetected", "unrated"]),
  ];
  const out: VtIpAttributes["last_analysis_results"] = {};
  ENGINES.forEach((engine, i) => {
    const c = cats[i];
    if (c) out[engine] = { method: "blacklist", engine_name: engine, category: c[0], result: c[1] };
  });
  return out;
}

/** Fake VirusTotal. Counters are inherited from HttpFake; `keyCounts` is keyed by the IP in the path. */
export class FakeVirusTotal extends HttpFake<VirusTotalFaultKind> {
  /** The per-window limiter (public tier 4/min by default). */
  readonly rpmLimiter: WindowLimiter;
  /** The daily limiter (public tier 500/day by default). */
  readonly dailyLimiter: WindowLimiter;
  private readonly keys: Set<string>;
  private readonly opts: FakeVirusTotalOptions;
  private readonly notFound: Set<string>;

  private constructor(opts: FakeVirusTotalOptions) {
    super(opts, ["429", "503", "reset"]);
    this.opts = opts;
    const k = opts.apiKey ?? DEFAULT_KEY;
    this.keys = new Set(typeof k === "string" ? [k] : k);
    this.notFound = new Set(opts.notFoundIps ?? []);
    this.rpmLimiter = new WindowLimiter(opts.rpm ?? 4, opts.windowMs ?? 60_000, opts.windowMode ?? "sliding", this.startedAt);
    this.dailyLimiter = new WindowLimiter(opts.daily ?? 500, opts.dayMs ?? 86_400_000, "fixed", this.startedAt);
  }

  /** Start listening on 127.0.0.1:<random>. */
  static async start(opts: FakeVirusTotalOptions = {}): Promise<FakeVirusTotal> {
    const fake = new FakeVirusTotal(opts);
    await fake.listen();
    return fake;
  }

  /** The default API key the fake accepts. */
  static readonly DEFAULT_KEY = DEFAULT_KEY;

  /** The first accepted API key. */
  get apiKey(): string {
    return [...this.keys][0] ?? DEFAULT_KEY;
  }

  /** Start a new "day": the daily budget is full again. */
  resetDay(): void {
    this.dailyLimiter.reset();
  }

  protected downReply(status: number): Reply {
    return status === 503 ? vtError(503, "TransientError", "Transient error, please try again later") : vtError(500, "InternalError", "Internal error");
  }

  protected async handle(req: IncomingMessage, ctx: RequestContext): Promise<Outcome> {
    const m = /(?:^|\/)api\/v3\/ip_addresses\/([^/]+)$/.exec(ctx.url.pathname);
    if (!m) return vtError(404, "NotFoundError", `Resource "${ctx.url.pathname}" not found`);
    let ip: string;
    try {
      ip = decodeURIComponent(m[1] ?? "");
    } catch {
      ip = m[1] ?? "";
    }
    ctx.keys.push(ip);
    if (req.method !== "GET") return vtError(405, "MethodNotAllowedError", `Method ${req.method ?? ""} not allowed`);

    const key = req.headers["x-apikey"];
    const keyValue = Array.isArray(key) ? key[0] : key;
    if (keyValue === undefined || keyValue === "") return vtError(401, "AuthenticationRequiredError", "X-Apikey header is missing");
    if (!this.keys.has(keyValue)) return vtError(401, "WrongCredentialsError", "Wrong API key");

    const now = ctx.now;
    const daily = this.dailyLimiter.waitMs(now);
    const minute = daily > 0 ? 0 : this.rpmLimiter.waitMs(now);
    if (daily > 0 || minute > 0) {
      ctx.violation = daily > 0 ? "daily" : "rpm";
      const reply = vtError(429, "QuotaExceededError", "Quota exceeded");
      if (this.opts.retryAfterHeader) reply.headers = { "Retry-After": String(Math.max(1, Math.ceil(Math.max(daily, minute) / 1000))) };
      return reply;
    }
    // Quota is spent by every authenticated call, even ones that end in 400/404 (VT counts lookups, not hits).
    this.rpmLimiter.consume(now);
    this.dailyLimiter.consume(now);

    if (!isValidIp(ip)) {
      return (this.opts.invalidIpStatus ?? 400) === 404
        ? vtError(404, "NotFoundError", `IP address "${ip}" not found`)
        : vtError(400, "InvalidArgumentError", `"${ip}" is not a valid IP address`);
    }
    if (this.notFound.has(ip)) return vtError(404, "NotFoundError", `IP address "${ip}" not found`);

    const fault = this.takeFault(ctx.seq, ip);
    ctx.fault = fault;
    switch (fault) {
      case "429":
        return vtError(429, "QuotaExceededError", "Quota exceeded");
      case "429_too_many":
        return vtError(429, "TooManyRequestsError", "Too many requests");
      case "500":
        return vtError(500, "InternalError", "Internal error");
      case "503":
        return vtError(503, "TransientError", "Transient error, please try again later");
      case "504":
        return vtError(504, "DeadlineExceededError", "The operation took too long to complete");
      case "hang":
        return "hang";
      case "reset":
        return "reset";
      default:
        break;
    }
    const body = {
      data: {
        id: ip,
        type: "ip_address",
        links: { self: `https://www.virustotal.com/api/v3/ip_addresses/${ip}` },
        attributes: virusTotalAttributes(ip, this.opts),
      },
    };
    if (fault === "malformed") {
      const text = JSON.stringify(body);
      return { status: 200, body: text.slice(0, Math.floor(text.length / 2)) };
    }
    return { status: 200, body };
  }
}

/** The v3 error envelope: `{"error":{"code":"<Name>","message":"..."}}`. */
function vtError(status: number, code: string, message: string): Reply {
  return { status, body: { error: { code, message } } };
}
