// The generic fallback: a JSON object no format claims is still triaged when some field names an alert, with
// addresses, user, host and time taken from fields whose names say so and every field kept; only records with
// nothing alert-like are dead-lettered (unknown_format).
import { describe, expect, it } from "vitest";
import type { Alert } from "../../../../src/core/alert.js";
import { deriveAlertId } from "../../../../src/transforms/normalize/fields.js";
import { createNormalizer } from "../../../../src/transforms/normalize/index.js";

const normalizer = createNormalizer({ maxRecordBytes: 1 << 20, maxJsonDepth: 32 });
const norm = (rec: unknown) => normalizer.normalize(Buffer.from(JSON.stringify(rec)));
const must = (rec: Record<string, unknown>): Alert => {
  const r = norm(rec);
  if (!r.ok) throw new Error(`${r.code}: ${r.message}`);
  return r.value;
};

describe("generic fallback", () => {
  it("a CIM-like record without Splunk's markers: name, source IP, every field kept", () => {
    const rec = { rule_name: "No Splunk markers here", src: "10.0.0.1" };
    expect(must(rec)).toMatchObject({
      format: "generic",
      alert_name: "No Splunk markers here",
      severity: "medium",
      source_ip: "10.0.0.1",
      fields: rec,
      raw: rec,
      alert_id: deriveAlertId(rec),
    });
  });

  it("prefers field names that say what they are", () => {
    const rec = {
      title: "Impossible travel",
      message: "user signed in from two countries",
      severity: "High",
      client_ip: "198.51.100.4",
      server: { ip: "10.1.1.1" },
      username: "kim",
      hostname: "vpn-gw-2",
      detected_at: "2025-11-20T09:00:00+01:00",
      id: "rule-7",
    };
    expect(must(rec)).toMatchObject({
      alert_name: "Impossible travel",
      severity: "high",
      source_ip: "198.51.100.4",
      destination_ip: "10.1.1.1",
      user: "kim",
      host: "vpn-gw-2",
      timestamp: "2025-11-20T08:00:00.000Z",
      description: "user signed in from two countries",
    });
  });

  it("finds addresses under nested keys whose names say source / destination, ports stripped", () => {
    const a = must({ signature: "Outbound beacon", network: { attacker_ip: "203.0.113.8:4444", victim: { address: "10.0.0.9" } } });
    expect(a).toMatchObject({ source_ip: "203.0.113.8", destination_ip: "10.0.0.9" });
  });

  it("does not take the record's own id as the alert id (its meaning is unknown); it stays in fields", () => {
    const a = must({ name: "Port scan", id: "rule-42" });
    expect(a.alert_id).toMatch(/^sha256:/);
    expect(a.fields.id).toBe("rule-42");
  });

  it("an unknown or absent severity is medium, a known level word is used", () => {
    expect(must({ title: "x", severity: "purple" }).severity).toBe("medium");
    expect(must({ message: "user logged in", level: "info", ts: 1763626800 })).toMatchObject({ severity: "info", timestamp: "2025-11-20T08:20:00.000Z" });
    // A bare priority number means opposite things in different tools: not read.
    expect(must({ alert: "Disk wiped", priority: 1 }).severity).toBe("medium");
  });

  it("keeps an unparseable time in fields", () => {
    expect(must({ title: "x", time: "last tuesday" })).toMatchObject({ timestamp: null, fields: { timestamp_raw: "last tuesday" } });
  });

  it.each([
    ["a heartbeat", { event: "heartbeat", sensor: "ids-edge-1", uptime_s: 86400 }],
    ["an empty finding list", { findings: [] }],
    ["a metric", { metric: "cpu_load", value: 0.93 }],
    // biome-ignore lint/correctness/noPrecisionLoss: deliberately out of range (parses to Infinity).
    ["a name that is not text", { name: { first: "a" }, title: 7.5e400 }],
  ])("nothing alert-like (%s) → unknown_format", (_label, rec) => {
    expect(norm(rec)).toMatchObject({ ok: false, code: "unknown_format", message: expect.stringMatching(/no field names an alert/) });
  });
});
