/**
 * Cache keys for AI verdicts (pure).
 *
 * Both keys are derived from the alert's model view (model-view.ts): what the model is shown, and nothing else.
 * So a field the keys leave out (ids, times, id-shaped values of volatile names) is never shown to the model either, and an answer
 * is only reused for alerts that show the model the same thing (exact) or the same risk features (pattern).
 *
 * Exact key — the prototype's idea (a hash of the alert with its AbuseIPDB and VirusTotal data), made canonical:
 * the model view (no alert_id or timestamp; volatile, raw and human_override names only when their value is id-,
 * time- or label-shaped, see model-view.ts), object keys sorted,
 * strings trimmed with whitespace runs collapsed, IPs in canonical form, `cached` and last-report times of TI left
 * out, SHA-256 instead of MD5. Two alerts with the same exact key are the same event seen twice: the model sees the
 * same content.
 *
 * Pattern key — what a verdict depends on, and nothing else:
 *   - rule: alert name (lower-cased) and severity;
 *   - source and destination IP (exact, or /24 — /48 for IPv6 — for addresses without TI data when the scope is
 *     `subnet`);
 *   - threat intel: AbuseIPDB confidence in score bands, report count bucket, Tor flag, country, usage type;
 *     VirusTotal malicious/suspicious engines in engine bands, reputation sign; or the provider's status
 *     (skipped: private/no_ip/..., error) when there is no data;
 *   - identity: user class (privileged / user / none) and host role (dc, server, workstation, other, none);
 *   - fields: numbers bucketed by order of magnitude — counts on the count buckets, 0–100 scores
 *     (*score*, *confidence*, *risk*) on the score bands, engine counts (*malicious*, *suspicious*, ...) on the
 *     engine bands, identifier-like numbers (*port*, *code*, *id*, *type*, *level*, ...) kept exactly; booleans
 *     and numeric/boolean strings as values; other strings as templates (below); id- and time-shaped values of volatile names left out;
 *   - description as a template: the alert's own user, host and IPs replaced by placeholders, dates/times, other
 *     IPv4 addresses, UUIDs and long hex ids masked, free-standing numbers bucketed like counts (or left out).
 * Zero is always its own bucket/band ("no reports", "no failed logins" differ from "few"). Everything that
 * identifies one occurrence (ids, timestamps, the user's and host's names) is out, so the same attacker with 8 vs 9
 * failed logins shares a key while 9 vs 10 (a bucket edge) does not. The option values are part of the key
 * (fingerprint), so changing a bucket edge starts a fresh key space instead of reusing answers across it.
 */
import { canonicalJson, sha256Hex } from "./canonical.js";
import type { Enrichment, ProviderResult } from "./enrichment.js";
import { classifyIp, type IpClassification } from "./ip.js";
import { ModelViewer, normalizeText, type ModelView } from "./model-view.js";
import type { EnrichedAlert } from "./ports/index.js";
import type { Severity } from "./severity.js";

/** Version tags at the front of keys: bump when the derivation changes so old entries are never misread. */
export const EXACT_KEY_VERSION = "x2";
export const PATTERN_KEY_VERSION = "p2";

export interface AssetRole {
  role: string;
  pattern: RegExp;
}

/** What goes into a pattern key, and how coarsely (from AI_PATTERN_* options). */
export interface KeyOptions {
  /** Ascending edges for counts; above the last edge, one bucket per power of ten. */
  countBuckets: readonly number[];
  /** Ascending edges for 0–100 scores (AbuseIPDB confidence, *score* fields). */
  scoreBands: readonly number[];
  /** Ascending edges for engine counts (VirusTotal malicious/suspicious). */
  engineBands: readonly number[];
  ipScope: "exact" | "subnet";
  description: "template" | "ignore";
  privilegedUsers: RegExp;
  assetRoles: readonly AssetRole[];
  /** Field names (any depth) whose id-, time- or counter-shaped values are left out of both keys (model-view.ts). */
  volatileFields: RegExp;
}

/** The readable form of a pattern key (hashed into the key; logged and asserted on in tests). */
export interface PatternSignature {
  name: string;
  severity: Severity;
  src: string | null;
  dst: string | null;
  user: "privileged" | "user" | null;
  asset: string | null;
  ti: Record<string, unknown> | null;
  desc?: string;
  fields: unknown;
  /** Digest of the fields the view left out for room (ModelView.omitted). */
  omitted?: string;
}

export interface CacheKeys {
  exact: string;
  pattern: string;
}

/** Numbers under these names identify something (port 22 is not "about 20"): kept exactly. */
const IDENTIFIER_NUMBER = /(port|code|id|ids|type|class|level|version|pid|uid|gid|number|num|no|vlan|protocol|proto|sid|rule)$/i;
const SCORE_NUMBER = /(score|confidence|risk)/i;
const ENGINE_NUMBER = /(malicious|suspicious|positives|detections?|engines?)/i;
/**
 * Recursion guard only: the model view already bounds nesting (a nested value is kept as structure only while its
 * JSON fits VIEW_LIMITS.fieldChars), and everything within the view is part of the keys — a lower cap here let two
 * alerts whose prompt lines differ below it share a key.
 */
const MAX_DEPTH = 256;

export { normalizeText };

/** Derives exact and pattern keys for one configuration (compiled once). */
export class KeyDeriver {
  /** Short hash of the options, part of every pattern key. */
  readonly fingerprint: string;
  private readonly exactSalt: string;
  /** The model view both keys are derived from (the prompt is rendered from the same view). */
  readonly viewer: ModelViewer;

  constructor(private readonly opts: KeyOptions) {
    this.viewer = new ModelViewer({ volatileFields: opts.volatileFields });
    this.fingerprint = sha256Hex(
      canonicalJson({
        c: opts.countBuckets,
        s: opts.scoreBands,
        e: opts.engineBands,
        ip: opts.ipScope,
        d: opts.description,
        p: opts.privilegedUsers.source,
        r: opts.assetRoles.map((r) => [r.role, r.pattern.source]),
        v: opts.volatileFields.source,
      }),
    ).slice(0, 16);
    this.exactSalt = sha256Hex(opts.volatileFields.source).slice(0, 8);
  }

  /** Both keys of an alert (from its model view). */
  keys(item: EnrichedAlert): CacheKeys {
    return this.keysOfView(this.viewer.view(item));
  }

  /** Both keys of a model view. */
  keysOfView(view: ModelView): CacheKeys {
    return { exact: this.exactOfView(view), pattern: this.patternOfView(view) };
  }

  /** Same content shown to the model (ignoring ids, times and whitespace) ⇔ same key. */
  exact(item: EnrichedAlert): string {
    return this.exactOfView(this.viewer.view(item));
  }

  private exactOfView(a: ModelView): string {
    const material = {
      v: this.exactSalt,
      name: normalizeText(a.alert_name),
      severity: a.severity,
      src: canonicalIp(a.source_ip),
      dst: canonicalIp(a.destination_ip),
      user: textOrNull(a.user),
      host: textOrNull(a.host),
      desc: textOrNull(a.description),
      fields: this.canonicalFields(a.fields, 0),
      ti: exactTi(a.enrichment),
      // Fields left out of the view for room: the key covers them, so a padded alert never shares a twin's key.
      ...(a.omitted ? { omitted: a.omitted.digest } : {}),
    };
    return `${EXACT_KEY_VERSION}:${sha256Hex(canonicalJson(material))}`;
  }

  /** Same risk features ⇔ same key. */
  pattern(item: EnrichedAlert): string {
    return this.patternOfView(this.viewer.view(item));
  }

  private patternOfView(view: ModelView): string {
    return `${PATTERN_KEY_VERSION}:${sha256Hex(canonicalJson({ fp: this.fingerprint, sig: this.signatureOfView(view) }))}`;
  }

  /** The features of the pattern key, readable. */
  signature(item: EnrichedAlert): PatternSignature {
    return this.signatureOfView(this.viewer.view(item));
  }

  private signatureOfView(a: ModelView): PatternSignature {
    const o = this.opts;
    const e = a.enrichment;
    const entities = entitiesOf(a, e);
    const sig: PatternSignature = {
      name: normalizeText(a.alert_name).toLowerCase(),
      severity: a.severity,
      src: this.ipFeature(a.source_ip, e),
      dst: this.ipFeature(a.destination_ip, e),
      user: a.user === null ? null : o.privilegedUsers.test(bareUser(a.user)) ? "privileged" : "user",
      asset: a.host === null ? null : (o.assetRoles.find((r) => r.pattern.test(normalizeText(a.host!)))?.role ?? "other"),
      ti: this.tiFeature(e),
      fields: this.fieldFeature(a.fields, "", 0, entities) ?? {},
      ...(a.omitted ? { omitted: a.omitted.digest } : {}),
    };
    if (o.description === "template" && a.description !== null) sig.desc = this.template(a.description, entities);
    return sig;
  }

  // ── exact-key helpers ───────────────────────────────────────────────────────

  /** Texts normalised (the view already holds no volatile names); a null the model sees is kept (≠ no value). */
  private canonicalFields(value: unknown, depth: number): unknown {
    if (typeof value === "string") return normalizeText(value);
    if (value === null || typeof value !== "object") return value;
    if (depth > MAX_DEPTH) return "…";
    if (Array.isArray(value)) return value.map((v) => this.canonicalFields(v, depth + 1));
    const out: Record<string, unknown> = Object.create(null) as Record<string, unknown>; // `__proto__` stays data
    for (const [k, v] of Object.entries(value)) {
      if (v === undefined) continue;
      out[k] = this.canonicalFields(v, depth + 1);
    }
    return out;
  }

  // ── pattern-key helpers ─────────────────────────────────────────────────────

  private ipFeature(ip: string | null, e: Enrichment | null): string | null {
    if (ip === null) return null;
    const c = classify(ip);
    if (c.kind === "invalid") return `text:${normalizeText(ip).toLowerCase()}`;
    if (this.opts.ipScope === "exact" || hasTiData(e, c.ip)) return c.ip;
    return subnetOf(c.ip, c.version);
  }

  private tiFeature(e: Enrichment | null): Record<string, unknown> | null {
    if (!e) return null;
    const o = this.opts;
    const abuse = e.abuseipdb;
    const vt = e.virustotal;
    return {
      role: e.ip_role,
      abuse:
        abuse.status === "ok"
          ? {
              score: band(abuse.data.abuse_confidence_score, o.scoreBands, false),
              reports: band(abuse.data.total_reports, o.countBuckets, true),
              tor: abuse.data.is_tor,
              country: abuse.data.country?.toLowerCase() ?? null,
              usage: abuse.data.usage_type?.toLowerCase() ?? null,
            }
          : statusTag(abuse),
      vt:
        vt.status === "ok"
          ? {
              malicious: band(vt.data.malicious, o.engineBands, false),
              suspicious: band(vt.data.suspicious, o.engineBands, false),
              reputation: Math.sign(vt.data.reputation),
            }
          : statusTag(vt),
    };
  }

  private fieldFeature(value: unknown, key: string, depth: number, entities: Entities): unknown {
    if (value === undefined) return undefined;
    if (value === null) return null;
    if (typeof value === "boolean") return value;
    if (typeof value === "number") return this.numberFeature(key, value);
    if (typeof value === "string") {
      const t = normalizeText(value);
      if (/^-?\d+(\.\d+)?$/.test(t)) return this.numberFeature(key, Number(t));
      const lower = t.toLowerCase();
      if (lower === "true" || lower === "false") return lower === "true";
      return this.template(t, entities);
    }
    if (typeof value !== "object") return undefined;
    if (depth > MAX_DEPTH) return "…";
    // Every element: the view bounds arrays (by its JSON size), and the model reads them all.
    if (Array.isArray(value)) return value.map((v) => this.fieldFeature(v, key, depth + 1, entities) ?? null);
    const out: Record<string, unknown> = Object.create(null) as Record<string, unknown>; // `__proto__` stays data
    for (const [k, v] of Object.entries(value)) {
      const f = this.fieldFeature(v, k, depth + 1, entities);
      if (f !== undefined) out[k] = f;
    }
    return out;
  }

  private numberFeature(key: string, n: number): string | number {
    if (IDENTIFIER_NUMBER.test(key)) return n;
    if (SCORE_NUMBER.test(key)) return band(n, this.opts.scoreBands, false);
    if (ENGINE_NUMBER.test(key)) return band(n, this.opts.engineBands, false);
    return band(n, this.opts.countBuckets, true);
  }

  /** Free text as a template: the alert's own entities, times, addresses and ids masked, counts bucketed. */
  template(text: string, entities: Entities): string {
    let t = replaceEntities(normalizeText(text).toLowerCase(), entities);
    if (!/\d/.test(t)) return t;
    t = t
      .replace(/\d{4}-\d{2}-\d{2}(?:[t ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:z|[+-]\d{2}:?\d{2})?)?/g, "{time}")
      .replace(/\b\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?\b/g, "{time}")
      .replace(/(?<![\d.])\d{1,3}(?:\.\d{1,3}){3}(?![\d.])/g, "{ip}")
      .replace(/\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/g, "{uuid}")
      .replace(/\b(?:0x)?(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{12,}\b/g, "{hex}")
      // Free-standing numbers only: digits inside identifiers (T1110, CVE-2021-44228, ws-3) and ports stay.
      .replace(
        /(?<![a-z0-9_.:\-{\u0080-\uffff])(?<!ports?[:=#]? ?)\d+(?:\.\d+)?(?![a-z0-9_\u0080-\uffff]|[.\-:]\d)/g,
        (m) => `{n:${band(Number(m), this.opts.countBuckets, true)}}`,
      );
    return t;
  }
}

/** The alert's own names (lower-cased) that templates replace by placeholders, longest first. */
type Entities = readonly (readonly [value: string, token: string])[];

function entitiesOf(a: ModelView, e: Enrichment | null): Entities {
  const tokens = new Map<string, string>();
  const add = (token: string, value: string | null | undefined) => {
    if (value === null || value === undefined) return;
    const v = normalizeText(value).toLowerCase();
    if (v.length >= 2 && !tokens.has(v)) tokens.set(v, token);
  };
  add("{src}", a.source_ip);
  add("{dst}", a.destination_ip);
  add("{ti_ip}", e?.ip);
  add("{host}", a.host);
  add("{user}", a.user);
  if (a.user !== null) add("{user}", bareUser(a.user));
  // Longest first, so a host name containing the user name is replaced whole.
  return [...tokens].sort((x, y) => y[0].length - x[0].length);
}

/** Letters, digits, '_', '-', braces (placeholders) and non-ASCII are parts of a word. */
function isWordChar(c: string | undefined): boolean {
  return c !== undefined && (/[A-Za-z0-9_\-{}]/.test(c) || c.charCodeAt(0) > 0x7f);
}

/**
 * Replace whole-word occurrences of each `from` (tried in the given order) by its `to`, in one pass; a word may
 * contain dots, so "ws-1" is not replaced inside "ws-12" or "ws-1.corp", nor "1.2.3.4" inside "1.2.3.45". With
 * `ignoreCase`, `from` values must be lower-case.
 */
export function replaceWholeWords(text: string, pairs: readonly (readonly [from: string, to: string])[], ignoreCase = false): string {
  if (pairs.length === 0) return text;
  const hay = ignoreCase ? text.toLowerCase() : text;
  if (hay.length !== text.length) return text; // case folding changed lengths (rare scripts): leave the text as it is
  let out = "";
  let copied = 0;
  let i = 0;
  while (i < hay.length) {
    let hit: readonly [string, string] | undefined;
    if (!isWordChar(hay[i - 1]) && hay[i - 1] !== ".") {
      for (const pair of pairs) {
        const [from] = pair;
        if (!hay.startsWith(from, i)) continue;
        const after = hay[i + from.length];
        if (isWordChar(after) || (after === "." && isWordChar(hay[i + from.length + 1]))) continue;
        hit = pair;
        break;
      }
    }
    if (hit) {
      out += text.slice(copied, i) + hit[1];
      i += hit[0].length;
      copied = i;
    } else i++;
  }
  return copied === 0 ? text : out + text.slice(copied);
}

/** Replace the alert's own names by placeholders (text and entity values are lower-case). */
function replaceEntities(text: string, entities: Entities): string {
  return replaceWholeWords(text, entities);
}

/** User name without DOMAIN\ prefix or @domain suffix. */
function bareUser(user: string): string {
  const t = normalizeText(user);
  const noDomain = t.includes("\\") ? t.slice(t.lastIndexOf("\\") + 1) : t;
  return noDomain.includes("@") ? noDomain.slice(0, noDomain.indexOf("@")) : noDomain;
}

/**
 * Bucket label of a number: "0" alone; below the first edge; [edge_i, edge_i+1); at or above the last edge either
 * one bucket, or (magnitudes) one bucket per power of ten.
 */
export function band(n: number, edges: readonly number[], magnitudeAbove: boolean): string {
  if (!Number.isFinite(n)) return String(n);
  if (n === 0) return "0";
  const sign = n < 0 ? "-" : "";
  const a = Math.abs(n);
  const first = edges[0];
  if (first === undefined) return `${sign}${a}`;
  if (a < first) return `${sign}<${first}`;
  for (let i = 0; i + 1 < edges.length; i++) if (a < edges[i + 1]!) return `${sign}${edges[i]}..${edges[i + 1]}`;
  const last = edges[edges.length - 1]!;
  return magnitudeAbove ? `${sign}>=${last}:e${Math.floor(Math.log10(a))}` : `${sign}>=${last}`;
}

// Alerts repeat addresses; classification (BlockList checks) is the costliest step of a key, so it is memoised (bounded).
const ipMemo = new Map<string, IpClassification>();
function classify(ip: string): IpClassification {
  let c = ipMemo.get(ip);
  if (c === undefined) {
    if (ipMemo.size >= 10_000) ipMemo.clear();
    c = classifyIp(ip);
    ipMemo.set(ip, c);
  }
  return c;
}

function textOrNull(s: string | null): string | null {
  return s === null ? null : normalizeText(s);
}

function canonicalIp(ip: string | null): string | null {
  if (ip === null) return null;
  const c = classify(ip);
  return c.kind === "invalid" ? normalizeText(ip) : c.ip;
}

function subnetOf(ip: string, version: 4 | 6): string {
  if (version === 4) return `${ip.split(".").slice(0, 3).join(".")}.0/24`;
  const head = ip.split("::")[0]!.split(":");
  return `${[...head, "0", "0", "0"].slice(0, 3).join(":")}::/48`;
}

function hasTiData(e: Enrichment | null, ip: string): boolean {
  if (!e || e.ip === null) return false;
  const c = classify(e.ip);
  if (c.kind === "invalid" || c.ip !== ip) return false;
  return e.abuseipdb.status === "ok" || e.virustotal.status === "ok";
}

function statusTag(r: ProviderResult<unknown>): string {
  return r.status === "skipped" ? `skipped:${r.skipped}` : r.status;
}

function exactTi(e: Enrichment | null): unknown {
  if (!e) return null;
  const provider = (r: ProviderResult<Record<string, unknown>>) =>
    r.status === "ok" ? { ok: { ...r.data, last_reported_at: undefined } } : r.status === "skipped" ? { skipped: r.skipped } : { error: r.code };
  return {
    ip: canonicalIp(e.ip),
    role: e.ip_role,
    abuseipdb: provider(e.abuseipdb as ProviderResult<Record<string, unknown>>),
    virustotal: provider(e.virustotal as ProviderResult<Record<string, unknown>>),
  };
}
