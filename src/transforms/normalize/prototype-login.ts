import type { Severity } from "../../core/severity.js";
import { invalid, ok } from "../../core/result.js";
import { asText, toIsoTimestamp } from "./fields.js";
import type { AlertFormat } from "./format.js";

/**
 * The Flask prototype's login records: {user, source_ip, failed_logins, success, time, location, human_override?}.
 * Name and severity are derived from the counts so the rest of the pipeline sees an ordinary alert.
 */
export const prototypeLoginFormat: AlertFormat = {
  name: "prototype-login",
  detect: (r) => "failed_logins" in r && !("alert_name" in r),
  explain: (r) => ("alert_name" in r ? "alert_name is present (a native record)" : "failed_logins" in r ? null : "failed_logins is absent"),
  normalize(r) {
    const failed = typeof r.failed_logins === "string" ? Number(r.failed_logins) : r.failed_logins;
    if (typeof failed !== "number" || !Number.isInteger(failed) || failed < 0) {
      return invalid("invalid_field", "failed_logins must be a non-negative integer");
    }
    const user = asText(r.user, 1024);
    const sourceIp = asText(r.source_ip, 128);
    if (!user && !sourceIp) return invalid("missing_field", "login record needs user or source_ip");
    const success = r.success === true || r.success === "true" || r.success === 1;
    const { name, severity } = describeLogin(failed, success);
    const fields: Record<string, unknown> = { failed_logins: failed, success };
    for (const key of ["location", "human_override", "time"] as const) if (r[key] !== undefined) fields[key] = r[key];
    return ok({
      alert_id: asText(r.alert_id, 512),
      alert_name: name,
      severity,
      source_ip: sourceIp,
      destination_ip: null,
      user,
      host: asText(r.host, 1024),
      timestamp: toIsoTimestamp(r.time),
      description:
        `${failed} failed login(s) for ${user ?? "unknown user"} from ` +
        `${sourceIp ?? "unknown IP"}${success ? ", then a successful login" : ""}${typeof r.location === "string" ? ` (${r.location})` : ""}`,
      fields,
      raw: r,
    });
  },
};

function describeLogin(failed: number, success: boolean): { name: string; severity: Severity } {
  if (success && failed >= 10) return { name: "Successful login after brute force", severity: "critical" };
  if (success && failed >= 3) return { name: "Successful login after repeated failures", severity: "high" };
  if (success) return { name: "Successful login", severity: "info" };
  if (failed >= 20) return { name: "Brute force login attempts", severity: "high" };
  if (failed >= 5) return { name: "Repeated failed logins", severity: "medium" };
  return { name: "Failed login", severity: "low" };
}
