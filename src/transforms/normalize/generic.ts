import { normalizeSeverity } from "../../core/severity.js";
import { invalid, ok } from "../../core/result.js";
import { asText, isObject, readPath } from "./fields.js";
import type { AlertFormat } from "./format.js";
import { isIpText, parseTime, splitHostPort } from "./mapping/values.js";

/**
 * Field names that carry an alert's name, most specific first. `name`, `summary` and `message` come last: they
 * are alert-like only when nothing more specific is there.
 */
export const GENERIC_NAME_KEYS = [
  "title",
  "rule_name",
  "ruleName",
  "rule.name",
  "rule_title",
  "alert_title",
  "alertName",
  "detection_name",
  "detectionName",
  "signature",
  "signature_name",
  "alert",
  "alert.name",
  "alert.title",
  "alert.signature",
  "threat_name",
  "threatName",
  "name",
  "event_name",
  "summary",
  "message",
  "msg",
] as const;

const SEVERITY_KEYS = ["severity", "severity_label", "severityName", "sev", "level", "urgency", "priority", "risk_level", "criticality", "risk_score"] as const;
const SOURCE_IP_KEYS = [
  "src_ip",
  "source_ip",
  "srcip",
  "src_addr",
  "source_address",
  "sourceIp",
  "sourceIPAddress",
  "client_ip",
  "clientip",
  "remote_ip",
  "remote_addr",
  "attacker_ip",
  "source.ip",
  "src.ip",
  "client.ip",
  "src",
  "source",
] as const;
const DESTINATION_IP_KEYS = [
  "dst_ip",
  "dest_ip",
  "destination_ip",
  "dstip",
  "dst_addr",
  "destination_address",
  "destinationIp",
  "server_ip",
  "target_ip",
  "destination.ip",
  "dst.ip",
  "server.ip",
  "dst",
  "dest",
  "destination",
  "target",
] as const;
const USER_KEYS = [
  "user",
  "username",
  "user_name",
  "userName",
  "user.name",
  "account",
  "account_name",
  "accountName",
  "src_user",
  "actor",
  "actor.name",
  "principal",
  "login",
] as const;
const HOST_KEYS = [
  "host",
  "hostname",
  "host_name",
  "hostName",
  "host.name",
  "computer",
  "computer_name",
  "computerName",
  "device",
  "device_name",
  "deviceName",
  "machine",
  "dest_host",
  "endpoint",
] as const;
const TIME_KEYS = [
  "@timestamp",
  "timestamp",
  "time",
  "ts",
  "event_time",
  "eventTime",
  "created_at",
  "createdAt",
  "createdDateTime",
  "date",
  "datetime",
  "detected_at",
] as const;
const DESCRIPTION_KEYS = ["description", "details", "summary", "message", "msg"] as const;

// Key names that say "source/destination address" anywhere in the record (second pass, IP values only).
const SOURCE_NAME = /(^|[._-])(src|source|client|remote|attacker|orig|origin)([._-]?(ip|ipv4|ipv6|addr|address))?$/i;
const DESTINATION_NAME = /(^|[._-])(dst|dest|destination|server|target|resp|victim)([._-]?(ip|ipv4|ipv6|addr|address))?$/i;

const text = (r: Record<string, unknown>, keys: readonly string[], max: number): { key: string; value: string } | null => {
  for (const key of keys) {
    const v = asText(readPath(r, key), max);
    if (v !== null) return { key, value: v };
  }
  return null;
};

function ipFrom(r: Record<string, unknown>, keys: readonly string[], pattern: RegExp): string | null {
  for (const key of keys) {
    const v = asText(readPath(r, key), 128);
    if (v !== null && isIpText(splitHostPort(v).host)) return splitHostPort(v).host;
  }
  return scanForIp(r, pattern, "", 0);
}

/** Depth-first over nested keys (bounded depth and breadth): the first IP whose key name matches `pattern`. */
function scanForIp(node: Record<string, unknown>, pattern: RegExp, prefix: string, depth: number): string | null {
  let seen = 0;
  for (const key in node) {
    if (!Object.hasOwn(node, key) || ++seen > 64) break;
    const v = node[key];
    const full = `${prefix}${key}`;
    if (typeof v === "string" && pattern.test(full)) {
      const { host } = splitHostPort(v.trim());
      if (isIpText(host)) return host;
    } else if (isObject(v) && depth < 3) {
      const hit = scanForIp(v, pattern, `${full}.`, depth + 1);
      if (hit) return hit;
    }
  }
  return null;
}

/**
 * Fallback for JSON objects no format claims: triaged when some field names the alert (GENERIC_NAME_KEYS),
 * everything else best-effort, every field kept. Severity defaults to medium when absent or unrecognised (an
 * unknown severity is no reason to drop an alert). The record's own `id` is not trusted as the alert id (its
 * meaning is unknown: it may name a rule shared by many alerts and collapse them into one verdict); the content
 * hash is used and `id` stays in fields.
 */
export const genericFormat: AlertFormat = {
  name: "generic",
  detect: (r) => text(r, GENERIC_NAME_KEYS, 2048) !== null,
  explain: (r) => (text(r, GENERIC_NAME_KEYS, 2048) !== null ? null : `no text field named like an alert (${GENERIC_NAME_KEYS.join(", ")})`),
  normalize(r) {
    const name = text(r, GENERIC_NAME_KEYS, 2048);
    if (!name) return invalid("unknown_format", `no text field named like an alert (${GENERIC_NAME_KEYS.join(", ")})`);
    let severity: ReturnType<typeof normalizeSeverity> | undefined;
    for (const key of SEVERITY_KEYS) {
      const v = readPath(r, key);
      // A bare priority number means opposite things in different tools (1 = most or least urgent): words only.
      if (key === "priority" && typeof v === "number") continue;
      severity = normalizeSeverity(typeof v === "string" || typeof v === "number" ? v : undefined);
      if (severity) break;
    }
    const timeKey = TIME_KEYS.find((k) => readPath(r, k) !== undefined && readPath(r, k) !== null);
    const timeValue = timeKey ? readPath(r, timeKey) : undefined;
    const timestamp = parseTime(timeValue);
    const fields: Record<string, unknown> = { ...r };
    if (timestamp === null && timeValue !== undefined) fields.timestamp_raw = timeValue;
    const description = text(
      r,
      DESCRIPTION_KEYS.filter((k) => k !== name.key),
      65536,
    );
    return ok({
      alert_id: null,
      alert_name: name.value,
      severity: severity ?? "medium",
      source_ip: ipFrom(r, SOURCE_IP_KEYS, SOURCE_NAME),
      destination_ip: ipFrom(r, DESTINATION_IP_KEYS, DESTINATION_NAME),
      user: text(r, USER_KEYS, 1024)?.value ?? null,
      host: text(r, HOST_KEYS, 1024)?.value ?? null,
      timestamp,
      description: description?.value ?? null,
      fields,
      raw: r,
    });
  },
};
