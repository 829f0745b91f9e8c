// Shared by the verdict-cache unit tests, the integration test and bench/cache.ts: config, the reference oracle
// (what the fake Gemini answers for an alert, after the classify guard), a counting model, and a stream generator.
import type { Alert } from "../../../../../src/core/alert.js";
import type { Enrichment } from "../../../../../src/core/enrichment.js";
import type { Classifier, EnrichedAlert } from "../../../../../src/core/ports/index.js";
import type { Decision } from "../../../../../src/core/verdict.js";
import { parseAiCacheOptions } from "../../../../../src/config/ai-cache.js";
import { applyGuard } from "../../../../../src/transforms/classify/guard.js";
import { alertLine } from "../../../../../src/transforms/classify/prompt.js";
import type { VerdictCacheConfig } from "../../../../../src/transforms/classify/cache/index.js";
import { extractAlerts, referenceAnalyst } from "../../../../fakes/gemini.js";
import { mulberry32 } from "../../../../fakes/http-fake.js";

export const GUARD = { abuseScoreMin: 90, vtMaliciousMin: 5 };
export const TEST_MODEL = "gemini-test";
export const TEST_PROMPT = "p-test";

/** Verdict-cache options from env-like values, with the guard defaults. */
export function cacheConfig(env: Record<string, string> = {}): VerdictCacheConfig {
  return { ...parseAiCacheOptions(env), GUARD_ABUSE_SCORE_MIN: GUARD.abuseScoreMin, GUARD_VT_MALICIOUS_MIN: GUARD.vtMaliciousMin, GEMINI_MODEL: TEST_MODEL };
}

/** What the fake Gemini's reference analyst answers for this alert as the prompt shows it, then the guard. */
export function referenceDecision(item: EnrichedAlert, maxAlertChars = 1500): Decision {
  const seen = extractAlerts([`<<<ALERTS\n${alertLine(item, maxAlertChars)}\nALERTS>>>`])[0]!;
  const r = referenceAnalyst(seen);
  const d: Decision = { ...r, source: "llm", model: TEST_MODEL, prompt_version: TEST_PROMPT, degraded: false, fallback_reason: null, learnable: true };
  return applyGuard(item, d, GUARD);
}

/** A model stand-in: answers like the reference analyst, records every call, can be held or degraded. */
export class CountingModel implements Classifier {
  readonly name = "gemini";
  readonly calls: string[][] = [];
  gate: Promise<void> | null = null;
  degraded = new Set<string>();
  failNext = false;

  async classify(items: readonly EnrichedAlert[]): Promise<Decision[]> {
    this.calls.push(items.map((i) => i.alert.alert_id));
    if (this.gate) await this.gate;
    if (this.failNext) {
      this.failNext = false;
      throw new Error("model down");
    }
    return items.map((item) =>
      this.degraded.has(item.alert.alert_id)
        ? { ...referenceDecision(item), source: "rules", model: null, prompt_version: "rules-1", degraded: true, fallback_reason: "budget spent" }
        : referenceDecision(item),
    );
  }

  get alertsAsked(): number {
    return this.calls.reduce((n, c) => n + c.length, 0);
  }
}

/** A native alert; override anything. */
export function alert(over: Partial<Alert> = {}): Alert {
  return {
    alert_id: "A-1",
    alert_name: "Brute force login attempts",
    severity: "medium",
    source_ip: "45.155.205.233",
    destination_ip: "10.0.4.21",
    user: "erin",
    host: "laptop-eng-77",
    timestamp: "2026-11-23T08:00:00.000Z",
    description: "12 failed SSH logins for erin on laptop-eng-77 within 5 minutes",
    format: "native",
    fields: { failed_logins: 12, success: false, rule_id: "R-100" },
    ...over,
  };
}

/** Threat intel for an IP. */
export function intel(abuseScore: number, vtMalicious: number, ip = "45.155.205.233"): Enrichment {
  return {
    ip,
    ip_role: "source",
    abuseipdb: {
      status: "ok",
      cached: false,
      data: {
        abuse_confidence_score: abuseScore,
        country: "NL",
        usage_type: "Data Center/Web Hosting/Transit",
        isp: "Example Hosting",
        total_reports: 12,
        is_tor: false,
        last_reported_at: "2026-11-20T00:00:00Z",
      },
    },
    virustotal: {
      status: "ok",
      cached: false,
      data: { malicious: vtMalicious, suspicious: 0, harmless: 60, undetected: 20, reputation: -5, as_owner: "EXAMPLE-AS", country: "NL" },
    },
  };
}

export function item(over: Partial<Alert> = {}, enrichment: Enrichment | null = null): EnrichedAlert {
  return { alert: alert(over), enrichment };
}

// ── A SOC-like stream: Zipf-distributed attacker IPs, each with its habits; counts, users and hosts vary ─────────

/** Deterministic PRNG (mulberry32), shared with the fakes. */
export const rng = mulberry32;

/** Index in [0, n) drawn with weight 1/(rank+1)^s. */
export function zipf(n: number, s: number, random: () => number): () => number {
  const weights = Array.from({ length: n }, (_, k) => 1 / (k + 1) ** s);
  const total = weights.reduce((a, b) => a + b, 0);
  const cdf: number[] = [];
  let acc = 0;
  for (const w of weights) {
    acc += w / total;
    cdf.push(acc);
  }
  return () => {
    const u = random();
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid]! < u) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}

const KINDS = [
  {
    name: "Brute force login attempts",
    severity: "medium",
    counter: "failed_logins",
    text: (n: number, u: string, h: string) => `${n} failed SSH logins for ${u} on ${h} within 5 minutes`,
  },
  {
    name: "Password spray against VPN",
    severity: "high",
    counter: "failed_logins",
    text: (n: number, u: string) => `${n} accounts tried from one address; last target ${u}`,
  },
  {
    name: "Port scan detected",
    severity: "low",
    counter: "ports_probed",
    text: (n: number, _u: string, h: string) => `${n} distinct ports probed on ${h} in 60 seconds`,
  },
  { name: "Repeated failed logins", severity: "low", counter: "failed_logins", text: (n: number, u: string) => `${n} failed logins for ${u}` },
  {
    name: "Suspicious PowerShell: encoded command",
    severity: "high",
    counter: "executions",
    text: (n: number, _u: string, h: string) => `powershell.exe -enc launched ${n} times on ${h}`,
  },
  { name: "Scheduled task ran", severity: "info", counter: "runs", text: (n: number, _u: string, h: string) => `Scheduled task ran ${n} times on ${h}` },
] as const;

const USERS = [
  "alice",
  "bob",
  "carol",
  "dave",
  "erin",
  "frank",
  "grace",
  "heidi",
  "ivan",
  "judy",
  "mallory",
  "oscar",
  "peggy",
  "trent",
  "victor",
  "walter",
  "admin",
  "svc-backup",
  "root",
];
const HOSTS = ["ws-fin-014", "ws-hr-022", "laptop-eng-77", "laptop-eng-12", "srv-db-01", "srv-web-03", "dc-01", "ws-ops-031", "pc-lab-9", "kiosk-2"];

export interface StreamOptions {
  count: number;
  attackers: number;
  seed: number;
  zipfS?: number;
  idPrefix?: string;
}

/** Threat intel of attacker k (fixed per IP, like a day of AbuseIPDB/VirusTotal answers). */
export function attackerIntel(k: number, ip: string): Enrichment {
  const r = rng(1000 + k);
  const abuse = [0, 0, 5, 20, 40, 60, 80, 95, 100][Math.floor(r() * 9)]!;
  const vt = [0, 0, 0, 1, 3, 6, 12][Math.floor(r() * 7)]!;
  return {
    ip,
    ip_role: "source",
    abuseipdb: {
      status: "ok",
      cached: r() < 0.5,
      data: {
        abuse_confidence_score: abuse,
        country: ["RU", "CN", "NL", "US", "BR"][k % 5]!,
        usage_type: "Data Center/Web Hosting/Transit",
        isp: `AS${k}`,
        total_reports: Math.floor(abuse * 3),
        is_tor: k % 23 === 0,
        last_reported_at: "2026-11-20T00:00:00Z",
      },
    },
    virustotal: {
      status: "ok",
      cached: false,
      data: { malicious: vt, suspicious: vt > 3 ? 1 : 0, harmless: 60, undetected: 20, reputation: vt > 0 ? -vt : 0, as_owner: `AS-${k}`, country: null },
    },
  };
}

/** A stream of alerts from repeating attackers: each attacker sticks to one or two alert kinds; counts vary. */
export function attackStream(o: StreamOptions): EnrichedAlert[] {
  const random = rng(o.seed);
  const pickAttacker = zipf(o.attackers, o.zipfS ?? 1.1, random);
  const out: EnrichedAlert[] = [];
  const base = Date.UTC(2026, 10, 23, 8, 0, 0);
  for (let i = 0; i < o.count; i++) {
    const k = pickAttacker();
    const ip = `${45 + (k % 150)}.${(k * 7) % 250}.${(k * 13) % 250}.${(k % 200) + 1}`;
    const habit = rng(k + 7);
    const kinds = [Math.floor(habit() * KINDS.length), Math.floor(habit() * KINDS.length)];
    const kind = KINDS[kinds[random() < 0.8 ? 0 : 1]!]!;
    // Counts vary around the attacker's habit (log-normal-ish), so 8 vs 9 failed logins is the common case.
    const typical = Math.max(1, Math.round(Math.exp(habit() * 4.5)));
    const n = Math.max(1, Math.round(typical * (0.6 + random() * 0.8)));
    const user = USERS[Math.floor(random() * USERS.length)]!;
    const host = HOSTS[Math.floor(random() * HOSTS.length)]!;
    const success = kind.counter === "failed_logins" && habit() < 0.3 ? random() < 0.5 : false;
    const fields: Record<string, unknown> = { [kind.counter]: n, event_uuid: `e-${o.seed}-${i}`, ingested_at: new Date(base + i * 1000).toISOString() };
    if (kind.counter === "failed_logins") fields.success = success;
    out.push({
      alert: {
        alert_id: `${o.idPrefix ?? "S"}-${i}`,
        alert_name: kind.name,
        severity: kind.severity,
        source_ip: ip,
        destination_ip: "10.0.4.21",
        user,
        host,
        timestamp: new Date(base + i * 1000).toISOString(),
        description: kind.text(n, user, host),
        format: "native",
        fields,
      },
      enrichment: attackerIntel(k, ip),
    });
  }
  return out;
}

/** The record a producer would send for a stream alert (native format). */
export function toRecord(e: EnrichedAlert): Record<string, unknown> {
  const a = e.alert;
  return {
    alert_id: a.alert_id,
    alert_name: a.alert_name,
    severity: a.severity,
    source_ip: a.source_ip,
    destination_ip: a.destination_ip,
    user: a.user,
    host: a.host,
    timestamp: a.timestamp,
    description: a.description,
    ...a.fields,
  };
}
