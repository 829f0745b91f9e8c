// Detection and normalization over open-ended input: random JSON and random records built from the real key
// vocabularies of the SIEM formats never crash a detector or a normalizer, never yield a schema-invalid alert,
// and never take a native (alert_name) or prototype (failed_logins) record away from its own format.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import type { AlertFormat } from "../../../../src/transforms/normalize/format.js";
import { createNormalizer, defaultFormats } from "../../../../src/transforms/normalize/index.js";

const normalizer = createNormalizer({ maxRecordBytes: 1 << 20, maxJsonDepth: 32 });
const siemFormats = defaultFormats.filter((f) => f.name !== "native" && f.name !== "prototype-login");
const firstDetector = (r: Record<string, unknown>): string | undefined => defaultFormats.find((f) => f.detect(r))?.name;

/** Codes that would mean a format threw or built an alert the schema rejects: bugs, never expected outcomes. */
const BUG_CODES = new Set(["normalize_failed", "invalid_alert"]);

/** Through the real entry point (bytes in): always ok | invalid, never a bug code. */
function assertNormalizes(record: unknown): void {
  const r = normalizer.normalize(Buffer.from(JSON.stringify(record) ?? "null"));
  expect(typeof r.ok).toBe("boolean");
  if (!r.ok) {
    expect(r.code).toMatch(/^[a-z0-9_]+$/);
    expect(BUG_CODES.has(r.code), `${r.code}: ${r.message}`).toBe(false);
  }
}

/** Straight at each SIEM format (no registry try/catch): detect never throws, normalize never throws on what it claims. */
function assertFormatsSafe(record: Record<string, unknown>): void {
  for (const format of siemFormats) {
    const claimed = callSafely(format, "detect", record);
    if (claimed) callSafely(format, "normalize", record);
  }
}

function callSafely(format: AlertFormat, method: "detect" | "normalize", record: Record<string, unknown>): unknown {
  try {
    return format[method](record);
  } catch (err) {
    throw new Error(`${format.name}.${method} threw on ${JSON.stringify(record).slice(0, 300)}: ${(err as Error).message}`);
  }
}

// ---- Random records from the formats' real key vocabularies ----

const VOCABULARY = [
  // Elastic / ECS
  "@timestamp",
  "kibana.alert.uuid",
  "kibana.alert.rule.name",
  "kibana.alert.rule.rule_id",
  "kibana.alert.severity",
  "kibana.alert.risk_score",
  "kibana.alert.rule.threat",
  "kibana.alert.reason",
  "signal.rule.name",
  "signal.rule.severity",
  "signal.rule.risk_score",
  "signal.rule.threat",
  "ecs.version",
  "event.kind",
  "event.id",
  "event.category",
  "rule.name",
  "rule.id",
  "source.ip",
  "destination.ip",
  "user.name",
  "user.target.name",
  "host.name",
  "host.hostname",
  "threat.tactic.id",
  "threat.technique.id",
  "_source",
  "_id",
  "_index",
  // Wazuh
  "rule.level",
  "rule.description",
  "rule.groups",
  "rule.mitre.id",
  "rule.mitre.tactic",
  "rule.firedtimes",
  "agent.name",
  "agent.id",
  "manager.name",
  "decoder.name",
  "id",
  "timestamp",
  "full_log",
  "data.srcip",
  "data.dstip",
  "data.srcuser",
  "data.dstuser",
  "data.win.eventdata.ipAddress",
  "data.win.eventdata.targetUserName",
  "data.src_ip",
  "syscheck.path",
  "location",
  // Suricata EVE
  "event_type",
  "flow_id",
  "src_ip",
  "dest_ip",
  "src_port",
  "dest_port",
  "proto",
  "in_iface",
  "alert",
  "alert.signature",
  "alert.severity",
  "alert.category",
  "alert.signature_id",
  "alert.metadata.signature_severity",
  "alert.metadata.mitre_technique_id",
  "dns.query",
  "dns.queries",
  "dns.rrname",
  "http.hostname",
  "tls.sni",
  "host",
  // OCSF
  "class_uid",
  "class_name",
  "category_uid",
  "type_uid",
  "severity_id",
  "severity",
  "time",
  "time_dt",
  "metadata",
  "metadata.uid",
  "metadata.product.name",
  "finding_info.title",
  "finding_info.uid",
  "finding_info.attacks",
  "finding.title",
  "finding.uid",
  "attacks",
  "src_endpoint.ip",
  "dst_endpoint.ip",
  "actor.user.name",
  "device.hostname",
  "device.name",
  "evidences",
  // Splunk
  "sid",
  "result",
  "search_name",
  "rule_name",
  "_time",
  "urgency",
  "src",
  "dest",
  "user",
  "event_id",
  "src_user",
  "dest_host",
  "orig_host",
  "sourcetype",
  "risk_score",
  "annotations.mitre_attack.mitre_technique_id",
  "results_link",
  "result.rule_name",
  "result._time",
  "result.src",
  "result.urgency",
  "result.event_id",
] as const;

const interesting = fc.constantFrom<unknown>(
  "alert",
  "flow",
  "dns",
  "critical",
  "high",
  "medium",
  "low",
  "informational",
  "Unknown",
  "Other",
  "Critical",
  "stash",
  "purple",
  "",
  "10.0.0.1",
  "2001:db8::1",
  "not-an-ip",
  "1763626800",
  "1763626800.5",
  "2025-11-20T08:20:00.000+0000",
  "yesterday",
  0,
  1,
  2,
  3,
  4,
  5,
  6,
  7,
  12,
  15,
  16,
  17,
  99,
  2001,
  2004,
  3002,
  -1,
  1.5,
  1e20,
  1763629200123,
  Number.MAX_SAFE_INTEGER,
);
const scalar = fc.oneof(
  interesting,
  fc.string({ maxLength: 16 }),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.boolean(),
  fc.constant(null),
);
const smallObject = fc.dictionary(
  fc.constantFrom("id", "uid", "name", "title", "level", "signature", "severity", "ip", "tactic", "technique", "subtechnique", "rrname"),
  fc.oneof(scalar, fc.array(scalar, { maxLength: 3 })),
  { maxKeys: 5 },
);
const value = fc.oneof(
  { weight: 4, arbitrary: scalar },
  { weight: 1, arbitrary: fc.array(fc.oneof(scalar, smallObject), { maxLength: 4 }) },
  { weight: 1, arbitrary: smallObject },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
);

/** Put `v` at a dotted path, nested (replacing non-objects on the way) or as one flattened key. */
function place(record: Record<string, unknown>, path: string, v: unknown, flat: boolean): void {
  if (flat) {
    record[path] = v;
    return;
  }
  const parts = path.split(".");
  let node = record;
  for (const part of parts.slice(0, -1)) {
    const next = node[part];
    if (next === null || typeof next !== "object" || Array.isArray(next)) node[part] = {};
    node = node[part] as Record<string, unknown>;
  }
  node[parts[parts.length - 1]!] = v;
}

const vocabularyRecord = fc.array(fc.tuple(fc.constantFrom(...VOCABULARY), value, fc.boolean()), { minLength: 1, maxLength: 14 }).map((entries) => {
  const record: Record<string, unknown> = {};
  for (const [path, v, flat] of entries) place(record, path, v, flat);
  return record;
});

// Real records with some of their own fields deleted or replaced: the shapes most likely to half-match a format.
const fixtureDir = new URL("../../../fixtures/formats/", import.meta.url);
const fixtureRecords = ["elastic", "wazuh", "suricata", "ocsf", "splunk"].flatMap((f) =>
  readFileSync(new URL(`${f}.ndjson`, fixtureDir), "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as Record<string, unknown>),
);

/** Every key path of a record, as segments (a flattened dotted key is one segment); arrays are leaves. */
function keyPaths(node: Record<string, unknown>, prefix: string[] = []): string[][] {
  return Object.entries(node).flatMap(([key, v]) => {
    const path = [...prefix, key];
    return v !== null && typeof v === "object" && !Array.isArray(v) ? [path, ...keyPaths(v as Record<string, unknown>, path)] : [path];
  });
}

function editAt(record: Record<string, unknown>, path: string[], v: unknown): void {
  let node = record;
  for (const part of path.slice(0, -1)) {
    const next = node[part];
    if (next === null || typeof next !== "object" || Array.isArray(next)) return; // an earlier edit replaced a parent
    node = next as Record<string, unknown>;
  }
  const last = path[path.length - 1]!;
  if (v === undefined) delete node[last];
  else node[last] = v;
}

const mutatedFixture = fc.constantFrom(...fixtureRecords).chain((fixture) =>
  fc.array(fc.tuple(fc.constantFrom(...keyPaths(fixture)), fc.option(value, { nil: undefined, freq: 3 })), { minLength: 1, maxLength: 5 }).map((edits) => {
    const record = structuredClone(fixture);
    for (const [path, v] of edits) editAt(record, path, v);
    return record;
  }),
);

describe("normalizer over open-ended input (property)", () => {
  it("random JSON objects: ok or invalid, no format throws", () => {
    fc.assert(
      fc.property(fc.object({ maxDepth: 3 }), (record) => {
        assertNormalizes(record);
        assertFormatsSafe(record as Record<string, unknown>);
      }),
      { numRuns: 1000 },
    );
  });

  it("random JSON values: ok or invalid", () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), (v) => assertNormalizes(v)),
      { numRuns: 1000 },
    );
  });

  it("random records from the SIEM key vocabularies, nested and flattened: ok or invalid, no format throws", () => {
    fc.assert(
      fc.property(vocabularyRecord, (record) => {
        assertNormalizes(record);
        assertFormatsSafe(record);
      }),
      { numRuns: 3000 },
    );
  });

  it("fixture records with fields deleted or replaced: ok or invalid, no format throws", () => {
    fc.assert(
      fc.property(mutatedFixture, (record) => {
        assertNormalizes(record);
        assertFormatsSafe(record);
      }),
      { numRuns: 2000 },
    );
  });

  it("the same bytes always give the same outcome and alert id", () => {
    fc.assert(
      fc.property(vocabularyRecord, (record) => {
        const bytes = Buffer.from(JSON.stringify(record));
        expect(normalizer.normalize(bytes)).toEqual(normalizer.normalize(bytes));
      }),
      { numRuns: 500 },
    );
  });
});

describe("the flat formats keep their records (property)", () => {
  it("a record with alert_name is always detected as native", () => {
    fc.assert(
      fc.property(vocabularyRecord, fc.oneof(fc.string({ minLength: 1, maxLength: 30 }), scalar), fc.boolean(), (record, alertName, withFailedLogins) => {
        const native: Record<string, unknown> = { ...record, alert_name: alertName };
        if (withFailedLogins) native.failed_logins = 5;
        expect(firstDetector(native)).toBe("native");
        const r = normalizer.normalize(Buffer.from(JSON.stringify(native)));
        if (r.ok) expect(r.value.format).toBe("native");
        // Either the native format judged it, or the decoder refused it before any format (a nested __proto__ key).
        else if (r.code === "forbidden_key") expect(r.message).toMatch(/__proto__/);
        else expect(r.message).toMatch(/^native: /);
      }),
      { numRuns: 2000 },
    );
  });

  it("a record with failed_logins (and no alert_name) is always detected as a prototype login", () => {
    fc.assert(
      fc.property(vocabularyRecord, fc.nat({ max: 100 }), (record, failed) => {
        const login: Record<string, unknown> = { ...record, failed_logins: failed };
        delete login.alert_name;
        expect(firstDetector(login)).toBe("prototype-login");
      }),
      { numRuns: 1000 },
    );
  });
});
