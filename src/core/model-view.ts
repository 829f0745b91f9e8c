/**
 * The model view of an alert (pure): exactly what the model is shown about it, and nothing else. The prompt line is
 * rendered from it (transforms/classify/prompt.ts) and the exact and pattern cache keys are derived from it
 * (cache-keys.ts), so whatever can sway the model's answer is covered by the key that answer is reused under.
 *
 * Left out: the alert id (the prompt uses a request-local id; ids are attacker-chosen and collide) and the event time.
 * Field names are attacker-chosen too (HTTP headers and JSON keys become fields), so no name hides a value by itself:
 * a field whose name matches AI_CACHE_VOLATILE_FIELDS (any depth) is left out only when its value looks like what
 * the name promises (a time, a UUID, a hex or numeric id, a counter, a short opaque token: `isVolatileValue`); a
 * raw copy or payload dump (`raw*`, `payload`, …) only when it repeats what the view already shows (top level) or is
 * volatile-shaped; `human_override` only when it is a bare label. Anything else is shown, and so in both keys. The
 * view is canonical: text normalised (NFC, trimmed, whitespace runs as one space) and cut to fixed bounds here, not
 * when rendering, so the key covers the cut text the model reads;
 * object keys sorted, so key order never changes what the model sees or the key.
 */
import type { Alert } from "./alert.js";
import { canonicalJson, sha256Hex } from "./canonical.js";
import type { Enrichment } from "./enrichment.js";
import type { EnrichedAlert } from "./ports/index.js";
import type { Severity } from "./severity.js";

export interface ModelView {
  alert_name: string;
  severity: Severity;
  source_ip: string | null;
  destination_ip: string | null;
  user: string | null;
  host: string | null;
  description: string | null;
  /** Evidence fields: at most MAX_FIELDS, strings cut, nested values kept while small, else cut JSON text. */
  fields: Record<string, unknown>;
  /**
   * Evidence fields left out for room (beyond MAX_FIELDS, or whose cut name another field took): their number is
   * shown to the model, and a digest of their content is part of both keys — an attacker who pads an alert with
   * fields that sort first cannot make it share a key with a twin whose left-out fields differ. Null when none.
   */
  omitted: { count: number; digest: string } | null;
  enrichment: Enrichment | null;
}

export interface ModelViewOptions {
  /** AI_CACHE_VOLATILE_FIELDS: field names (any depth) whose id-, time- or counter-shaped values are neither shown nor keyed. */
  volatileFields: RegExp;
}

/**
 * Names of raw copies of the record and payload dumps: they cost tokens and usually repeat the mapped fields, so they
 * are left out when they do (`repeats`); one that says something else (an exploit string in `payload`) is shown.
 */
const DROPPED_FIELD = /^(raw|_raw|raw_.*|original|event_?original|payload|full_log|message_raw|timestamp_raw)$/i;
/** The prototype's inline analyst label: an answer, not evidence — left out while it is a bare label. */
const ALWAYS_VOLATILE = /^human_override$/i;
const LABEL = /^[A-Za-z][A-Za-z _-]{0,39}$/;

const NUMERIC = /^[+-]?\d+(?:\.\d+)?(?:e[+-]?\d+)?$/i;
const UUID = /^\{?[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\}?$/i;
const HEX = /^(?:0x)?[0-9a-f]+$/i;
/** Request/trace/record ids: letters and digits (at least one digit) joined by single `-`, `_` or `:`. */
const OPAQUE = /^(?=[^\d]*\d)[A-Za-z0-9]+(?:[-_:][A-Za-z0-9]+)*$/;
const ISO_TIME = /^(?:[+-]\d{6}|\d{4})-\d{2}-\d{2}(?:[t ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d{1,9})?)?)? ?(?:z|utc|[+-]\d{2}:?\d{2})?$/i;
/** Month and weekday names, am/pm and time-zone abbreviations: what a written date has besides digits. */
const DATE_WORDS =
  // long: one regex literal, left whole so the volatile-value check provably matches exactly what it did
  /\b(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?|mon(?:day)?|tue(?:s(?:day)?)?|wed(?:nesday)?|thu(?:r(?:s(?:day)?)?)?|fri(?:day)?|sat(?:urday)?|sun(?:day)?|am|pm|utc|gmt|z|[a-z]{1,3}[sd]t)\b/gi;
const VOLATILE_MAX_CHARS = 64;

/**
 * Whether a value is shaped like an id, a time or a counter — what a volatile name promises, and carries no evidence:
 * null, a number, or a short string that is a date/time (ISO 8601, RFC 2822, syslog, Apache), a UUID, a hex or
 * numeric id, or an opaque token. Objects, arrays, booleans and any other text are not (a Log4Shell string in a
 * header named `created_at` is evidence and is shown).
 */
export function isVolatileValue(v: unknown): boolean {
  if (v === null || typeof v === "number") return true;
  if (typeof v !== "string") return false;
  const t = normalizeText(v);
  if (t.length > VOLATILE_MAX_CHARS) return false;
  return t === "" || NUMERIC.test(t) || UUID.test(t) || HEX.test(t) || OPAQUE.test(t) || ISO_TIME.test(t) || isDateText(t);
}

function isDateText(t: string): boolean {
  const rest = t.replace(DATE_WORDS, " ");
  return /^[\d\s:/.,+-]*$/.test(rest) && /\d+\D+\d+/.test(rest);
}

/** Tokens a raw copy may hold without saying anything new. */
const MAX_REPEAT_TOKENS = 2_000;
const TRIM = /^["',;]+|["',;]+$/g;
const IDENTIFIER_KEY = /^[\w.@-]{1,64}$/;
export const VIEW_LIMITS = { fields: 24, fieldChars: 200, keyChars: 64, name: 300, description: 800, identity: 120, ip: 64 } as const;

/**
 * Invisible characters that can carry text a model reads but nobody sees: Unicode tag characters (ASCII smuggling)
 * and variation selectors. Removed from the view (the guard decodes them in the raw alert and flags it).
 */
// biome-ignore lint/suspicious/noMisleadingCharacterClass: each selector is removed on its own, also when it follows a base character.
const INVISIBLE = /[\u{e0000}-\u{e007f}\ufe00-\ufe0f\u{e0100}-\u{e01ef}]/gu;

/** Trim, NFC and collapse whitespace runs: whitespace differences never change a view or a key. */
export function normalizeText(text: string): string {
  return text.normalize("NFC").replace(INVISIBLE, "").trim().replace(/\s+/g, " ");
}

const byKey = ([a]: [string, unknown], [b]: [string, unknown]) => (a < b ? -1 : a > b ? 1 : 0);

/** Cut text to maxChars (an ellipsis marks the cut). */
export function cut(text: string, maxChars: number): string {
  return text.length > maxChars ? `${text.slice(0, Math.max(0, maxChars - 1))}…` : text;
}

/** Builds model views for one configuration. */
export class ModelViewer {
  constructor(private readonly opts: ModelViewOptions) {}

  /**
   * Whether a field is left out of the view (and so of both keys) for its name, given its value: a volatile name
   * only hides a value shaped like what it promises; a raw/payload name (nested) the same; human_override a label.
   */
  hides(key: string, value: unknown): boolean {
    if (ALWAYS_VOLATILE.test(key)) return value === null || (typeof value === "string" && LABEL.test(normalizeText(value)));
    return (DROPPED_FIELD.test(key) || this.opts.volatileFields.test(key)) && isVolatileValue(value);
  }

  view(item: EnrichedAlert): ModelView {
    const a: Alert = item.alert;
    const text = (v: string | null, max: number) => (v === null ? null : cut(normalizeText(v), max));
    const core = {
      alert_name: cut(normalizeText(a.alert_name), VIEW_LIMITS.name),
      severity: a.severity,
      source_ip: text(a.source_ip, VIEW_LIMITS.ip),
      destination_ip: text(a.destination_ip, VIEW_LIMITS.ip),
      user: text(a.user, VIEW_LIMITS.identity),
      host: text(a.host, VIEW_LIMITS.identity),
      description: text(a.description, VIEW_LIMITS.description),
    };
    return {
      ...core,
      ...this.fields(a.fields, [core.alert_name, core.source_ip, core.destination_ip, core.user, core.host, core.description]),
      enrichment: item.enrichment,
    };
  }

  private fields(fields: Record<string, unknown>, core: readonly unknown[]): Pick<ModelView, "fields" | "omitted"> {
    const entries = Object.entries(fields)
      .sort(byKey)
      .filter(([k, v]) => !this.hides(k, v));
    // A raw copy at the top level is left out when it only repeats what the rest of the view shows.
    const raw = entries.filter(([k]) => DROPPED_FIELD.test(k));
    const skip = new Set<string>();
    if (raw.length > 0) {
      const shown = shownTokens([...entries.filter(([k]) => !DROPPED_FIELD.test(k)).map(([k, v]) => [k, this.value(v)]), ...core]);
      for (const [k, v] of raw) if (repeats(v, shown)) skip.add(k);
    }
    const out: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
    const left: [string, unknown][] = [];
    let shown = 0;
    for (const [k, v] of entries) {
      if (skip.has(k)) continue;
      const value = this.value(v);
      if (value === undefined || value === "") continue;
      const name = cut(k, VIEW_LIMITS.keyChars);
      // Over the cap, or its cut name already taken (it would overwrite that field): left out, and said so.
      if (shown >= VIEW_LIMITS.fields || Object.hasOwn(out, name)) left.push([k, this.strip(v, 0)]);
      else {
        out[name] = value;
        shown++;
      }
    }
    return { fields: out, omitted: left.length === 0 ? null : { count: left.length, digest: sha256Hex(canonicalJson(left)).slice(0, 32) } };
  }

  private value(v: unknown): unknown {
    if (typeof v === "string") return cut(normalizeText(v), VIEW_LIMITS.fieldChars);
    if (typeof v === "number") return Number.isFinite(v) ? v : String(v);
    if (typeof v === "boolean") return v;
    if (v === null || v === undefined || typeof v !== "object") return undefined;
    // Nested: volatile names removed at every depth; kept as structure while small, else as cut JSON text.
    const stripped = this.strip(v, 0);
    const json = JSON.stringify(stripped) ?? "";
    return json.length <= VIEW_LIMITS.fieldChars ? stripped : cut(json, VIEW_LIMITS.fieldChars);
  }

  private strip(v: unknown, depth: number): unknown {
    if (typeof v === "string") return normalizeText(v);
    if (v === null || typeof v !== "object") return typeof v === "number" && !Number.isFinite(v) ? String(v) : v;
    if (depth > 64) return "…";
    if (Array.isArray(v)) return v.map((x) => this.strip(x, depth + 1));
    // No prototype: a `__proto__` key is data like any other (on `{}` the assignment would set the prototype).
    const out: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
    for (const [k, x] of Object.entries(v).sort(byKey)) {
      if (x === undefined || this.hides(k, x)) continue;
      out[k] = this.strip(x, depth + 1);
    }
    return out;
  }
}

/** Whitespace-separated tokens of every string, key and number of the values (quotes and commas trimmed). */
function shownTokens(values: readonly unknown[]): Set<string> {
  const tokens = new Set<string>();
  const walk = (v: unknown, depth: number): void => {
    if (typeof v === "string") for (const t of normalizeText(v).toLowerCase().split(" ")) tokens.add(t.replace(TRIM, ""));
    else if (typeof v === "number") tokens.add(String(v));
    else if (Array.isArray(v) && depth < 64) for (const x of v) walk(x, depth + 1);
    else if (v !== null && typeof v === "object" && depth < 64) for (const [k, x] of Object.entries(v)) walk(k, depth + 1), walk(x, depth + 1);
  };
  walk(values, 0);
  return tokens;
}

/**
 * Whether a raw copy says nothing the view does not already show: every token of it (strings split on whitespace,
 * JSON text parsed; keys that are plain identifiers and id/time-shaped tokens excepted) is a token shown elsewhere.
 * Bounded: a copy of more than MAX_REPEAT_TOKENS tokens counts as saying something new.
 */
function repeats(value: unknown, shown: ReadonlySet<string>): boolean {
  let budget = MAX_REPEAT_TOKENS;
  const covered = (t: string) => t === "" || shown.has(t) || isVolatileValue(t);
  const walk = (v: unknown, depth: number): boolean => {
    if (depth > 64) return false;
    if (typeof v === "string") {
      const t = v.trim();
      if ((t.startsWith("{") || t.startsWith("[")) && depth < 64) {
        try {
          return walk(JSON.parse(t), depth + 1);
        } catch {
          // not JSON: read as text
        }
      }
      for (const token of normalizeText(t).toLowerCase().split(" ")) if (--budget < 0 || !covered(token.replace(TRIM, ""))) return false;
      return true;
    }
    if (typeof v === "number") return covered(String(v));
    if (v === null || typeof v === "boolean" || v === undefined) return true;
    if (Array.isArray(v)) return v.every((x) => walk(x, depth + 1));
    if (typeof v === "object") return Object.entries(v).every(([k, x]) => (IDENTIFIER_KEY.test(k) || walk(k, depth + 1)) && walk(x, depth + 1));
    return false;
  };
  return walk(value, 0);
}
