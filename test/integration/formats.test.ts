// Input formats on the real broker: a shuffled stream mixing every built-in format (the SIEM fixtures, the
// published vendor records), generic alerts, a user mapping loaded from TRIAGE_FORMATS_DIR and records no format
// can triage → exactly one verdict per alert (keyed by its alert id, carrying the recognised format) and only the
// non-alerts and garbage in the DLQ, each with the reason it was refused.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { startService, type Service } from "../../src/main.js";
import { verdictSchema } from "../../src/core/verdict.js";
import { deriveAlertId } from "../../src/transforms/normalize/fields.js";
import { createLogger } from "../../src/telemetry/logger.js";
import { collect, createTopics, produce, testConfig } from "./support.js";
import { mulberry32 } from "../fakes/http-fake.js";
import { vendorCases } from "../support/vendor-fixtures.js";

const logger = createLogger("warn");
const running: Service[] = [];
const dirs: string[] = [];
afterEach(async () => {
  while (running.length) await running.pop()!.stop("test end");
  while (dirs.length) rmSync(dirs.pop()!, { recursive: true, force: true });
});

// A vendor we do not ship, mapped by the user.
const USER_MAPPING = `
name: acme-sentry
description: Acme Sentry detections (invented for this test).
order: 450
detect: { all: [{ path: kind, equals: acme.detection }, { path: det, is: object }] }
alert:
  name: det.title
  id: det.uuid
  severity: { from: [{ path: det.level, table: { sev1: high, sev2: medium } }] }
  source_ip: { path: net.attacker, ip: true, port_to: attacker_port }
  host: box
  time: at
`;
const userAlerts = [
  {
    kind: "acme.detection",
    at: 1763629200,
    box: "ws-17",
    net: { attacker: "203.0.113.9:4444" },
    det: { uuid: "acme-int-1", title: "Reverse shell", level: "SEV1" },
  },
  { kind: "acme.detection", at: 1763629260, box: "ws-18", det: { uuid: "acme-int-2", title: "Credential dump", level: "sev2" } },
];
const genericAlerts = [
  { rule_name: "No Splunk markers here", src: "10.0.0.1" },
  { title: "Impossible travel", severity: "High", client_ip: "198.51.100.4", username: "kim", detected_at: "2025-11-20T09:00:00Z" },
];

const FORMATS = ["elastic", "wazuh", "suricata", "ocsf", "splunk"] as const;
interface Expected {
  alert_id: string | null;
  alert_name: string;
  severity: string;
  source_ip: string | null;
  destination_ip: string | null;
  user: string | null;
  host: string | null;
  timestamp: string | null;
}

const fixtureDir = new URL("../fixtures/formats/", import.meta.url);
const lines = (file: string) =>
  readFileSync(new URL(file, fixtureDir), "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "");
const expected = JSON.parse(readFileSync(new URL("expected.json", fixtureDir), "utf8")) as Record<string, Expected[]>;

function shuffle<T>(items: T[], seed: number): T[] {
  const random = mulberry32(seed);
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

describe("input formats on real Kafka", () => {
  it("a shuffled stream of every format → one verdict per alert, only non-alerts and garbage in the DLQ with their reason", async () => {
    const alerts: { line: string; format: string; want: Expected; id: string }[] = FORMATS.flatMap((format) =>
      lines(`${format}.ndjson`).map((line, i) => {
        const want = expected[format]![i]!;
        return { line, format, want, id: want.alert_id ?? deriveAlertId(JSON.parse(line) as Record<string, unknown>) };
      }),
    );
    for (const c of vendorCases) {
      if ("alert" in c) alerts.push({ line: c.text, format: c.format, want: c.alert, id: c.alert.alert_id ?? deriveAlertId(c.record) });
    }
    for (const [i, rec] of userAlerts.entries()) {
      alerts.push({
        line: JSON.stringify(rec),
        format: "acme-sentry",
        want: {
          alert_id: rec.det.uuid,
          alert_name: rec.det.title,
          severity: i === 0 ? "high" : "medium",
          source_ip: i === 0 ? "203.0.113.9" : null,
          destination_ip: null,
          user: null,
          host: rec.box,
          timestamp: new Date(rec.at * 1000).toISOString(),
        },
        id: rec.det.uuid,
      });
    }
    for (const rec of genericAlerts) {
      const r = rec as Record<string, unknown>;
      alerts.push({
        line: JSON.stringify(rec),
        format: "generic",
        want: {
          alert_id: null,
          alert_name: String(r.rule_name ?? r.title),
          severity: r.severity ? "high" : "medium",
          source_ip: String(r.src ?? r.client_ip),
          destination_ip: null,
          user: (r.username as string | undefined) ?? null,
          host: null,
          timestamp: (r.detected_at as string | undefined) ? "2025-11-20T09:00:00.000Z" : null,
        },
        id: deriveAlertId(r),
      });
    }
    const refused = [
      ...lines("rejected.ndjson").map((l) => {
        const { code, record } = JSON.parse(l) as { code: string; record: unknown };
        return { line: JSON.stringify(record), code };
      }),
      ...vendorCases.flatMap((c) => ("code" in c ? [{ line: c.text, code: c.code }] : [])),
      {
        line: JSON.stringify({
          "@timestamp": "2025-11-20T08:00:00Z",
          ecs: { version: "8.11.0" },
          event: { kind: "event", action: "ssh_login" },
          message: "Accepted password for root",
        }),
        code: "not_an_alert",
      },
      { line: JSON.stringify({ kind: "acme.detection", det: { level: "sev1" } }), code: "missing_field" },
      { line: "not json at all", code: "invalid_json" },
    ];
    expect(new Set(refused.map((r) => r.code))).toEqual(new Set(["unknown_format", "missing_field", "not_an_alert", "invalid_json"]));
    expect(new Set(alerts.map((a) => a.format)).size).toBeGreaterThanOrEqual(FORMATS.length + 11 + 2);

    const seed = Number(process.env.FORMATS_SEED ?? Date.now() % 1_000_000);
    console.log(`formats test: ${alerts.length} alerts + ${refused.length} refused records, shuffle seed ${seed} (FORMATS_SEED to replay)`);
    const stream = shuffle([...alerts.map((a) => a.line), ...refused.map((r) => r.line)], seed);

    const formatsDir = mkdtempSync(join(tmpdir(), "triage-formats-"));
    dirs.push(formatsDir);
    writeFileSync(join(formatsDir, "acme-sentry.yaml"), USER_MAPPING);
    const config = testConfig({ TRIAGE_FORMATS_DIR: formatsDir });
    await createTopics(config.names, 3);
    await produce(config.names.input, stream, 25);
    const out = await collect(config.names.output);
    const dlq = await collect(config.names.dlq);
    running.push(await startService(config, logger));

    const verdicts = await out.until(alerts.length);
    const letters = await dlq.until(refused.length);
    await new Promise((r) => setTimeout(r, 1500)); // any duplicate verdict or stray dead letter would show up here
    await out.stop();
    await dlq.stop();

    expect(verdicts).toHaveLength(alerts.length);
    const byId = new Map(alerts.map((a) => [a.id, a]));
    expect(new Set(verdicts.map((m) => m.key))).toEqual(new Set(byId.keys()));
    for (const m of verdicts) {
      const v = verdictSchema.parse(JSON.parse(m.value));
      const sent = byId.get(m.key!)!;
      expect(v.alert_id).toBe(m.key);
      expect(v.alert.format).toBe(sent.format);
      expect({
        name: v.alert.alert_name,
        severity: v.alert.severity,
        src: v.alert.source_ip,
        dst: v.alert.destination_ip,
        user: v.alert.user,
        host: v.alert.host,
        time: v.alert.timestamp,
      }).toEqual({
        name: sent.want.alert_name,
        severity: sent.want.severity,
        src: sent.want.source_ip,
        dst: sent.want.destination_ip,
        user: sent.want.user,
        host: sent.want.host,
        time: sent.want.timestamp,
      });
      expect(v.alert.raw).toEqual(JSON.parse(sent.line));
    }

    expect(letters).toHaveLength(refused.length);
    const codeByRecord = new Map(refused.map((r) => [r.line, r.code]));
    for (const letter of letters) {
      expect(letter.headers["triage-error-code"]).toBe(codeByRecord.get(letter.value));
      expect(letter.headers["triage-error-message"]!.length).toBeGreaterThan(10);
      expect(letter.headers["triage-source-topic"]).toBe(config.names.input);
    }
  });
});
