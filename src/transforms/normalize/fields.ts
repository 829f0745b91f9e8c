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

// ---- Helpers for the mapping interpreter (mapping/) and the code formats. ----

/** True for a JSON object (not null, not an array). */
export function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
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

/** A finite number from a number or numeric string; undefined otherwise. */
export function asNumber(value: unknown): number | undefined {
  if (typeof value === "number") return Number.isFinite(value) ? value : undefined;
  if (typeof value === "string" && /^\s*-?\d+(\.\d+)?\s*$/.test(value)) return Number(value);
  return undefined;
}
