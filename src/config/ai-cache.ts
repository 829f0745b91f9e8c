import { z } from "zod";
import { int, oneOf, str, type Option, groupSchema } from "./options.js";

const topic = /^[A-Za-z0-9._-]{1,249}$/;

/** Comma-separated ascending numbers (bucket or band edges), parsed to number[]. */
function edges(description: string, def: string, min: number, max: number): Option<z.ZodType<number[]>> {
  const parse = (v: unknown) => (typeof v === "string" ? (v.trim() === "" ? undefined : v.split(",").map((s) => Number(s.trim()))) : v);
  return {
    schema: z.preprocess(
      parse,
      z
        .array(z.number().finite().min(min).max(max))
        .min(1)
        .max(32)
        .refine((xs) => xs.every((x, i) => i === 0 || x > xs[i - 1]!), "edges must be strictly ascending")
        .default(def.split(",").map(Number)),
    ) as z.ZodType<number[]>,
    doc: { description, default: def, bounds: `comma-separated ascending numbers in ${min}–${max}` },
  };
}

/** A regular expression (case-insensitive), validated at start. */
function regex(description: string, def: string): Option<z.ZodType<string>> {
  const base = str(description, def);
  return {
    schema: base.schema.refine((s) => compiles(s), "must be a valid regular expression") as z.ZodType<string>,
    doc: { ...base.doc, default: mdCell(def), bounds: "regular expression (case-insensitive)" },
  };
}

/** Pipes escaped, so the README table generated from the docs keeps its columns. */
function mdCell(text: string): string {
  return text.replace(/\|/g, "\\|");
}

function compiles(source: string): boolean {
  try {
    new RegExp(source, "i");
    return true;
  } catch {
    return false;
  }
}

/** `role=regex;role=regex` pairs, first match wins. */
function roles(description: string, def: string): Option<z.ZodType<string>> {
  const base = str(description, def);
  return {
    schema: base.schema.refine(
      (s) => parseAssetRoles(s) !== null,
      "must be role=regex pairs separated by ';' (role: letters, digits, - or _)",
    ) as z.ZodType<string>,
    doc: { ...base.doc, default: mdCell(def), bounds: "`role=regex` pairs separated by `;`" },
  };
}

/** Parse AI_ASSET_ROLES; null when malformed. */
export function parseAssetRoles(text: string): { role: string; pattern: RegExp }[] | null {
  const out: { role: string; pattern: RegExp }[] = [];
  for (const part of text
    .split(";")
    .map((p) => p.trim())
    .filter(Boolean)) {
    const eq = part.indexOf("=");
    const role = part.slice(0, eq).trim();
    const source = part.slice(eq + 1).trim();
    if (eq <= 0 || !/^[A-Za-z0-9_-]{1,32}$/.test(role) || source === "" || !compiles(source)) return null;
    out.push({ role: role.toLowerCase(), pattern: new RegExp(source, "i") });
  }
  return out;
}

/**
 * AI verdict caching (exact and pattern keys), analyst overrides and the feedback topic. Spread into the schema's
 * `options`. The pattern-key feature set is documented in src/core/cache-keys.ts.
 */
export const aiCacheOptions = {
  AI_CACHE_TTL_SECONDS: int(
    "How long a model verdict is reused for alerts with the same exact or pattern key (namespaces `ai-exact`, `ai-pattern`).",
    86_400,
    60,
    2_592_000,
  ),
  AI_CACHE_MAX_ENTRIES: int(
    "Per-process bound of each AI cache (LRU in front of the store): entries this process wrote beyond it are deleted from the store and counted in " +
      "triage_cache_evictions_total.",
    50_000,
    100,
    10_000_000,
  ),
  AI_PATTERN_CACHE: oneOf(
    "Reuse a verdict for alerts with the same pattern key (same rule, source IP, TI band, count buckets, identity class), not only the same content. " +
      "Off: exact keys only, and analyst overrides apply by alert id and exact key only.",
    ["on", "off"] as const,
    "on",
  ),
  AI_PATTERN_MIN_CONFIDENCE: int("Pattern hits only reuse verdicts whose confidence is at least this; lower ones are asked again.", 50, 0, 100),
  AI_PATTERN_FOR_CRITICAL: oneOf(
    "Whether critical alerts may be answered from the pattern cache (exact hits and analyst overrides always apply).",
    ["true", "false"] as const,
    "false",
  ),
  AI_PATTERN_COUNT_BUCKETS: edges(
    "Bucket edges for counts in pattern keys (failed logins, ports, bytes...): values in the same bucket share a key; 0 is its own bucket and values " +
      "above the last edge are bucketed by power of ten.",
    "1,3,10,30,100,1000",
    0,
    1e15,
  ),
  AI_PATTERN_TI_BANDS: edges(
    "Band edges for 0–100 scores in pattern keys (AbuseIPDB confidence, fields named *score*/*confidence*/*risk*); 0 is its own band and " +
      "GUARD_ABUSE_SCORE_MIN is always an edge.",
    "25,75,90",
    0,
    100,
  ),
  AI_PATTERN_VT_BANDS: edges(
    "Band edges for VirusTotal engine counts in pattern keys (malicious, suspicious); 0 is its own band and GUARD_VT_MALICIOUS_MIN is always an edge.",
    "1,5,10",
    0,
    1000,
  ),
  AI_PATTERN_IP_SCOPE: oneOf(
    "Source/destination IP in pattern keys: `exact`, or `subnet` (/24, IPv6 /48) for addresses without threat-intel data. Exact keeps recommended " +
      "actions naming the right address.",
    ["exact", "subnet"] as const,
    "exact",
  ),
  AI_PATTERN_DESCRIPTION: oneOf(
    "Description in pattern keys: `template` (the alert's own user/host/IPs, times, hex ids masked, numbers bucketed) or `ignore` (the model still " +
      "reads the description, so an answer is then reused for alerts of the same pattern whatever their description says: see SECURITY.md).",
    ["template", "ignore"] as const,
    "template",
  ),
  AI_PRIVILEGED_USERS: regex(
    "Users matching this are `privileged` in pattern keys (other users share one class).",
    "^(root|admin|administrator|sa|system|krbtgt|domain ?admins?)$|^(adm|admin|svc|sa)[-_.]|[-_.](adm|admin)$|\\$$",
  ),
  AI_ASSET_ROLES: roles(
    "Host roles for pattern keys, first match wins; unmatched hosts are `other`.",
    "dc=^(dc|ad|pdc|bdc)[-_.0-9]|domain.?controller;" +
      "server=^(srv|db|sql|web|app|mail|exch|file|fs|prod)[-_.0-9];workstation=^(ws|wks|laptop|desktop|pc|mac)[-_.0-9]",
  ),
  AI_CACHE_VOLATILE_FIELDS: regex(
    "Alert field names (matched at every nesting level) whose values are left out of exact and pattern keys and never shown to the model (what the " +
      "model sees, the key covers) — only while the value looks like what the name promises: a time, a UUID, a hex or numeric id, a counter or a " +
      "short opaque token. Any other value under such a name (names are attacker-chosen) is shown and keyed. alert_id and timestamp are always left " +
      "out.",
    "^(id|_id|uuid|guid|event_uuid|record_id|request_id|trace_id|span_id|correlation_id|sequence|seq|" +
      "offset|time|_time|timestamp|@timestamp|ts|date|datetime|timestamp_raw|" +
      "first_seen|last_seen)$|_(at|time|ts|timestamp|uuid|guid)$",
  ),
  AI_CACHE_KEY_PREFIX: str("Prefix of every AI-cache and override key, e.g. to share one Redis between deployments.", "", /^[A-Za-z0-9._:-]{0,64}$/),
  AI_VERDICT_LOG_TTL_SECONDS: int(
    "How long the verdict of each alert id is kept so an analyst override can be re-published as an updated verdict and applied to the alert's keys (0 " +
      "= not kept: no alert id can be verified, so every override is refused with unknown_alert).",
    604_800,
    0,
    31_536_000,
  ),
  AI_VERDICT_LOG_MAX_ENTRIES: int("Per-process bound of that verdict record (LRU; older records are deleted).", 100_000, 100, 10_000_000),
  TRIAGE_FEEDBACK_TOPIC: str(
    "Topic of analyst overrides ({alert_id, classification, analyst, reason}); every instance reads it whole in its own consumer group.",
    "siem.feedback",
    topic,
  ),
  TRUST_INLINE_OVERRIDES: oneOf(
    "Whether a `human_override` label on an input record (the prototype's inline analyst decision) decides that record. Off by default: a feed is not " +
      "an analyst, and anyone who can write an alert can write the label. On: it decides that record only — never bound to its exact or pattern key, " +
      "never stored as an override for other alerts. Analyst decisions go through TRIAGE_FEEDBACK_TOPIC or POST /v1/feedback.",
    ["true", "false"] as const,
    "false",
  ),
  OVERRIDE_TTL_SECONDS: int(
    "How long an analyst override keeps winning over cached and model verdicts for its alert id, exact and pattern keys, counted from when the service " +
      "received it (a caller's `at` never extends it).",
    7_776_000,
    60,
    31_536_000,
  ),
} as const;

/** Just these options, parsed (for tests and tools that build the cache without the whole schema). */
export const aiCacheSchema = groupSchema(aiCacheOptions);

export type AiCacheConfig = Readonly<z.infer<typeof aiCacheSchema>>;

/** Parse the AI-cache options from env-like values (defaults for the rest); throws on invalid values. */
export function parseAiCacheOptions(env: Record<string, string | undefined> = {}): AiCacheConfig {
  const picked = Object.fromEntries(
    Object.keys(aiCacheOptions)
      .filter((k) => env[k] !== undefined)
      .map((k) => [k, env[k]]),
  );
  return Object.freeze(aiCacheSchema.parse(picked));
}
