import { alertSchema, type Alert } from "../../core/alert.js";
import { invalid, ok, type Result } from "../../core/result.js";
import { decodeRecord, type DecodeLimits } from "./decode.js";
import { deriveAlertId } from "./fields.js";
import type { AlertDraft, AlertFormat } from "./format.js";
import { genericFormat } from "./generic.js";
import { BUILTIN_FORMATS_DIR, compileMappings, readMappings } from "./mapping/load.js";
import { prototypeLoginFormat } from "./prototype-login.js";

/** Formats written in code because the mapping language cannot say them (see README "Input formats"). */
const CODE_FORMATS: readonly { format: AlertFormat; order: number }[] = [{ format: prototypeLoginFormat, order: 10 }];

/** Raised when the built-in mappings (part of this package) do not load: a packaging bug, not bad input. */
export class FormatsError extends Error {
  readonly code = "formats_invalid";
  constructor(readonly problems: string[]) {
    super(`invalid format mappings:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
  }
}

/**
 * Built-in formats plus the user's mappings (`userDir`, TRIAGE_FORMATS_DIR), in detection order: ascending
 * `order`; on a tie user mappings before built-ins, then by name. A user mapping named like a built-in replaces it.
 */
export function loadFormats(userDir?: string): Result<readonly AlertFormat[]> {
  const builtin = readMappings(BUILTIN_FORMATS_DIR);
  const user = userDir === undefined ? { mappings: [], problems: [] } : readMappings(userDir);
  const compiled = compileMappings(builtin.mappings, user.mappings);
  const problems = [...builtin.problems, ...user.problems, ...compiled.problems];
  if (problems.length > 0) return invalid("formats_invalid", problems.join("\n"));
  const userNames = new Set(user.mappings.map((m) => m.spec.name));
  const replaced = new Set(CODE_FORMATS.filter((c) => userNames.has(c.format.name)).map((c) => c.format.name));
  const ranked = [
    ...compiled.formats.map((f) => ({ format: f as AlertFormat, order: f.order, user: userNames.has(f.name) })),
    ...CODE_FORMATS.filter((c) => !replaced.has(c.format.name)).map((c) => ({ ...c, user: false })),
  ];
  ranked.sort((a, b) => a.order - b.order || Number(b.user) - Number(a.user) || a.format.name.localeCompare(b.format.name));
  return ok(ranked.map((r) => r.format));
}

/** loadFormats for the composition root: a broken mapping stops the start with every problem listed. */
export function formatsOrThrow(userDir?: string): readonly AlertFormat[] {
  if (userDir === undefined) return defaultFormats;
  const loaded = loadFormats(userDir);
  if (!loaded.ok) throw new FormatsError(loaded.message.split("\n"));
  return loaded.value;
}

function loadBuiltins(): readonly AlertFormat[] {
  const loaded = loadFormats();
  if (!loaded.ok) throw new FormatsError(loaded.message.split("\n"));
  return loaded.value;
}

/** The built-in formats (config/formats/*.yaml and the code formats) in detection order, loaded once. */
export const defaultFormats: readonly AlertFormat[] = loadBuiltins();

/** Turns raw record bytes into a validated alert, or an invalid result naming the problem. */
export interface Normalizer {
  /** `recordBytes`: the record's real size when `bytes` is only its prefix (a source cut a huge record). */
  normalize(bytes: Uint8Array | null | undefined, recordBytes?: number): Result<Alert>;
}

/**
 * Build the normalizer over a list of formats. A JSON object no format claims goes to `fallback` (the generic
 * format: triaged when some field names an alert), else it is unknown_format.
 */
export function createNormalizer(
  limits: DecodeLimits,
  formats: readonly AlertFormat[] = defaultFormats,
  fallback: AlertFormat | null = genericFormat,
): Normalizer {
  const names = formats.map((f) => f.name).join(", ");
  return {
    normalize(bytes, recordBytes) {
      const decoded = decodeRecord(bytes, limits, recordBytes);
      if (!decoded.ok) return decoded;
      const record = decoded.value;
      const format = formats.find((f) => safeDetect(f, record)) ?? (fallback && safeDetect(fallback, record) ? fallback : undefined);
      if (!format) {
        return invalid(
          "unknown_format",
          `record matches no known alert format (tried: ${names}) and no field names an alert (title, rule_name, name, signature, message, …); native ` +
            `records need alert_name`,
        );
      }
      return finish(format, record);
    },
  };
}

/** Normalize a decoded record with a chosen format, then fill the derived id and validate the alert. */
function finish(format: AlertFormat, record: Record<string, unknown>): Result<Alert> {
  let draft: Result<AlertDraft>;
  try {
    draft = format.normalize(record);
  } catch (err) {
    return invalid("normalize_failed", `${format.name}: ${(err as Error).message}`);
  }
  if (!draft.ok) return invalid(draft.code, `${format.name}: ${draft.message}`);
  const alert = { ...draft.value, alert_id: draft.value.alert_id ?? deriveAlertId(record), format: format.name };
  const checked = alertSchema.safeParse(alert);
  if (!checked.success) {
    const first = checked.error.issues[0];
    return invalid("invalid_alert", `${format.name}: ${first?.path.join(".")}: ${first?.message}`);
  }
  return ok(checked.data);
}

/** What `triage formats check` prints for one record. */
export interface FormatCheck {
  /** The format that claimed the record (null when none did), and what it made of it. */
  format: string | null;
  result: Result<Alert>;
  /** Formats tried before the one that claimed it (all of them when none did), with why each declined. */
  declined: { format: string; why: string }[];
}

/** Detection walked step by step, for people writing a mapping: who claimed the record, and why the others did not. */
export function checkRecord(
  bytes: Uint8Array,
  limits: DecodeLimits,
  formats: readonly AlertFormat[] = defaultFormats,
  fallback: AlertFormat | null = genericFormat,
): FormatCheck {
  const decoded = decodeRecord(bytes, limits);
  if (!decoded.ok) return { format: null, result: decoded, declined: [] };
  const record = decoded.value;
  const declined: FormatCheck["declined"] = [];
  for (const f of [...formats, ...(fallback ? [fallback] : [])]) {
    if (safeDetect(f, record)) return { format: f.name, result: finish(f, record), declined };
    declined.push({ format: f.name, why: safeExplain(f, record) });
  }
  return { format: null, result: createNormalizer(limits, formats, fallback).normalize(bytes), declined };
}

function safeDetect(format: AlertFormat, record: Record<string, unknown>): boolean {
  try {
    return format.detect(record);
  } catch {
    return false;
  }
}

function safeExplain(format: AlertFormat, record: Record<string, unknown>): string {
  try {
    return format.explain?.(record) ?? "detect() returned false";
  } catch (err) {
    return `detect() failed: ${(err as Error).message}`;
  }
}
