import { NUL_SIGN } from "../../core/nul.js";
import { invalid, ok, type Result } from "../../core/result.js";

/** Limits applied to every input record before it is parsed. */
export interface DecodeLimits {
  maxRecordBytes: number;
  maxJsonDepth: number;
}

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

/** Deepest {}/[] nesting in JSON text, stopping early past `limit` (strings are skipped). */
export function nestingDepth(text: string, limit: number): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92 /* \ */) i++;
      else if (c === 34 /* " */) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 123 || c === 91) {
      depth++;
      if (depth > max) {
        max = depth;
        if (max > limit) return max;
      }
    } else if (c === 125 || c === 93) depth--;
  }
  return max;
}

/**
 * One walk over a parsed record: the path of the first own `__proto__` key (which would pollute prototypes in
 * later merges), and whether it holds a number beyond the double range (parsed as ±Infinity).
 */
function inspect(root: unknown): { protoPath: string | undefined; nonFinite: boolean } {
  let nonFinite = false;
  // Returns the path segments to a __proto__ key, innermost first (built only on a hit).
  const visit = (value: unknown): string[] | undefined => {
    if (typeof value === "number") {
      if (!Number.isFinite(value)) nonFinite = true;
      return undefined;
    }
    if (value === null || typeof value !== "object") return undefined;
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) {
        const hit = visit(value[i]);
        if (hit) return (hit.push(`[${i}]`), hit);
      }
      return undefined;
    }
    for (const key of Object.keys(value)) {
      if (key === "__proto__") return [".__proto__"];
      const hit = visit((value as Record<string, unknown>)[key]);
      if (hit) return (hit.push(`.${key}`), hit);
    }
    return undefined;
  };
  const hit = visit(root);
  return { protoPath: hit ? `$${hit.reverse().join("")}` : undefined, nonFinite };
}

/**
 * JSON.parse reviver: a number that overflows to ±Infinity keeps its literal text ("1e309"), since Infinity
 * serialises as null and would make two different records one; NUL characters in strings and keys become
 * NUL_SIGN, so they never reach the prompt, the verdict or a C-string consumer. Runs after the __proto__ check.
 */
function repair(_key: string, value: unknown, context?: { source?: string }): unknown {
  if (typeof value === "number") return Number.isFinite(value) ? value : (context?.source ?? String(value));
  if (typeof value === "string") return value.includes("\0") ? value.replaceAll("\0", NUL_SIGN) : value;
  if (value === null || typeof value !== "object" || Array.isArray(value)) return value;
  const keys = Object.keys(value);
  if (!keys.some((k) => k.includes("\0"))) return value;
  const out: Record<string, unknown> = {};
  for (const key of keys) {
    const clean = key.replaceAll("\0", NUL_SIGN);
    if (!Object.hasOwn(out, clean)) out[clean] = (value as Record<string, unknown>)[key];
  }
  return out;
}

/**
 * Bytes → a plain JSON object, or the reason it is not one. Never throws. `recordBytes` is the record's real size
 * when `bytes` is only the prefix a source kept of it, so the reason states the size the sender actually sent.
 */
export function decodeRecord(bytes: Uint8Array | null | undefined, limits: DecodeLimits, recordBytes = bytes?.length ?? 0): Result<Record<string, unknown>> {
  const size = Math.max(recordBytes, bytes?.length ?? 0);
  if (size > limits.maxRecordBytes) {
    return invalid("record_too_large", `record is ${size} bytes, above MAX_RECORD_BYTES=${limits.maxRecordBytes}`);
  }
  if (!bytes || bytes.length === 0) return invalid("empty_record", "record has no value (tombstone or empty line)");
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    return invalid("invalid_utf8", "record is not valid UTF-8");
  }
  const depth = nestingDepth(text, limits.maxJsonDepth);
  if (depth > limits.maxJsonDepth) return invalid("too_deep", `JSON nesting deeper than MAX_JSON_DEPTH=${limits.maxJsonDepth}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    return invalid("invalid_json", `not valid JSON: ${(err as Error).message.slice(0, 200)}`);
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    return invalid("not_an_object", `record is JSON ${parsed === null ? "null" : Array.isArray(parsed) ? "array" : typeof parsed}, expected an object`);
  }
  const { protoPath, nonFinite } = inspect(parsed);
  if (protoPath) return invalid("forbidden_key", `record contains a forbidden key at ${protoPath}`);
  // A NUL can only be written as the escape \u0000 in JSON text (raw control characters are invalid).
  if (nonFinite || text.includes("\\u0000")) parsed = JSON.parse(text, repair as (key: string, value: unknown) => unknown);
  return ok(parsed as Record<string, unknown>);
}
