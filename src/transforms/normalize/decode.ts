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

/** Path of the first own `__proto__` key, which would pollute prototypes in later merges. */
function findProtoKey(value: unknown, path: string): string | undefined {
  if (value === null || typeof value !== "object") return undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const hit = findProtoKey(value[i], `${path}[${i}]`);
      if (hit) return hit;
    }
    return undefined;
  }
  for (const key of Object.keys(value)) {
    if (key === "__proto__") return `${path}.__proto__`;
    const hit = findProtoKey((value as Record<string, unknown>)[key], `${path}.${key}`);
    if (hit) return hit;
  }
  return undefined;
}

/** Bytes → a plain JSON object, or the reason it is not one. Never throws. */
export function decodeRecord(bytes: Uint8Array | null | undefined, limits: DecodeLimits): Result<Record<string, unknown>> {
  if (!bytes || bytes.length === 0) return invalid("empty_record", "record has no value (tombstone or empty line)");
  if (bytes.length > limits.maxRecordBytes) {
    return invalid("record_too_large", `record is ${bytes.length} bytes, above MAX_RECORD_BYTES=${limits.maxRecordBytes}`);
  }
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
  const proto = findProtoKey(parsed, "$");
  if (proto) return invalid("forbidden_key", `record contains a forbidden key at ${proto}`);
  return ok(parsed as Record<string, unknown>);
}
