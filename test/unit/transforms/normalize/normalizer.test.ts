import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { createNormalizer } from "../../../../src/transforms/normalize/index.js";

const normalizer = createNormalizer({ maxRecordBytes: 1 << 20, maxJsonDepth: 32 });
const norm = (rec: unknown) => normalizer.normalize(Buffer.from(JSON.stringify(rec)));

describe("native format", () => {
  it("maps the flat fields and keeps extras", () => {
    const r = norm({
      alert_id: "A-1",
      alert_name: "Port scan",
      severity: "High",
      source_ip: "203.0.113.9",
      destination_ip: "10.0.0.5",
      user: "bob",
      host: "web-1",
      timestamp: "2025-11-23T10:00:00+01:00",
      description: "scan",
      rule_id: "R7",
      tags: ["x"],
    });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value).toMatchObject({
      alert_id: "A-1",
      alert_name: "Port scan",
      severity: "high",
      source_ip: "203.0.113.9",
      destination_ip: "10.0.0.5",
      user: "bob",
      host: "web-1",
      timestamp: "2025-11-23T09:00:00.000Z",
      format: "native",
    });
    expect(r.value.fields).toEqual({ rule_id: "R7", tags: ["x"] });
  });

  it.each([
    [10, "critical"],
    [8, "high"],
    [5, "medium"],
    [2, "low"],
    [0, "info"],
    [95, "critical"],
    ["7", "high"],
    ["warning", "medium"],
    ["informational", "info"],
  ])("normalizes severity %j to %s", (severity, expected) => {
    const r = norm({ alert_name: "x", severity });
    expect(r.ok && r.value.severity).toBe(expected);
  });

  it("rejects an unknown severity and a missing alert_name with reasons naming the field", () => {
    const a = norm({ alert_name: "x", severity: "purple" });
    expect(!a.ok && a.message).toMatch(/severity/);
    const b = norm({ alert_id: "1", severity: "high" });
    expect(!b.ok && b.code).toBe("unknown_format");
    expect(!b.ok && b.message).toMatch(/alert_name/);
  });

  it("derives a stable id from content when alert_id is absent", () => {
    const a = norm({ alert_name: "x", severity: "low", source_ip: "1.2.3.4" });
    const b = norm({ source_ip: "1.2.3.4", severity: "low", alert_name: "x" });
    const c = norm({ alert_name: "x", severity: "low", source_ip: "1.2.3.5" });
    expect(a.ok && b.ok && c.ok).toBe(true);
    if (!a.ok || !b.ok || !c.ok) return;
    expect(a.value.alert_id).toMatch(/^sha256:[0-9a-f]{32}$/);
    expect(a.value.alert_id).toBe(b.value.alert_id);
    expect(a.value.alert_id).not.toBe(c.value.alert_id);
  });

  it("derived ids ignore key order at every depth (property)", () => {
    fc.assert(
      fc.property(
        fc.dictionary(
          fc.string({ minLength: 1, maxLength: 8 }).filter((k) => k !== "__proto__" && k !== "alert_id"),
          fc.jsonValue({ maxDepth: 3 }),
          { maxKeys: 8 },
        ),
        (extra) => {
          const rec = { alert_name: "x", ...extra };
          const reversed = Object.fromEntries(Object.entries(rec).reverse());
          const a = norm(rec);
          const b = norm(reversed);
          expect(a.ok).toBe(b.ok);
          if (a.ok && b.ok) expect(a.value.alert_id).toBe(b.value.alert_id);
        },
      ),
    );
  });

  it("keeps an unparseable timestamp in fields instead of dropping the alert", () => {
    const r = norm({ alert_name: "x", timestamp: "yesterday-ish" });
    expect(r.ok && r.value.timestamp).toBeNull();
    expect(r.ok && r.value.fields.timestamp_raw).toBe("yesterday-ish");
  });
});

describe("prototype login records", () => {
  it("accepts the prototype's records as they were", () => {
    const r = norm({
      user: "alice",
      source_ip: "185.220.101.34",
      failed_logins: 25,
      success: true,
      time: "2025-11-23 09:10:00",
      location: "Russia",
      human_override: "TRUE_POSITIVE",
    });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value).toMatchObject({
      format: "prototype-login",
      user: "alice",
      source_ip: "185.220.101.34",
      severity: "critical",
      alert_name: "Successful login after brute force",
    });
    expect(r.value.fields).toMatchObject({ failed_logins: 25, success: true, location: "Russia", human_override: "TRUE_POSITIVE" });
  });

  it("rejects a negative failed_logins with a reason", () => {
    const r = norm({ user: "a", source_ip: "1.2.3.4", failed_logins: -1, success: false });
    expect(!r.ok && r.message).toMatch(/failed_logins/);
  });
});
