// Vendor formats added as mappings (config/formats/*.yaml): every published record becomes the alert an analyst
// reads off it (or is refused with the code it should be), is claimed first by its own format, and keeps the
// vendor fields that matter for triage. Plain events of the formats that carry both are not_an_alert.
import { describe, expect, it } from "vitest";
import type { Alert } from "../../../../src/core/alert.js";
import { deriveAlertId } from "../../../../src/transforms/normalize/fields.js";
import { createNormalizer, defaultFormats } from "../../../../src/transforms/normalize/index.js";
import { vendorCases } from "../../../support/vendor-fixtures.js";

const normalizer = createNormalizer({ maxRecordBytes: 1 << 20, maxJsonDepth: 32 });
const norm = (rec: unknown) => normalizer.normalize(Buffer.from(JSON.stringify(rec)));
const mustNormalize = (rec: unknown): Alert => {
  const r = norm(rec);
  if (!r.ok) throw new Error(`${r.code}: ${r.message}`);
  return r.value;
};
const byFile = (file: string, line = 1) => vendorCases.find((c) => c.file === file && c.line === line)!.record;

describe("vendor fixtures", () => {
  it("cover every new built-in format", () => {
    expect(new Set(vendorCases.map((c) => c.format))).toEqual(
      new Set([
        "elastic-defend",
        "falco",
        "okta",
        "msgraph-alert",
        "sentinel-alert",
        "zeek-notice",
        "qradar-offense",
        "aws-securityhub",
        "aws-guardduty",
        "crowdstrike-falcon",
        "google-secops",
      ]),
    );
  });

  it.each(vendorCases.map((c) => [`${c.file}:${c.line}`, c] as const))("%s becomes what the record says", (_label, c) => {
    // Detection order decides: the record's own format is the first that claims it.
    expect(defaultFormats.find((f) => f.detect(c.record))?.name).toBe(c.format);
    const r = normalizer.normalize(Buffer.from(c.text));
    if ("code" in c) {
      expect(r).toMatchObject({ ok: false, code: c.code, message: expect.stringMatching(new RegExp(`^${c.format}: `)) });
      return;
    }
    if (!r.ok) throw new Error(`${r.code}: ${r.message}`);
    const a = r.value;
    expect(a.format).toBe(c.format);
    const { alert_id: wantId, ...want } = c.alert;
    expect({
      alert_name: a.alert_name,
      severity: a.severity,
      source_ip: a.source_ip,
      destination_ip: a.destination_ip,
      user: a.user,
      host: a.host,
      timestamp: a.timestamp,
    }).toEqual(want);
    expect(a.alert_id).toBe(wantId ?? deriveAlertId(c.record));
    expect(a.raw).toEqual(c.record);
  });

  it("give every alert a distinct id", () => {
    const ids = vendorCases.filter((c) => "alert" in c).map((c) => mustNormalize(c.record).alert_id);
    expect(new Set(ids).size).toBe(ids.length);
  });
});

describe("vendor fields kept for the analyst and the model", () => {
  it("elastic-defend: file hash, malware score, event code", () => {
    expect(mustNormalize(byFile("elastic-defend")).fields).toMatchObject({
      event_code: "malicious_file",
      file_sha256: "90143dfb2e3210f18e1bcc50eb6c3961d11071e3ec024215b8835e468fa63e53",
      malware_score: 0.692318737506866,
      quarantined: true,
      host_ips: ["10.201.0.34", "fe80::4850:4f4f:4b53:8103", "127.0.0.1", "::1"],
    });
  });

  it("falco: container, command line, tags; the output line as description", () => {
    const a = mustNormalize(byFile("falco", 2));
    expect(a.fields).toMatchObject({
      source: "syscall",
      container_id: "9656db3bb358",
      process_command_line: "bash -c ls > /dev/null",
      parent_process_name: "httpd",
      tags: expect.arrayContaining(["T1059.004", "mitre_execution"]),
    });
    expect(a.description).toMatch(/^2024-05-07T18:54:27\.767673017\+0000: Notice Shell spawned by untrusted binary/);
  });

  it("okta: outcome and reason, user agent, Okta's threat flag", () => {
    expect(mustNormalize(byFile("okta", 2)).fields).toMatchObject({
      event_type: "user.session.start",
      outcome_result: "FAILURE",
      outcome_reason: "INVALID_CREDENTIALS",
      threat_suspected: "true",
      geo_city: "Dublin",
    });
  });

  it("msgraph-alert: incident, service, MITRE techniques, the process evidence", () => {
    expect(mustNormalize(byFile("msgraph")).fields).toMatchObject({
      incident_id: "28282",
      service_source: "microsoftDefenderForEndpoint",
      detection_source: "antivirus",
      mitre_technique_ids: ["T1564.001"],
      device_ips: ["1.1.1.1"],
      process_command_line: '"MsSense.exe"',
    });
  });

  it("sentinel-alert: provider, product and the entities text", () => {
    expect(mustNormalize(byFile("sentinel")).fields).toMatchObject({
      provider: "ASI Scheduled Alerts",
      product: "Azure Sentinel",
      status: "New",
      entities: expect.stringContaining("AWS:44512121212"),
    });
  });

  it("zeek-notice: connection uid and ports", () => {
    expect(mustNormalize(byFile("zeek", 2)).fields).toMatchObject({ uid: "CmvrSS1wIiuOGYCbfi", source_port: 48818, destination_port: 443, proto: "tcp" });
  });

  it("qradar-offense: magnitude, categories, rules; a non-IP offense source stays in fields", () => {
    expect(mustNormalize(byFile("qradar")).fields).toMatchObject({
      magnitude: 1,
      categories: ["Unknown Generic Log Event"],
      rule_ids: ["100408"],
      status: "OPEN",
    });
    expect(mustNormalize(byFile("qradar", 2))).toMatchObject({
      source_ip: null,
      user: null,
      fields: { offense_type: 52, offense_source: "e57f3cba-a64f-49ae-8d82-b3d4422c6e58" },
    });
  });

  it("aws-securityhub / aws-guardduty: finding type, account, threat intel", () => {
    expect(mustNormalize(byFile("asff", 2)).fields).toMatchObject({
      malware: ["Stringler"],
      threat_indicators: ["175.16.199.1"],
      resource_ids: ["i-cafebabe"],
      compliance_status: "PASSED",
    });
    expect(mustNormalize(byFile("guardduty")).fields).toMatchObject({
      finding_type: "Trojan:EC2/BlackholeTraffic!DNS",
      account_id: "123412341234",
      dns_domain: "GeneratedFindingDomainName",
      threat_names: ["GeneratedFindingThreatName"],
    });
  });

  it("crowdstrike-falcon: tactic, technique, hash, disposition", () => {
    expect(mustNormalize(byFile("crowdstrike")).fields).toMatchObject({
      tactic: "Malware",
      technique: "PUP",
      sha256: "faf0c5e4ef7dbcfd863377c55a4d1d87a3f6a58c13a8a9882e11012066f31976",
      local_ip: "81.2.69.144",
      disposition: "Prevention, process was blocked from execution.",
    });
  });

  it("google-secops: rule id, type, risk score; the severity label wins over the risk score", () => {
    const a = mustNormalize(byFile("google-secops"));
    expect(a.fields).toMatchObject({
      rule_id: "ru_aedca1f9-bb09-4e54-af7d-0c98d412b59b",
      rule_type: "MULTI_EVENT",
      risk_score: 10,
      detection_type: "RULE_DETECTION",
    });
    expect(a.severity).toBe("medium");
  });
});

describe("shapes within the new formats", () => {
  it("google-secops: the API's detection list and collectionElements give the same alert as the flattened shape", () => {
    const flat = byFile("google-secops") as { detection: Record<string, unknown>; event: Record<string, unknown> };
    const { detection, event, ...rest } = flat;
    const api = { ...rest, detection: [detection], collectionElements: [{ label: "e", references: [{ event }] }] };
    const a = mustNormalize(api);
    const b = mustNormalize(flat);
    for (const key of ["alert_id", "alert_name", "severity", "source_ip", "destination_ip", "user", "host", "timestamp"] as const)
      expect(a[key]).toEqual(b[key]);
  });

  it("aws-guardduty: a finding inside an EventBridge event is read through detail", () => {
    const finding = byFile("guardduty", 2);
    const event = {
      version: "0",
      id: "28e463cd-ca3b-587f-045e-49903af281e5",
      "detail-type": "GuardDuty Finding",
      source: "aws.guardduty",
      account: "123412341234",
      time: "2022-11-22T12:22:21Z",
      region: "us-east-1",
      resources: [],
      detail: finding,
    };
    const a = mustNormalize(event);
    expect(a).toMatchObject({ format: "aws-guardduty", alert_id: "43b6abcdeabcdeabcde1234562176924", source_ip: "175.16.199.1" });
  });

  it("aws-guardduty: an OUTBOUND connection's remote address is the destination", () => {
    const finding = structuredClone(byFile("guardduty")) as { service: { action: unknown } };
    finding.service.action = {
      actionType: "NETWORK_CONNECTION",
      networkConnectionAction: {
        connectionDirection: "OUTBOUND",
        remoteIpDetails: { ipAddressV4: "198.51.100.7" },
        localIpDetails: { ipAddressV4: "10.0.0.5" },
      },
    };
    expect(mustNormalize(finding)).toMatchObject({ source_ip: null, destination_ip: "198.51.100.7" });
    (finding.service.action as { networkConnectionAction: { connectionDirection: string } }).networkConnectionAction.connectionDirection = "INBOUND";
    expect(mustNormalize(finding)).toMatchObject({ source_ip: "198.51.100.7", destination_ip: null });
  });

  it("qradar-offense: a username offense source is the user, a destination-IP source the destination", () => {
    const offense = byFile("qradar");
    expect(mustNormalize({ ...offense, offense_type: 3, offense_source: "j.doe" })).toMatchObject({ user: "j.doe", source_ip: null });
    expect(mustNormalize({ ...offense, offense_type: 1 })).toMatchObject({ destination_ip: "1.128.0.0", source_ip: null });
  });

  it("msgraph-alert: an ipEvidence address is the source", () => {
    const alert = structuredClone(byFile("msgraph")) as { evidence: unknown[] };
    alert.evidence.push({ "@odata.type": "#microsoft.graph.security.ipEvidence", ipAddress: "203.0.113.44", roles: ["attacker"] });
    expect(mustNormalize(alert).source_ip).toBe("203.0.113.44");
  });
});

describe("plain events of the formats are not_an_alert, not missing_field", () => {
  it.each([
    [
      "ECS event.kind event",
      {
        "@timestamp": "2025-11-20T08:00:00Z",
        ecs: { version: "8.11.0" },
        event: { kind: "event", category: ["authentication"], action: "ssh_login" },
        user: { name: "root" },
        message: "Accepted password for root",
      },
      /^elastic: ECS event\.kind "event" is not an alert/,
    ],
    [
      "ECS metric",
      { "@timestamp": "2025-11-20T08:00:00Z", event: { kind: "metric", dataset: "system.cpu" }, system: { cpu: { total: { pct: 0.4 } } } },
      /^elastic: ECS event\.kind "metric"/,
    ],
    [
      "OCSF network activity",
      { class_uid: 4001, class_name: "Network Activity", category_uid: 4, activity_id: 6, severity_id: 1, time: 1763629200123, metadata: { version: "1.3.0" } },
      /class_uid 4001 \(Network Activity\) is not a finding/,
    ],
    [
      "Zeek conn.log",
      {
        _path: "conn",
        ts: 1617097929.6,
        uid: "CmvrSS1wIiuOGYCbfi",
        "id.orig_h": "10.156.0.2",
        "id.orig_p": 48818,
        "id.resp_h": "89.160.20.156",
        "id.resp_p": 443,
        proto: "tcp",
        conn_state: "SF",
      },
      /^zeek-notice: Zeek conn record/,
    ],
    [
      "Falcon auth audit",
      {
        metadata: { customerIDString: "c", offset: 1, eventType: "AuthActivityAuditEvent", eventCreationTime: 1686845212400, version: "1.0" },
        event: { UserId: "a@example.com", OperationName: "userAuthenticate", Success: true },
      },
      /AuthActivityAuditEvent is not a detection/,
    ],
    [
      "Security Hub passed control",
      {
        SchemaVersion: "2018-10-08",
        ProductArn: "arn:aws:securityhub:us-east-1::product/aws/securityhub",
        AwsAccountId: "111122223333",
        Id: "x",
        Title: "S3.1 block public access",
        Compliance: { Status: "PASSED" },
        Severity: { Label: "INFORMATIONAL" },
      },
      /control check PASSED/,
    ],
  ])("%s", (_label, record, message) => {
    expect(norm(record)).toMatchObject({ ok: false, code: "not_an_alert", message: expect.stringMatching(message) });
  });

  it("a plain ECS alert (event.kind alert) without a rule name is named by its message, not dead-lettered", () => {
    const doc = {
      "@timestamp": "2025-11-20T08:00:00Z",
      ecs: { version: "8.11.0" },
      event: { kind: "alert", module: "suricata" },
      message: "ET SCAN Nmap User-Agent",
      source: { ip: "198.51.100.61" },
    };
    expect(mustNormalize(doc)).toMatchObject({ format: "elastic", alert_name: "ET SCAN Nmap User-Agent", source_ip: "198.51.100.61" });
  });

  it("a Security Hub finding labelled above INFORMATIONAL is triaged whatever its compliance status says", () => {
    expect(
      mustNormalize({
        SchemaVersion: "2018-10-08",
        ProductArn: "p",
        AwsAccountId: "1",
        Id: "y",
        Title: "t",
        Compliance: { Status: "PASSED" },
        Severity: { Label: "HIGH" },
      }).severity,
    ).toBe("high");
  });
});
