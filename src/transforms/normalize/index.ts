import { alertSchema, type Alert } from "../../core/alert.js";
import { invalid, ok, type Result } from "../../core/result.js";
import { decodeRecord, type DecodeLimits } from "./decode.js";
import { deriveAlertId } from "./fields.js";
import type { AlertFormat } from "./format.js";
import { elasticFormat } from "./elastic.js";
import { nativeFormat } from "./native.js";
import { ocsfFormat } from "./ocsf.js";
import { prototypeLoginFormat } from "./prototype-login.js";
import { splunkFormat } from "./splunk.js";
import { suricataFormat } from "./suricata.js";
import { wazuhFormat } from "./wazuh.js";

/**
 * Formats tried in order; specific shapes first, the native flat format last. The flat formats' markers
 * (failed_logins, alert_name) win over everything: every SIEM detector declines records carrying them.
 * Elastic comes first among the SIEMs because kibana.alert.* is stamped on top of whatever source document
 * fired the rule (which may itself be Wazuh, EVE or OCSF). OCSF (numeric class_uid), Wazuh (rule.level with
 * agent/manager) and Suricata (top-level event_type with the flow tuple) key on schema discriminators;
 * Splunk keys on Splunk-internal fields (_time, urgency, search_name...) and shares CIM names (src, dest,
 * user) with many tools, so it goes last before native.
 */
export const defaultFormats: readonly AlertFormat[] = [prototypeLoginFormat, elasticFormat, ocsfFormat, wazuhFormat, suricataFormat, splunkFormat, nativeFormat];

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
