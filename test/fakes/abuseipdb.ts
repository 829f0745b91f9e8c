/**
 * Loopback fake of AbuseIPDB APIv2 `GET /api/v2/check` (wire format per shared/reference/external-apis.md §B):
 * `Key` header auth (401), `ipAddress`/`maxAgeInDays` validation (422), JSON:API-style `{"errors":[...]}`
 * bodies, `X-RateLimit-*` headers on every 200, and 429 with `Retry-After`/`X-RateLimit-*` when the daily
 * budget (or the optional per-window `rpm`) is spent. Data per IP is deterministic (see ./ip-intel.ts).
 */
import type { IncomingMessage } from "node:http";
import { HttpFake, WindowLimiter, type BaseFakeOptions, type Outcome, type Reply, type RequestContext } from "./http-fake.js";
import { REFERENCE_EPOCH_S, defaultIpClass, ipHash, isValidIp, networkOf, type IpClass } from "./ip-intel.js";

/** Fault kinds: `429` (daily-limit body + headers), `429_no_headers` (same body, no headers), `500`/`503` (JSON envelope),
 * `502_html` (Cloudflare-style HTML page), `hang`, `reset` (drop connection), `malformed` (200 with truncated JSON). */
export type AbuseIpDbFaultKind = "429" | "429_no_headers" | "500" | "502_html" | "503" | "hang" | "reset" | "malformed";

/** `data` of a successful check (non-verbose fields; verbose adds `countryName` and `reports`). */
export interface AbuseIpDbCheckData {
  ipAddress: string;
  isPublic: boolean;
  ipVersion: 4 | 6;
  isWhitelisted: boolean | null;
  abuseConfidenceScore: number;
  countryCode: string | null;
  countryName?: string;
  usageType: string | null;
  isp: string | null;
  domain: string | null;
  hostnames: string[];
  isTor: boolean;
  totalReports: number;
  numDistinctUsers: number;
  lastReportedAt: string | null;
  reports?: AbuseIpDbReport[];
}

/** One entry of verbose `reports[]`. */
export interface AbuseIpDbReport {
  reportedAt: string;
  comment: string;
  categories: number[];
  reporterId: number;
  reporterCountryCode: string | null;
  reporterCountryName: string | null;
}

export interface FakeAbuseIpDbOptions extends BaseFakeOptions<AbuseIpDbFaultKind> {
  /** Accepted API key(s) (header `Key`, or query `key`). Default "test-abuseipdb-key". */
  apiKey?: string | readonly string[];
  /** Daily check budget (the real free plan: 1000). Default 1000; Infinity disables (and drops the X-RateLimit headers). */
  daily?: number;
  /** Length of a "day" (ms), anchored at the fake's start; scale down in tests. Default 86_400_000. */
  dayMs?: number;
  /** Per-window limit (the real API documents none). Default Infinity. */
  rpm?: number;
  /** Window for `rpm` (ms). Default 60_000. */
  windowMs?: number;
  /** `rpm` window kind. Default "sliding". */
  windowMode?: "sliding" | "fixed";
  /** IP → abuseConfidenceScore override (class follows: >=75 malicious, >=25 suspicious, else clean). */
  scores?: Record<string, number>;
  /** IP → class override (score is then derived from the class). */
  classes?: Record<string, Exclude<IpClass, "private">>;
  /** IP → field overrides merged last over the derived record. */
  records?: Record<string, Partial<AbuseIpDbCheckData>>;
  /** Like the real API, error bodies are HTML when `Accept` lacks application/json. Default true. */
  requireAcceptJson?: boolean;
}

const DEFAULT_KEY = "test-abuseipdb-key";
const BAD_KEY_DETAIL = "Authentication failed. Your API key is either missing, incorrect, or revoked. Note: The APIv2 key differs from the APIv1 key.";
const BAD_IP_DETAIL = "The ip address must be a valid IPv4 or IPv6 address (e.g. 8.8.8.8 or 2001:4860:4860::8888).";
const COUNTRY_NAMES: Record<string, string> = {
  US: "United States of America",
  FR: "France",
  CN: "China",
  DE: "Germany",
  RU: "Russian Federation",
  RO: "Romania",
  NL: "Netherlands",
};

/** Derive the deterministic check record for `ip` (exported so tests can compute expectations). */
export function abuseIpDbRecord(ip: string, opts: Pick<FakeAbuseIpDbOptions, "scores" | "classes" | "records"> = {}, verbose = false): AbuseIpDbCheckData {
  const ipVersion = ip.includes(":") ? 6 : 4;
  const h = ipHash(ip, "abuse");
  const override = opts.scores?.[ip];
  let cls: IpClass = opts.classes?.[ip] ?? defaultIpClass(ip);
  if (override !== undefined) cls = override >= 75 ? "malicious" : override >= 25 ? "suspicious" : "clean";
  let record: AbuseIpDbCheckData;
  if (cls === "private" && override === undefined) {
    record = {
      ipAddress: ip,
      isPublic: false,
      ipVersion,
      isWhitelisted: false,
      abuseConfidenceScore: 0,
      countryCode: null,
      usageType: "Reserved",
      isp: null,
      domain: null,
      hostnames: [],
      isTor: false,
      totalReports: 0,
      numDistinctUsers: 0,
      lastReportedAt: null,
    };
    if (verbose) record.reports = [];
  } else {
    const net = networkOf(ip);
    const score = override ?? (cls === "malicious" ? 90 + (h % 11) : cls === "suspicious" ? 25 + (h % 50) : 0);
    const totalReports = score === 0 ? 0 : cls === "malicious" ? 50 + (h % 500) : 1 + (h % 20);
    const last = totalReports === 0 ? null : isoUtc(REFERENCE_EPOCH_S - (h % 30) * 86_400 - (h % 86_400));
    const countryName = verbose ? { countryName: COUNTRY_NAMES[net.country] ?? net.country } : {};
    record = {
      ipAddress: ip,
      isPublic: true,
      ipVersion,
      isWhitelisted: false,
      abuseConfidenceScore: score,
      countryCode: net.country,
      ...countryName,
      usageType: net.usage,
      isp: net.isp,
      domain: net.domain,
      hostnames: [],
      isTor: cls === "malicious" && h % 7 === 0,
      totalReports,
      numDistinctUsers: Math.min(totalReports, score === 0 ? 0 : 1 + (h % 120)),
      lastReportedAt: last,
    };
    if (verbose) {
      record.reports = Array.from({ length: Math.min(totalReports, 3) }, (_, i) => ({
        reportedAt: isoUtc(REFERENCE_EPOCH_S - i * 3_600 - (h % 3_600)),
        comment: i % 2 === 0 ? `sshd[${1000 + i}]: Failed password for root from ${ip} port 22` : `Port scan from ${ip}`,
        categories: i % 2 === 0 ? [18, 22] : [14],
        reporterId: 1 + ((h + i) % 5000),
        reporterCountryCode: "US",
        reporterCountryName: "United States of America",
      }));
    }
  }
  return { ...record, ...opts.records?.[ip] };
}

function isoUtc(epochS: number): string {
  return new Date(epochS * 1000).toISOString().replace(/\.\d{3}Z$/, "+00:00");
}

/** Fake AbuseIPDB. Counters are inherited from HttpFake; `keyCounts` is keyed by the `ipAddress` queried. */
export class FakeAbuseIpDb extends HttpFake<AbuseIpDbFaultKind> {
  /** The limiter for the daily budget (exposed for assertions/manual resets). */
  readonly dailyLimiter: WindowLimiter;
  /** The optional per-window limiter. */
  readonly rpmLimiter: WindowLimiter;
  private readonly keys: Set<string>;
  private readonly opts: FakeAbuseIpDbOptions;

  private constructor(opts: FakeAbuseIpDbOptions) {
    super(opts, ["429", "500", "503", "reset"]);
    this.opts = opts;
    const k = opts.apiKey ?? DEFAULT_KEY;
    this.keys = new Set(typeof k === "string" ? [k] : k);
    this.dailyLimiter = new WindowLimiter(opts.daily ?? 1000, opts.dayMs ?? 86_400_000, "fixed", this.startedAt);
    this.rpmLimiter = new WindowLimiter(opts.rpm ?? Infinity, opts.windowMs ?? 60_000, opts.windowMode ?? "sliding", this.startedAt);
  }

  /** Start listening on 127.0.0.1:<random>. */
  static async start(opts: FakeAbuseIpDbOptions = {}): Promise<FakeAbuseIpDb> {
    const fake = new FakeAbuseIpDb(opts);
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
    return errorReply(status, status === 503 ? "Service Unavailable" : "Internal Server Error", true);
  }

  protected async handle(req: IncomingMessage, ctx: RequestContext): Promise<Outcome> {
    const json = !(this.opts.requireAcceptJson ?? true) || (req.headers.accept ?? "").includes("application/json");
    if (!/(^|\/)api\/v2\/check$/.test(ctx.url.pathname)) return errorReply(404, "Not Found", json);
    if (req.method !== "GET") return errorReply(405, "The method is not allowed for the requested URL.", json);
    const ip = ctx.url.searchParams.get("ipAddress");
    if (ip !== null) ctx.keys.push(ip);

    const key = headerValue(req.headers.key) ?? ctx.url.searchParams.get("key");
    if (key === null || !this.keys.has(key)) return errorReply(401, BAD_KEY_DETAIL, json);
    if (ip === null || ip === "") return errorReply(422, "The ip address field is required.", json, "ipAddress");
    if (!isValidIp(ip)) return errorReply(422, BAD_IP_DETAIL, json, "ipAddress");
    const maxAge = ctx.url.searchParams.get("maxAgeInDays");
    if (maxAge !== null && !(/^\d+$/.test(maxAge) && Number(maxAge) >= 1 && Number(maxAge) <= 365)) {
      return errorReply(422, "The max age in days must be between 1 and 365.", json);
    }

    const now = ctx.now;
    if (this.dailyLimiter.waitMs(now) > 0) {
      ctx.violation = "daily";
      return this.dailyExceeded(now, json, true);
    }
    const wait = this.rpmLimiter.waitMs(now);
    if (wait > 0) {
      ctx.violation = "rpm";
      const headers = this.limitHeaders(now);
      headers["Retry-After"] = String(Math.ceil(wait / 1000));
      headers["X-RateLimit-Reset"] = String(Math.ceil((now + wait) / 1000));
      return { ...errorReply(429, "Too many requests. Please slow down. See headers for additional details.", json), headers };
    }
    this.dailyLimiter.consume(now);
    this.rpmLimiter.consume(now);

    const fault = this.takeFault(ctx.seq, ip);
    ctx.fault = fault;
    switch (fault) {
      case "429":
        return this.dailyExceeded(now, json, true);
      case "429_no_headers":
        return this.dailyExceeded(now, json, false);
      case "500":
        return errorReply(500, "Internal Server Error", json);
      case "503":
        return errorReply(503, "Service Unavailable", json);
      case "502_html":
        return { status: 502, contentType: "text/html; charset=UTF-8", body: CLOUDFLARE_502 };
      case "hang":
        return "hang";
      case "reset":
        return "reset";
      default:
        break;
    }
    const verbose = ctx.url.searchParams.has("verbose") && !/^(false|0)$/i.test(ctx.url.searchParams.get("verbose") ?? "");
    const body = { data: abuseIpDbRecord(ip, this.opts, verbose) };
    const headers = this.limitHeaders(now);
    if (fault === "malformed") {
      const text = JSON.stringify(body);
      return { status: 200, headers, body: text.slice(0, Math.floor(text.length / 2)) };
    }
    return { status: 200, headers, body };
  }

  private limitHeaders(now: number): Record<string, string> {
    if (!Number.isFinite(this.dailyLimiter.limit)) return {};
    return {
      "X-RateLimit-Limit": String(this.dailyLimiter.limit),
      "X-RateLimit-Remaining": String(this.dailyLimiter.remaining(now)),
    };
  }

  private dailyExceeded(now: number, json: boolean, withHeaders: boolean): Reply {
    const limit = this.dailyLimiter.limit;
    const reply = errorReply(
      429,
      `Daily rate limit of ${Number.isFinite(limit) ? limit : 1000} requests exceeded for this endpoint. See headers for additional details.`,
      json,
    );
    if (!withHeaders) return reply;
    const resetAt = this.dailyLimiter.windowEnd(now);
    return {
      ...reply,
      headers: {
        "Retry-After": String(Math.max(1, Math.ceil((resetAt - now) / 1000))),
        "X-RateLimit-Limit": String(Number.isFinite(limit) ? limit : 1000),
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": String(Math.ceil(resetAt / 1000)),
      },
    };
  }
}

function headerValue(v: string | string[] | undefined): string | null {
  if (v === undefined) return null;
  return Array.isArray(v) ? (v[0] ?? null) : v;
}

/** `{"errors":[{detail,status[,source]}]}` (or an HTML page when the client did not ask for JSON). */
function errorReply(status: number, detail: string, json: boolean, parameter?: string): Reply {
  if (!json) {
    return {
      status,
      contentType: "text/html; charset=UTF-8",
      body: `<!DOCTYPE html><html><head><title>AbuseIPDB - Error ${status}</title></head><body><h1>${status}</h1><p>${detail}</p></body></html>`,
    };
  }
  const error: { detail: string; status: number; source?: { parameter: string } } = { detail, status };
  if (parameter !== undefined) error.source = { parameter };
  return { status, body: { errors: [error] } };
}

const CLOUDFLARE_502 =
  "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>cloudflare</center>\r\n</body>\r\n</html>\r\n";
