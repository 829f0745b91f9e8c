// Shared by the verdict-memory bench generators: a seeded stream of attackers (Zipf over source IPs, each with its
// habits and its threat intel), noise that varies per alert (user and host names, destination IPs, free text,
// session ids, unrelated numbers), and the reading of a prompt line back into values a hidden truth decides on.
import type { Alert } from "../../src/core/alert.js";
import type { Enrichment } from "../../src/core/enrichment.js";
import type { EnrichedAlert } from "../../src/core/ports/index.js";
import type { Severity } from "../../src/core/severity.js";
import { unmark } from "../../src/transforms/classify/prompt.js";
import type { GeminiDecision, PromptAlert } from "../../test/fakes/gemini.js";
import { mulberry32 } from "../../test/fakes/http-fake.js";

/** A benchmark stream and the hidden truth the fake model answers by (from what the prompt shows, nothing else). */
export interface Generator {
  name: string;
  /** One line: what decides the verdict. */
  truthSummary: string;
  generate(count: number, seed: number): EnrichedAlert[];
  decide(alert: PromptAlert): GeminiDecision;
}

export type Rng = () => number;

export const rng = (seed: number): Rng => mulberry32(seed);
export const pick = <T>(r: Rng, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
export const int = (r: Rng, lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));
export const logUniform = (r: Rng, lo: number, hi: number): number => Math.round(Math.exp(Math.log(lo) + r() * (Math.log(hi) - Math.log(lo))));

/** Zipf(s) sampler over n ranks (rank 0 most frequent). */
export function zipf(r: Rng, n: number, s = 1.1): () => number {
  const cdf: number[] = [];
  let total = 0;
  for (let k = 1; k <= n; k++) {
    total += 1 / k ** s;
    cdf.push(total);
  }
  return () => {
    const u = r() * total;
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

/** One repeating attacker: its address, threat intel and habits. */
export interface Attacker {
  ip: string;
  public: boolean;
  abuse: number;
  reports: number;
  vtMalicious: number;
  /** Index of the alert kind it mostly triggers. */
  habit: number;
  /** Typical count (failed logins, processes...). */
  base: number;
}

export function attackers(r: Rng, n: number, kinds: number): Attacker[] {
  return Array.from({ length: n }, (_, i) => {
    const isPublic = r() < 0.85;
    const tier = r();
    const abuse = !isPublic ? 0 : tier < 0.4 ? int(r, 0, 30) : tier < 0.7 ? int(r, 31, 74) : int(r, 75, 100);
    return {
      ip: isPublic ? `${int(r, 11, 99)}.${int(r, 0, 255)}.${int(r, 0, 255)}.${(i % 250) + 2}` : `10.${int(r, 0, 255)}.${int(r, 0, 255)}.${(i % 250) + 2}`,
      public: isPublic,
      abuse,
      reports: abuse === 0 ? int(r, 0, 2) : logUniform(r, 1, 40 * abuse + 1),
      vtMalicious: abuse >= 80 ? int(r, 0, 12) : abuse >= 50 ? int(r, 0, 3) : 0,
      habit: int(r, 0, kinds - 1),
      base: logUniform(r, 1, 60),
    };
  });
}

const FIRST = [
  "anna",
  "bob",
  "chen",
  "dara",
  "eli",
  "fatima",
  "goran",
  "hana",
  "ivan",
  "jo",
  "kim",
  "lea",
  "mo",
  "nia",
  "omar",
  "pia",
  "raj",
  "sara",
  "tom",
  "uma",
  "vik",
  "wen",
  "yara",
  "zoe",
];
const LAST = ["smith", "ng", "kowalski", "diaz", "okafor", "berg", "tanaka", "rossi", "haddad", "novak", "silva", "ivanova"];
const PRIVILEGED = ["admin", "root", "administrator", "svc-backup", "svc-deploy", "svc-sql", "adm-ops", "sa"];
const WORDS = [
  "alpha",
  "bravo",
  "delta",
  "echo",
  "kilo",
  "lima",
  "oscar",
  "quartz",
  "ruby",
  "sierra",
  "tango",
  "umbra",
  "vortex",
  "zephyr",
  "nimbus",
  "orbit",
  "pulse",
  "relay",
];

/** A user name: privileged (share p) or an ordinary one, with per-alert variation in the name. */
export function userName(r: Rng, privilegedShare: number): string {
  if (r() < privilegedShare) return pick(r, PRIVILEGED);
  return `${pick(r, FIRST)}.${pick(r, LAST)}${int(r, 1, 999)}`;
}

/** What the truth reads from a user name (the model would see "admin" / "svc-" the same way). */
export function isPrivileged(user: string | null): boolean {
  return user !== null && /^(admin|root|administrator|sa)$|^(svc|adm)-/.test(user);
}

export type HostRole = "dc" | "server" | "workstation" | "other";
const HOST_PREFIX: Record<HostRole, readonly string[]> = {
  dc: ["dc-", "ad-"],
  server: ["srv-web-", "db-", "app-", "mail-", "fs-"],
  workstation: ["ws-", "laptop-", "desktop-"],
  other: ["kiosk-", "printer-", "lab-", "cam-", "tv-"],
};

export function hostName(r: Rng, role: HostRole): string {
  return `${pick(r, HOST_PREFIX[role])}${int(r, 1, 4000)}`;
}

export function hostRole(host: string | null): HostRole | null {
  if (host === null) return null;
  for (const role of ["dc", "server", "workstation", "other"] as const) if (HOST_PREFIX[role].some((p) => host.startsWith(p))) return role;
  return "other";
}

/** Free text with the alert's names, numbers and a random word: no two alike. */
export function freeText(r: Rng, what: string, src: string, host: string, n: number): string {
  return `${what} from ${src} against ${host}: ${n} events, correlation tag ${pick(r, WORDS)}-${int(r, 100, 99999)} (${pick(r, ["sensor", "agent", "collector"])} ${int(r, 1, 60)})`;
}

export function enrichment(a: Attacker): Enrichment {
  if (!a.public)
    return { ip: a.ip, ip_role: "source", abuseipdb: { status: "skipped", skipped: "private" }, virustotal: { status: "skipped", skipped: "private" } };
  return {
    ip: a.ip,
    ip_role: "source",
    abuseipdb: {
      status: "ok",
      cached: false,
      data: {
        abuse_confidence_score: a.abuse,
        country: a.abuse > 50 ? "RU" : "US",
        usage_type: a.abuse > 50 ? "Data Center/Web Hosting/Transit" : "Fixed Line ISP",
        isp: `isp-${a.ip.split(".")[0]}`,
        total_reports: a.reports,
        is_tor: false,
        last_reported_at: null,
      },
    },
    virustotal: {
      status: "ok",
      cached: false,
      data: {
        malicious: a.vtMalicious,
        suspicious: a.vtMalicious > 0 ? 1 : 0,
        harmless: 60,
        undetected: 20,
        reputation: a.vtMalicious > 0 ? -5 * a.vtMalicious : 0,
        as_owner: null,
        country: null,
      },
    },
  };
}

export function alertOf(over: Partial<Alert> & Pick<Alert, "alert_id" | "alert_name" | "severity">): Alert {
  return {
    source_ip: null,
    destination_ip: null,
    user: null,
    host: null,
    timestamp: "2026-12-01T00:00:00Z",
    description: null,
    format: "native",
    fields: {},
    ...over,
  };
}

/** Values of a prompt line the truth reads: names unmarked, the AbuseIPDB score (0 when none). */
export function readPrompt(alert: PromptAlert): {
  name: string;
  user: string | null;
  host: string | null;
  abuse: number;
  vtMalicious: number;
  fields: Record<string, unknown>;
} {
  const text = (v: unknown) => (typeof v === "string" ? unmark(v) : null);
  const ti = alert.ti as { abuseipdb?: unknown; virustotal?: unknown } | undefined;
  const num = (o: unknown, k: string) => (typeof o === "object" && o !== null ? Number((o as Record<string, unknown>)[k] ?? 0) : 0);
  return {
    name: text(alert.alert_name) ?? "",
    user: text(alert.user),
    host: text(alert.host),
    abuse: num(ti?.abuseipdb, "abuse_confidence_score"),
    vtMalicious: num(ti?.virustotal, "malicious"),
    fields: (alert.fields as Record<string, unknown> | undefined) ?? {},
  };
}

/** The answer for a classification: severity and wording follow it. */
export function answer(classification: GeminiDecision["classification"], why: string): GeminiDecision {
  const severity: Severity = classification === "true_positive" ? "high" : classification === "needs_review" ? "medium" : "low";
  return {
    classification,
    severity,
    confidence: classification === "needs_review" ? 60 : 85,
    reasoning: why,
    recommended_actions: classification === "false_positive" ? ["Close as benign"] : ["Investigate the source"],
    mitre_techniques: [],
  };
}

/** A per-kind parameter from the kind's index (fixed across seeds: the hidden truth does not change per run). */
export function kindRng(generator: string, kind: number): Rng {
  let h = 2166136261;
  for (const c of `${generator}:${kind}`) h = Math.imul(h ^ c.charCodeAt(0), 16777619);
  return rng(h >>> 0);
}
