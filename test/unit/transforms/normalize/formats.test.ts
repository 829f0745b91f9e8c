// SIEM formats: every fixture record becomes the alert an analyst would expect (id, name, severity, IPs, user,
// host, UTC time), each detector claims only its own records, and records missing what triage needs are
// rejected with a reason naming the field.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type { Alert } from "../../../../src/core/alert.js";
import { deriveAlertId } from "../../../../src/transforms/normalize/fields.js";
import { createNormalizer, defaultFormats } from "../../../../src/transforms/normalize/index.js";

const FORMATS = ["elastic", "wazuh", "suricata", "ocsf", "splunk"] as const;
type FormatName = (typeof FORMATS)[number];
type Expected = Pick<Alert, "alert_name" | "severity" | "source_ip" | "destination_ip" | "user" | "host" | "timestamp"> & { alert_id: string | null };

const fixtureDir = new URL("../../../fixtures/formats/", import.meta.url);
const lines = (file: string) =>
  readFileSync(new URL(file, fixtureDir), "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "");
const fixtures = Object.fromEntries(FORMATS.map((f) => [f, lines(`${f}.ndjson`)])) as Record<FormatName, string[]>;
const expected = JSON.parse(readFileSync(new URL("expected.json", fixtureDir), "utf8")) as Record<FormatName, Expected[]>;
const rejected = lines("rejected.ndjson").map((l) => JSON.parse(l) as { code: string; record: Record<string, unknown> });

const normalizer = createNormalizer({ maxRecordBytes: 1 << 20, maxJsonDepth: 32 });
const norm = (rec: unknown) => normalizer.normalize(Buffer.from(JSON.stringify(rec)));
const mustNormalize = (rec: unknown): Alert => {
  const r = norm(rec);
  if (!r.ok) throw new Error(`${r.code}: ${r.message}`);
  return r.value;
};
const claimants = (rec: Record<string, unknown>) => defaultFormats.filter((f) => f.detect(rec)).map((f) => f.name);

// The severity mappings now live in config/formats/*.yaml: read them through a minimal record of each format.
const severityOf = (rec: Record<string, unknown>): string | undefined => {
  const r = norm(rec);
  return r.ok ? r.value.severity : undefined;
};
const severityFromWazuhLevel = (level: unknown) => severityOf({ rule: { level, description: "x" }, agent: { name: "a" } });
const severityFromSuricata = (priority: unknown, signatureSeverity: string | null) =>
  severityOf({
    event_type: "alert",
    src_ip: "10.0.0.1",
    alert: { signature: "x", severity: priority, ...(signatureSeverity ? { metadata: { signature_severity: [signatureSeverity] } } : {}) },
  });
const severityFromOcsf = (severityId: unknown) => severityOf({ class_uid: 2004, metadata: {}, severity_id: severityId, finding_info: { title: "x" } });
const severityFromElasticRiskScore = (score: unknown) => severityOf({ "kibana.alert.rule.name": "x", "kibana.alert.risk_score": score });
const severityFromSplunk = (urgency: unknown, severity: unknown) =>
  severityOf({ _time: "1763626800", search_name: "x", ...(urgency !== undefined ? { urgency } : {}), ...(severity !== undefined ? { severity } : {}) });

describe("format registry", () => {
  it("tries native first (alert_name wins), then the prototype shape, Elastic before the other SIEMs and Splunk after them", () => {
    const names = defaultFormats.map((f) => f.name);
    expect(names.slice(0, 2)).toEqual(["native", "prototype-login"]);
    const at = (n: string) => names.indexOf(n);
    for (const siem of ["ocsf", "wazuh", "suricata", "splunk"]) expect(at("elastic")).toBeLessThan(at(siem));
    for (const siem of ["elastic", "ocsf", "wazuh", "suricata"]) expect(at(siem)).toBeLessThan(at("splunk"));
    expect(new Set(names).size).toBe(names.length);
  });
});

describe.each(FORMATS)("%s fixtures", (format) => {
  const records = fixtures[format];
  const cases = records.map((line, i) => [i + 1, line, expected[format][i]!] as const);

  it("are realistic enough: 10+ records, 3+ severities, an expectation for each", () => {
    expect(records.length).toBeGreaterThanOrEqual(10);
    expect(expected[format]).toHaveLength(records.length);
    expect(new Set(expected[format].map((e) => e.severity)).size).toBeGreaterThanOrEqual(3);
  });

  it.each(cases)("record %i becomes the expected alert", (_line, line, want) => {
    const record = JSON.parse(line) as Record<string, unknown>;
    const alert = mustNormalize(record);
    expect(alert.format).toBe(format);
    const { alert_id: wantId, ...wantRest } = want;
    expect({
      alert_name: alert.alert_name,
      severity: alert.severity,
      source_ip: alert.source_ip,
      destination_ip: alert.destination_ip,
      user: alert.user,
      host: alert.host,
      timestamp: alert.timestamp,
    }).toEqual(wantRest);
    // No SIEM id → the registry's content hash, so a redelivered record keeps its id.
    expect(alert.alert_id).toBe(wantId ?? deriveAlertId(record));
    expect(alert.raw).toEqual(record);
    expect(alert.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  it("each record is claimed by exactly one SIEM detector, its own", () => {
    for (const line of records) {
      const owners = claimants(JSON.parse(line) as Record<string, unknown>).filter((n) => n !== "native");
      expect(owners).toEqual([format]);
    }
  });
});

describe("fixture set as a whole", () => {
  it("gives every alert a distinct id (one verdict per alert downstream)", () => {
    const ids = FORMATS.flatMap((f) => fixtures[f].map((l) => mustNormalize(JSON.parse(l)).alert_id));
    expect(new Set(ids).size).toBe(ids.length);
  });
});

describe("useful extra fields", () => {
  const first = (format: FormatName, i = 0) => mustNormalize(JSON.parse(fixtures[format][i]!));

  it("elastic: rule id, risk score and MITRE ids from kibana.alert.rule.threat", () => {
    expect(first("elastic").fields).toMatchObject({
      rule_id: "a1b2c3d4-ssh-bf-0001",
      rule_type: "eql",
      risk_score: 47,
      workflow_status: "open",
      mitre_tactic_ids: ["TA0006"],
      mitre_technique_ids: ["T1110", "T1110.001"],
      source_port: 50122,
      destination_port: 22,
    });
    expect(first("elastic").description).toMatch(/^authentication event with source 203\.0\.113\.45/);
  });

  it("wazuh: rule id, level, groups and MITRE from rule.*, the log line as description", () => {
    const a = first("wazuh");
    expect(a.fields).toMatchObject({
      rule_id: "5712",
      rule_level: 10,
      rule_firedtimes: 14,
      mitre_technique_ids: ["T1110"],
      mitre_tactics: ["Credential Access"],
      agent_id: "003",
      decoder: "sshd",
    });
    expect(a.fields.rule_groups).toContain("authentication_failures");
    expect(a.description).toMatch(/Invalid user oracle from 203\.0\.113\.17/);
  });

  it("wazuh sudo: the acting account is the user, the target kept in fields", () => {
    expect(first("wazuh", 1)).toMatchObject({ user: "deploy", fields: { source_user: "deploy", target_user: "root" } });
  });

  it("suricata: signature id, category, flow id, ET MITRE metadata; the sensor is not the host", () => {
    const a = first("suricata", 1);
    expect(a.fields).toMatchObject({
      signature_id: 2032749,
      category: "A Network Trojan was detected",
      flow_id: 408216771300922,
      priority: 1,
      signature_severity: "Critical",
      mitre_tactic_ids: ["TA0011"],
      mitre_technique_ids: ["T1071"],
      http_hostname: "cdn-update.example",
      sensor: "ids-core-2",
    });
    expect(a.host).toBeNull();
    expect(first("suricata", 5).fields.dns_query).toBe("smtp.exfil-drop.example");
  });

  it("ocsf: class, analytic, confidence and MITRE from finding_info.attacks", () => {
    expect(first("ocsf").fields).toMatchObject({
      class_uid: 2004,
      class_name: "Detection Finding",
      analytic: "LSASS memory read by unsigned process",
      confidence: 92,
      mitre_tactic_ids: ["TA0006"],
      mitre_technique_ids: ["T1003", "T1003.001"],
      product: "Sentinel Lens EDR",
    });
  });

  it("splunk: search name, security domain, urgency, risk and MITRE annotations; webhook envelope kept", () => {
    expect(first("splunk").fields).toMatchObject({
      search_name: "Access - Brute Force Access Behavior Detected - Rule",
      security_domain: "access",
      urgency: "high",
      source_severity: "medium",
      status: "New",
    });
    expect(first("splunk", 6).fields).toMatchObject({
      risk_score: 56,
      risk_object: "j.doe",
      mitre_tactic_ids: ["TA0004", "TA0003"],
      mitre_technique_ids: ["T1098"],
    });
    expect(first("splunk", 2).fields).toMatchObject({
      sid: expect.stringMatching(/^scheduler__admin/),
      app: "search",
      owner: "admin",
      results_link: expect.stringMatching(/^https:/),
    });
  });
});

describe("records that match a format but cannot be triaged", () => {
  it.each(rejected.map((r) => [r.code, JSON.stringify(r.record).slice(0, 70), r] as const))("→ %s: %s", (code, _label, { record }) => {
    const r = norm(record);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.code).toBe(code);
    expect(r.message.length).toBeGreaterThan(10);
  });

  it("missing_field messages name the field the format needs", () => {
    const messages = rejected
      .filter((r) => r.code === "missing_field")
      .map((r) => {
        const res = norm(r.record);
        return res.ok ? "" : res.message;
      });
    expect(messages).toEqual([
      expect.stringMatching(/^wazuh: rule\.description/),
      expect.stringMatching(/^splunk: rule_name \/ search_name/),
      expect.stringMatching(/^elastic: kibana\.alert\.rule\.name/),
      expect.stringMatching(/^ocsf: finding_info\.title/),
      expect.stringMatching(/^suricata: alert\.signature/),
    ]);
  });

  it("EVE records of other event types and OCSF non-finding classes say why", () => {
    const flow = rejected.find((r) => r.record.event_type === "flow")!;
    const auth = rejected.find((r) => r.record.class_uid === 3002)!;
    expect(norm(flow.record)).toMatchObject({ ok: false, code: "not_an_alert", message: expect.stringMatching(/event_type "flow" is not an alert/) });
    expect(norm(auth.record)).toMatchObject({ ok: false, code: "not_an_alert", message: expect.stringMatching(/class_uid 3002 \(Authentication\)/) });
  });

  it.each([
    ["elastic", { "kibana.alert.rule.name": "x", "kibana.alert.severity": "purple" }, /kibana\.alert\.severity/],
    ["wazuh", { rule: { level: 42, description: "x" }, agent: { name: "a" } }, /rule\.level/],
    ["suricata", { event_type: "alert", src_ip: "10.0.0.1", alert: { signature: "x", severity: 0 } }, /alert\.severity/],
    ["ocsf", { class_uid: 2004, metadata: {}, severity_id: 42, finding_info: { title: "x" } }, /severity_id/],
    ["splunk", { _time: "1763626800", rule_name: "x", urgency: "purple" }, /urgency/],
  ])("%s: an unknown severity value is invalid_field, not silently medium", (_format, record, field) => {
    expect(norm(record)).toMatchObject({ ok: false, code: "invalid_field", message: expect.stringMatching(field) });
  });
});

describe("detection does not steal the flat formats' records", () => {
  const siemKeys = {
    "kibana.alert.rule.name": "Elastic rule",
    rule: { level: 12, description: "Wazuh rule" },
    agent: { name: "web-02" },
    event_type: "alert",
    src_ip: "10.0.0.1",
    alert: { signature: "EVE sig" },
    class_uid: 2004,
    metadata: {},
    finding_info: { title: "OCSF" },
    _time: "1763626800",
    urgency: "high",
    search_name: "Splunk search",
  };

  it("a record with alert_name is native whatever SIEM keys it also carries", () => {
    const a = mustNormalize({ alert_name: "Native alert", severity: "low", ...siemKeys });
    expect(a).toMatchObject({ format: "native", alert_name: "Native alert", severity: "low" });
  });

  it("a record with failed_logins is a prototype login whatever SIEM keys it also carries", () => {
    const a = mustNormalize({ user: "alice", source_ip: "203.0.113.5", failed_logins: 3, success: false, ...siemKeys });
    expect(a.format).toBe("prototype-login");
  });
});

describe("shapes within a format", () => {
  /** Nested objects → flattened dotted keys (arrays kept), as Kibana's alerts index stores them. */
  const flatten = (obj: Record<string, unknown>, prefix = "", out: Record<string, unknown> = {}) => {
    for (const [k, v] of Object.entries(obj)) {
      if (v !== null && typeof v === "object" && !Array.isArray(v)) flatten(v as Record<string, unknown>, `${prefix}${k}.`, out);
      else out[`${prefix}${k}`] = v;
    }
    return out;
  };

  it("elastic: a nested document and its flattened form give the same alert", () => {
    for (const line of fixtures.elastic) {
      const record = JSON.parse(line) as Record<string, unknown>;
      if ("_source" in record) continue;
      const { raw: _a, ...nested } = mustNormalize(record);
      const { raw: _b, ...flat } = mustNormalize(flatten(record));
      expect(flat).toEqual(nested);
    }
  });

  it("elastic: a search hit is read through _source and falls back to _id for the alert id", () => {
    const hit = JSON.parse(fixtures.elastic[5]!) as Record<string, unknown>;
    const a = mustNormalize(hit);
    expect(a.alert_id).toBe(hit._id);
    expect(a.fields.elastic_index).toBe(".siem-signals-default-000003");
  });

  it("splunk: the webhook envelope and the bare result row give the same name, addresses, user and time", () => {
    const envelope = JSON.parse(fixtures.splunk[11]!) as { result: Record<string, unknown> };
    const fromEnvelope = mustNormalize(envelope);
    const fromRow = mustNormalize(envelope.result);
    for (const key of ["alert_id", "alert_name", "severity", "source_ip", "destination_ip", "user", "host", "timestamp"] as const)
      expect(fromRow[key]).toEqual(fromEnvelope[key]);
  });

  it("splunk: _time as epoch seconds, fractional seconds or ISO all become UTC ISO-8601", () => {
    for (const [time, iso] of [
      ["1763626800", "2025-11-20T08:20:00.000Z"],
      ["1763626800.250", "2025-11-20T08:20:00.250Z"],
      ["2025-11-20T09:20:00.000+01:00", "2025-11-20T08:20:00.000Z"],
    ] as const) {
      expect(mustNormalize({ _time: time, search_name: "x" }).timestamp).toBe(iso);
    }
  });

  it("an unparseable time keeps the alert and the raw value", () => {
    const a = mustNormalize({ event_type: "alert", src_ip: "10.0.0.1", timestamp: "last tuesday", alert: { signature: "x", severity: 2 } });
    expect(a.timestamp).toBeNull();
    expect(a.fields.timestamp_raw).toBe("last tuesday");
  });
});

describe("severity mappings", () => {
  it("wazuh rule level 0–16", () => {
    const got = Array.from({ length: 17 }, (_, level) => severityFromWazuhLevel(level));
    expect(got).toEqual([
      "info",
      "info",
      "info",
      "info",
      "low",
      "low",
      "low",
      "medium",
      "medium",
      "medium",
      "medium",
      "medium",
      "high",
      "high",
      "high",
      "critical",
      "critical",
    ]);
    expect(severityFromWazuhLevel(17)).toBeUndefined();
    expect(severityFromWazuhLevel(2.5)).toBeUndefined();
  });

  it("suricata priority, 1 most severe; critical only with ET signature_severity Critical", () => {
    expect([1, 2, 3, 4, 5].map((p) => severityFromSuricata(p, null))).toEqual(["high", "medium", "low", "info", "info"]);
    expect(severityFromSuricata(1, "Critical")).toBe("critical");
    expect(severityFromSuricata(2, "Critical")).toBe("medium");
    expect(severityFromSuricata(0, null)).toBeUndefined();
  });

  it("ocsf severity_id 0–6 and 99", () => {
    // 0 Unknown and 99 Other without a usable severity text get our default; 42 is no OCSF severity at all.
    expect([0, 1, 2, 3, 4, 5, 6, 99, 42].map(severityFromOcsf)).toEqual([
      "medium",
      "info",
      "low",
      "medium",
      "high",
      "critical",
      "critical",
      "medium",
      undefined,
    ]);
    expect(mustNormalize({ class_uid: 2004, metadata: {}, severity_id: 99, severity: "Critical", finding_info: { title: "x" } }).severity).toBe("critical");
    expect(mustNormalize({ class_uid: 2004, metadata: {}, severity_id: 0, severity: "Unknown", finding_info: { title: "x" } }).severity).toBe("medium");
  });

  it("elastic severity words as is, risk score banded at the midpoints of Kibana's defaults", () => {
    expect([0, 1, 21, 33, 34, 47, 59, 60, 73, 85, 86, 99, 100].map(severityFromElasticRiskScore)).toEqual([
      "info",
      "low",
      "low",
      "low",
      "medium",
      "medium",
      "medium",
      "high",
      "high",
      "high",
      "critical",
      "critical",
      "critical",
    ]);
    // An out-of-range risk score is ignored (medium), not a reason to drop the alert.
    expect(severityFromElasticRiskScore(101)).toBe("medium");
    expect(mustNormalize({ "kibana.alert.rule.name": "x", "kibana.alert.severity": "low", "kibana.alert.risk_score": 99 }).severity).toBe("low");
  });

  it("splunk urgency before severity; informational → info; unknown or absent → medium", () => {
    expect(["informational", "low", "medium", "high", "critical"].map((u) => severityFromSplunk(u, undefined))).toEqual([
      "info",
      "low",
      "medium",
      "high",
      "critical",
    ]);
    expect(severityFromSplunk("critical", "low")).toBe("critical");
    expect(severityFromSplunk(undefined, "high")).toBe("high");
    expect(severityFromSplunk("unknown", undefined)).toBe("medium");
    expect(mustNormalize({ _time: "1763626800", search_name: "x" }).severity).toBe("medium");
  });
});
