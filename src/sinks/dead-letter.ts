import { isUtf8 } from "node:buffer";
import { createHash } from "node:crypto";
import type { DeadLetter } from "../core/ports/index.js";

/**
 * A dead letter's value as it is written: at most `maxBytes`, cut on a character boundary when the record is
 * UTF-8 text, plus the size and SHA-256 of the whole original record, so a cut copy can still be matched to it.
 */
export interface BoundedValue {
  /** The bytes written (null for a tombstone). */
  value: Buffer | null;
  /** True when `value` holds the value as UTF-8 text (else it is binary). */
  text: boolean;
  /** Size of the whole original record in bytes. */
  originalBytes: number;
  /** Hex SHA-256 of the whole original record (null for a tombstone). */
  originalSha256: string | null;
  /** True when `value` is shorter than the original record. */
  truncated: boolean;
}

/**
 * Bound a dead letter's value. A source that already cut the record (`letter.full`) supplies the whole record's
 * size and hash; otherwise they are computed from the value itself.
 */
export function boundValue(letter: DeadLetter, maxBytes: number): BoundedValue {
  const value = letter.value;
  if (!value)
    return {
      value: null,
      text: false,
      originalBytes: letter.full?.bytes ?? 0,
      originalSha256: letter.full?.sha256 ?? null,
      truncated: letter.full !== undefined,
    };
  const sourceCut = letter.full !== undefined;
  const originalBytes = letter.full?.bytes ?? value.length;
  const originalSha256 = letter.full?.sha256 ?? createHash("sha256").update(value).digest("hex");
  if (!sourceCut && value.length <= maxBytes) return { value, text: isUtf8(value), originalBytes, originalSha256, truncated: false };
  const rawEnd = Math.min(maxBytes, value.length);
  const textEnd = utf8Boundary(value, rawEnd);
  const text = isUtf8(value.subarray(0, textEnd));
  const end = text ? textEnd : rawEnd;
  return { value: end === value.length ? value : value.subarray(0, end), text, originalBytes, originalSha256, truncated: true };
}

/** The largest end ≤ `end` that does not split a UTF-8 multi-byte sequence (judged from the bytes before it). */
function utf8Boundary(bytes: Buffer, end: number): number {
  let i = end;
  let continuation = 0;
  while (continuation < 3 && i > 0 && (bytes[i - 1]! & 0xc0) === 0x80) {
    i--;
    continuation++;
  }
  if (i === 0) return end;
  const lead = bytes[i - 1]!;
  const length = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
  return 1 + continuation >= length ? end : i - 1;
}

/** Headers describing why a record was dead-lettered, where it came from, and the original it was cut from. */
export function deadLetterHeaders(letter: DeadLetter, bounded: BoundedValue = boundValue(letter, Number.MAX_SAFE_INTEGER)): Record<string, string> {
  const h: Record<string, string> = {
    "triage-error-code": letter.code,
    "triage-error-message": letter.message.slice(0, 1000),
    "triage-failed-at": new Date(letter.failedAtMs).toISOString(),
    "triage-original-bytes": String(bounded.originalBytes),
    "triage-truncated": String(bounded.truncated),
  };
  if (bounded.originalSha256 !== null) h["triage-original-sha256"] = bounded.originalSha256;
  if (letter.origin.topic !== undefined) h["triage-source-topic"] = letter.origin.topic;
  if (letter.origin.partition !== undefined) h["triage-source-partition"] = String(letter.origin.partition);
  if (letter.origin.offset !== undefined) h["triage-source-offset"] = letter.origin.offset;
  if (letter.origin.line !== undefined) h["triage-source-line"] = String(letter.origin.line);
  return h;
}

/**
 * NDJSON form of a dead letter for file/stdout sinks: the original bytes as text when UTF-8, else base64, with
 * the original's size and SHA-256 and whether the value was cut (by the source or by `maxValueBytes`).
 */
export function deadLetterJson(letter: DeadLetter, maxValueBytes = Number.MAX_SAFE_INTEGER): Record<string, unknown> {
  const bounded = boundValue(letter, maxValueBytes);
  const value = bounded.value;
  return {
    error_code: letter.code,
    error_message: letter.message,
    origin: letter.origin,
    failed_at: new Date(letter.failedAtMs).toISOString(),
    ...(value === null ? { value: null } : bounded.text ? { value: value.toString("utf8") } : { value_base64: value.toString("base64") }),
    original_bytes: bounded.originalBytes,
    original_sha256: bounded.originalSha256,
    truncated: bounded.truncated,
  };
}
