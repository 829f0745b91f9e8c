import { normalizeSeverity } from "../../core/severity.js";
import { invalid, ok } from "../../core/result.js";
import { asText, toIsoTimestamp } from "./fields.js";
import type { AlertFormat } from "./format.js";

const KNOWN = new Set(["alert_id", "alert_name", "severity", "source_ip", "destination_ip", "user", "host", "timestamp", "description"]);

/** Our flat format: alert_id, alert_name, severity, source_ip, destination_ip, user, host, timestamp, description + extras. */
export const nativeFormat: AlertFormat = {
  name: "native",
  detect: (r) => "alert_name" in r,
  normalize(r) {
    const name = asText(r.alert_name);
    if (!name) return invalid("missing_field", "alert_name is missing or not text");
    let severity = normalizeSeverity(r.severity);
    if (r.severity !== undefined && r.severity !== null && !severity) {
      return invalid("invalid_field", `severity ${JSON.stringify(r.severity).slice(0, 40)} is not a known word or a 0–100 number`);
    }
    severity ??= "medium";
    const fields: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(r)) if (!KNOWN.has(k)) fields[k] = v;
    const timestamp = toIsoTimestamp(r.timestamp);
    if (r.timestamp !== undefined && timestamp === null) fields.timestamp_raw = r.timestamp;
    return ok({
      alert_id: asText(r.alert_id, 512),
      alert_name: name,
      severity,
      source_ip: asText(r.source_ip, 128),
      destination_ip: asText(r.destination_ip, 128),
      user: asText(r.user, 1024),
      host: asText(r.host, 1024),
      timestamp,
      description: asText(r.description, 65536),
      fields,
    });
  },
};
