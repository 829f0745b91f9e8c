import { canonicalJson, sha256Hex } from "../../core/canonical.js";

/** A string field's text, numbers as their decimal form; null for anything else or blank. */
export function asText(value: unknown, maxLength = 2048): string | null {
  if (typeof value === "string") {
    const t = value.trim();
    return t === "" ? null : t.slice(0, maxLength);
  }
  if (typeof value === "number" && Number.isFinite(value)) return String(value);
  return null;
}

/** ISO-8601 UTC from an ISO/RFC string, or epoch seconds/milliseconds; null when unparseable. */
export function toIsoTimestamp(value: unknown): string | null {
  let ms: number;
  if (typeof value === "number" && Number.isFinite(value)) {
    ms = value < 1e11 ? value * 1000 : value; // epoch seconds vs milliseconds
  } else if (typeof value === "string" && value.trim() !== "") {
    const t = value.trim();
    ms = /^\d+(\.\d+)?$/.test(t) ? toMs(Number(t)) : Date.parse(t);
  } else return null;
  if (!Number.isFinite(ms)) return null;
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

const toMs = (n: number) => (n < 1e11 ? n * 1000 : n);

/** Deterministic alert id from the record's content, so a redelivered record gets the same id. */
export function deriveAlertId(record: Record<string, unknown>): string {
  return `sha256:${sha256Hex(canonicalJson(record)).slice(0, 32)}`;
}

/** Read a dotted path ("a.b.c") from nested objects, also accepting a flat dotted key at any level. */
export function readPath(record: Record<string, unknown>, path: string): unknown {
  if (Object.hasOwn(record, path)) return record[path];
  const dot = path.indexOf(".");
  if (dot < 0) return undefined;
  for (let i = dot; i > 0; i = path.indexOf(".", i + 1)) {
    const head = path.slice(0, i);
    const next = Object.hasOwn(record, head) ? record[head] : undefined;
    if (next !== null && typeof next === "object" && !Array.isArray(next)) {
      const found = readPath(next as Record<string, unknown>, path.slice(i + 1));
      if (found !== undefined) return found;
    }
    if (i < 0) break;
  }
  return undefined;
}

// ---- Helpers shared by the SIEM formats (elastic, wazuh, suricata, ocsf, splunk). ----

/** True for a JSON object (not null, not an array). */
export function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** The first of `paths` (readPath semantics) that holds a value other than null/undefined. */
export function readFirst(record: Record<string, unknown>, paths: readonly string[]): unknown {
  for (const path of paths) {
    const value = readPath(record, path);
    if (value !== undefined && value !== null) return value;
  }
  return undefined;
}

/** asText of a value, or of the first text element of a multi-valued (array) field as SIEMs send them. */
export function firstText(value: unknown, maxLength = 2048): string | null {
  if (!Array.isArray(value)) return asText(value, maxLength);
  for (const item of value) {
    const text = asText(item, maxLength);
    if (text !== null) return text;
  }
  return null;
}

/** Distinct texts from a string/number or a (nested) array of them, in order, at most `limit`. */
export function textList(value: unknown, limit = 32): string[] {
  const out = new Set<string>();
  const visit = (v: unknown, depth: number): void => {
    if (out.size >= limit) return;
    if (Array.isArray(v)) {
      if (depth < 4) for (const item of v) visit(item, depth + 1);
      return;
    }
    const text = asText(v, 256);
    if (text !== null) out.add(text);
  };
  visit(value, 0);
  return [...out];
}

/** True when some own key of the record starts with `prefix` (flattened dotted keys such as "kibana.alert.uuid"). */
export function hasKeyPrefix(record: Record<string, unknown>, prefix: string): boolean {
  for (const key in record) if (Object.hasOwn(record, key) && key.startsWith(prefix)) return true;
  return false;
}

/**
 * True when a record carries the flat formats' own markers (native `alert_name`, prototype `failed_logins`):
 * SIEM detectors leave such records to those formats, whatever else they contain.
 */
export function hasFlatFormatMarker(record: Record<string, unknown>): boolean {
  return Object.hasOwn(record, "alert_name") || Object.hasOwn(record, "failed_logins");
}

/** A finite number from a number or numeric string; undefined otherwise. */
export function asNumber(value: unknown): number | undefined {
  if (typeof value === "number") return Number.isFinite(value) ? value : undefined;
  if (typeof value === "string" && /^\s*-?\d+(\.\d+)?\s*$/.test(value)) return Number(value);
  return undefined;
}

/** `entries` without null/undefined/empty values, so an alert's `fields` lists only what the record had. */
export function compactFields(entries: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(entries)) {
    if (value === undefined || value === null || value === "" || (Array.isArray(value) && value.length === 0)) continue;
    out[key] = value;
  }
  return out;
}

/** ISO timestamp of `value`; an unparseable one is kept in `fields.timestamp_raw` instead of dropping the alert. */
export function timestampInto(value: unknown, fields: Record<string, unknown>): string | null {
  const timestamp = toIsoTimestamp(value);
  if (timestamp === null && value !== undefined && value !== null) fields.timestamp_raw = value;
  return timestamp;
}
