/**
 * Candidate features of one alert for the verdict memory (pure), kept separate instead of hashed into one key, so
 * a rule's tree can learn which of them decide its verdict. The material is the pattern key's (src/core/cache-keys.ts
 * PatternSignature: severity, user class, asset role, templated strings, identifier numbers), except that numbers
 * stay numbers — a split learns its own threshold instead of relying on fixed buckets:
 *   severity, src_ip / dst_ip class (public | private | invalid | none), user (privileged | user | none), asset role,
 *   threat intel (ti.abuse.score, ti.abuse.reports, ti.vt.malicious, ... as numbers; tor, country, usage, or the
 *   provider status when there is no data; ti.strong: whether the source's intel reaches the operator's guard
 *   thresholds, yes | no), description and string fields as templates (the alert's own
 *   names, times and ids masked), numeric fields as numbers (identifier-like ones — port, code, id — as values).
 * The rule an alert is learnt under is its format plus its normalized name.
 */
import type { Enrichment } from "../../../core/enrichment.js";
import { normalizeText, type KeyDeriver } from "../../../core/cache-keys.js";
import { classifyIp } from "../../../core/ip.js";
import type { EnrichedAlert } from "../../../core/ports/index.js";
import { strongThreatIntel, type GuardOptions } from "../guard.js";

/** A number (thresholds are learnt) or a categorical value (compared for equality). */
export type FeatureValue = number | string;

/** What the memory knows of one alert. */
export interface AlertFeatures {
  /** `format:normalized name` — one tree per rule. */
  rule: string;
  values: Record<string, FeatureValue>;
  /** The alert's source IP (canonical), for the diversity requirement of false_positive answers; not a feature. */
  source: string | null;
  /**
   * The source's network (IPv4 /24, IPv6 /48): what false_positive source diversity counts, so one attacker
   * rotating addresses of one prefix is one source. Null for no source or an unparseable one (free text): those
   * never count toward diversity. Not a feature (no split tests it).
   */
  network: string | null;
}

/** Bumped when the feature derivation changes: a fresh memory instead of misreading old examples. */
export const FEATURE_VERSION = "f3";
/** Whether the source's threat intel reaches the guard's thresholds ("yes" | "no"; absent without enrichment). */
export const STRONG_INTEL = "ti.strong";
/** Value of a feature an alert does not have. */
export const MISSING = "∅";
const MAX_FIELD_FEATURES = 48;
const MAX_VALUE_CHARS = 160;
const MAX_DEPTH = 4;

/**
 * Features of one alert; the deriver supplies the pattern key's user/asset classes and templates. With the guard's
 * thresholds (operator config), `ti.strong` says whether the source's intel is strong by the operator's own measure:
 * one two-valued test where a model's "strong threat intel makes it needs_review" would otherwise be learnt as
 * several guessed thresholds on the scores (and each leaf's answer checked against it: tree.ts IDENTITY_CLASSES).
 */
export function alertFeatures(item: EnrichedAlert, keys: KeyDeriver, guard?: GuardOptions): AlertFeatures {
  const a = item.alert;
  const sig = keys.signature(item);
  const values: Record<string, FeatureValue> = {
    severity: a.severity,
    src_ip: ipClass(a.source_ip),
    dst_ip: ipClass(a.destination_ip),
    user: sig.user ?? "none",
    asset: sig.asset ?? "none",
  };
  if (sig.desc !== undefined) values.description = cap(sig.desc);
  tiFeatures(item.enrichment, values);
  if (guard && item.enrichment) values[STRONG_INTEL] = strongThreatIntel(item.enrichment, guard) === null ? "no" : "yes";
  let budget = MAX_FIELD_FEATURES;
  const walk = (raw: unknown, featured: unknown, path: string, depth: number): void => {
    if (budget <= 0 || featured === undefined || raw === undefined || raw === null) return;
    if (
      raw !== null &&
      typeof raw === "object" &&
      !Array.isArray(raw) &&
      featured !== null &&
      typeof featured === "object" &&
      !Array.isArray(featured) &&
      depth < MAX_DEPTH
    ) {
      for (const [k, v] of Object.entries(raw as Record<string, unknown>))
        walk(v, (featured as Record<string, unknown>)[k], path === "" ? k : `${path}.${k}`, depth + 1);
      return;
    }
    budget--;
    const name = `fields.${path}`;
    const n = numeric(raw);
    // The signature keeps identifier-like numbers (port, code, id) as numbers and buckets the rest into strings.
    if (n !== null && typeof featured === "string") values[name] = n;
    else if (typeof featured === "number" || typeof featured === "boolean") values[name] = String(featured);
    else values[name] = cap(typeof featured === "string" ? featured : (JSON.stringify(featured) ?? MISSING));
  };
  // The fields as the model is shown them (no volatile names, raw copies or payload dumps), like the signature's.
  walk(keys.viewer.view(item).fields, sig.fields, "", 0);
  const src = a.source_ip === null ? null : classifyIp(a.source_ip);
  return {
    rule: `${a.format}:${sig.name}`.slice(0, 300),
    values,
    source: src === null ? null : src.kind === "invalid" ? normalizeText(a.source_ip!).toLowerCase().slice(0, MAX_VALUE_CHARS) : src.ip,
    network: src === null || src.kind === "invalid" ? null : networkOf(src.ip, src.version),
  };
}

/** IPv4 /24 or IPv6 /48 of a canonical address. */
export function networkOf(ip: string, version: 4 | 6): string {
  if (version === 4) return `${ip.split(".").slice(0, 3).join(".")}.0/24`;
  if (ip.includes(".")) return `${ip}/128`;
  const [head = "", tail] = ip.split("::");
  const h = head === "" ? [] : head.split(":");
  const t = tail === undefined || tail === "" ? [] : tail.split(":");
  const groups = tail === undefined ? h : [...h, ...Array<string>(Math.max(0, 8 - h.length - t.length)).fill("0"), ...t];
  return `${groups
    .slice(0, 3)
    .map((g) => g.replace(/^0+(?=.)/, ""))
    .join(":")}::/48`;
}

function tiFeatures(e: Enrichment | null, out: Record<string, FeatureValue>): void {
  if (!e) return;
  out["ti.role"] = e.ip_role ?? MISSING;
  const abuse = e.abuseipdb;
  if (abuse.status === "ok") {
    out["ti.abuse.score"] = abuse.data.abuse_confidence_score;
    out["ti.abuse.reports"] = abuse.data.total_reports;
    out["ti.abuse.tor"] = String(abuse.data.is_tor);
    out["ti.abuse.country"] = abuse.data.country?.toLowerCase() ?? MISSING;
    out["ti.abuse.usage"] = cap(abuse.data.usage_type?.toLowerCase() ?? MISSING);
  } else out["ti.abuse.score"] = abuse.status === "skipped" ? `skipped:${abuse.skipped}` : "error";
  const vt = e.virustotal;
  if (vt.status === "ok") {
    out["ti.vt.malicious"] = vt.data.malicious;
    out["ti.vt.suspicious"] = vt.data.suspicious;
    out["ti.vt.reputation"] = vt.data.reputation;
  } else out["ti.vt.malicious"] = vt.status === "skipped" ? `skipped:${vt.skipped}` : "error";
}

function ipClass(ip: string | null): string {
  if (ip === null) return "none";
  const c = classifyIp(ip);
  return c.kind === "public" ? "public" : c.kind === "non_public" ? "private" : "invalid";
}

function numeric(v: unknown): number | null {
  if (typeof v === "number") return Number.isFinite(v) ? v : null;
  if (typeof v === "string" && /^-?\d+(\.\d+)?$/.test(v.trim())) return Number(v.trim());
  return null;
}

function cap(s: string): string {
  return s.length > MAX_VALUE_CHARS ? s.slice(0, MAX_VALUE_CHARS) : s;
}
