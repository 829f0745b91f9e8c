import { alertSchema, type Alert } from "../../core/alert.js";
import { invalid, ok, type Result } from "../../core/result.js";
import { decodeRecord, type DecodeLimits } from "./decode.js";
import { deriveAlertId } from "./fields.js";
import type { AlertFormat } from "./format.js";
import { nativeFormat } from "./native.js";
import { prototypeLoginFormat } from "./prototype-login.js";

/** Formats tried in order; specific shapes first, the native flat format last. */
export const defaultFormats: readonly AlertFormat[] = [prototypeLoginFormat, nativeFormat];

/** Turns raw record bytes into a validated alert, or an invalid result naming the problem. */
export interface Normalizer {
  normalize(bytes: Uint8Array | null | undefined): Result<Alert>;
}

/** Build the normalizer over a list of formats. */
export function createNormalizer(limits: DecodeLimits, formats: readonly AlertFormat[] = defaultFormats): Normalizer {
  const names = formats.map((f) => f.name).join(", ");
  return {
    normalize(bytes) {
      const decoded = decodeRecord(bytes, limits);
      if (!decoded.ok) return decoded;
      const record = decoded.value;
      const format = formats.find((f) => safeDetect(f, record));
      if (!format) return invalid("unknown_format", `record matches no known alert format (tried: ${names}); native records need alert_name`);
      let draft;
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
    },
  };
}

function safeDetect(format: AlertFormat, record: Record<string, unknown>): boolean {
  try {
    return format.detect(record);
  } catch {
    return false;
  }
}
