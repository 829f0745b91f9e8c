import { isIP } from "node:net";
import { normalizeSeverity, type Severity } from "../../core/severity.js";
import { invalid, ok } from "../../core/result.js";
import { asNumber, compactFields, firstText, hasFlatFormatMarker, isObject, readFirst, readPath, textList, timestampInto } from "./fields.js";
import type { AlertFormat } from "./format.js";

/**
 * Splunk urgency (Enterprise Security: severity × asset/identity priority, what analysts triage by), else the
 * notable's severity. Both use informational/low/medium/high/critical: informational → info, the rest map to
 * themselves. "unknown" (or neither) gets our default, medium.
 */
export function severityFromSplunk(urgency: unknown, severity: unknown): Severity | "unrecognised" | undefined {
  let given = false;
  for (const value of [urgency, severity]) {
    const text = firstText(value, 64);
    if (text === null || text.toLowerCase() === "unknown") continue;
    given = true;
    const mapped = normalizeSeverity(text);
    if (mapped) return mapped;
  }
  return given ? "unrecognised" : undefined;
}

/** Fields only Splunk puts on search results and notable events (internal `_` fields, ES notable fields). */
const SPLUNK_MARKERS = ["_time", "_raw", "_cd", "_bkt", "_indextime", "_serial", "search_name", "urgency", "orig_sid", "security_domain"] as const;

/** The webhook alert action's envelope: {sid, search_name, app, owner, results_link, result: {first result row}}. */
const isWebhookEnvelope = (r: Record<string, unknown>): r is Record<string, unknown> & { result: Record<string, unknown> } =>
  Object.hasOwn(r, "sid") && isObject(r.result);

/** An IP-valued CIM field (src/dest hold an IP or a host name). */
const ipOrNull = (text: string | null): string | null => (text !== null && isIP(text) !== 0 ? text : null);
const nameOrNull = (text: string | null): string | null => (text !== null && isIP(text) === 0 ? text : null);

/**
 * Splunk Enterprise Security notable events and search results (CIM fields src/dest/user, rule_name or
 * search_name, urgency, _time, event_id), bare or inside the webhook alert action's envelope. Multi-valued
 * fields (arrays) contribute their first value.
 */
export const splunkFormat: AlertFormat = {
  name: "splunk",
  detect: (r) => !hasFlatFormatMarker(r) && (isWebhookEnvelope(r) || SPLUNK_MARKERS.some((k) => Object.hasOwn(r, k))),
  normalize(r) {
    const envelope = isWebhookEnvelope(r) ? r : null;
    const e = envelope ? envelope.result : r;
    const name = firstText(readFirst(e, ["rule_name", "search_name"])) ?? firstText(envelope?.search_name);
    if (!name) return invalid("missing_field", "rule_name / search_name is missing or not text");

    const severity = severityFromSplunk(e.urgency, e.severity);
    if (severity === "unrecognised") {
      return invalid("invalid_field", `urgency ${JSON.stringify(e.urgency ?? e.severity).slice(0, 40)} is not informational/low/medium/high/critical`);
    }

    const src = firstText(e.src, 1024);
    const dest = firstText(e.dest, 1024);
    // `host` on a notable (sourcetype stash) is the search head that wrote it, not the host the alert is about.
    const eventHost = firstText(e.sourcetype, 64) === "stash" ? null : firstText(e.host, 1024);
    const fields = compactFields({
      rule_id: firstText(e.rule_id, 256),
      search_name: firstText(e.search_name, 1024) ?? firstText(envelope?.search_name, 1024),
      rule_title: firstText(e.rule_title, 2048),
      security_domain: firstText(e.security_domain, 64),
      urgency: firstText(e.urgency, 64),
      source_severity: firstText(e.severity, 64),
      status: firstText(e.status_label, 64) ?? firstText(e.status, 64),
      risk_score: asNumber(firstText(e.risk_score, 32)),
      risk_object: firstText(e.risk_object, 1024),
      risk_object_type: firstText(e.risk_object_type, 64),
      mitre_tactic_ids: textList(readPath(e, "annotations.mitre_attack.mitre_tactic_id"), 16),
      mitre_technique_ids: textList([readPath(e, "annotations.mitre_attack.mitre_technique_id"), readPath(e, "annotations.mitre_attack")], 16),
      signature: firstText(e.signature, 1024),
      signature_id: firstText(e.signature_id, 256),
      action: firstText(e.action, 64),
      src_host: nameOrNull(src),
      src_port: asNumber(firstText(e.src_port, 16)),
      dest_port: asNumber(firstText(e.dest_port, 16)),
      orig_sid: firstText(e.orig_sid, 512),
      sid: firstText(envelope?.sid, 512),
      app: firstText(envelope?.app, 256),
      owner: firstText(envelope?.owner, 256),
      results_link: firstText(envelope?.results_link, 4096),
    });
    const timestamp = timestampInto(e._time, fields);

    return ok({
      alert_id: firstText(e.event_id, 512),
      alert_name: name,
      severity: severity ?? "medium",
      source_ip: firstText(e.src_ip, 128) ?? ipOrNull(src),
      destination_ip: firstText(e.dest_ip, 128) ?? ipOrNull(dest),
      user: firstText(readFirst(e, ["user", "src_user"]), 1024),
      host: nameOrNull(dest) ?? firstText(readFirst(e, ["dest_host", "dest_nt_host", "orig_host"]), 1024) ?? eventHost,
      timestamp,
      description: firstText(readFirst(e, ["rule_description", "description", "rule_title", "signature"]), 65536),
      fields,
      raw: r,
    });
  },
};
