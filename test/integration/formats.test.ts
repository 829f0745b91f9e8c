// SIEM formats on the real broker: a shuffled stream mixing Elastic, Wazuh, Suricata, OCSF and Splunk records
// with records no format can triage → exactly one verdict per alert (keyed by its alert id, carrying the
// recognised format) and every other record in the DLQ with the reason it was refused.
import { readFileSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { startService, type Service } from "../../src/main.js";
import { verdictSchema } from "../../src/core/verdict.js";
import { deriveAlertId } from "../../src/transforms/normalize/fields.js";
import { createLogger } from "../../src/telemetry/logger.js";
import { collect, createTopics, produce, testConfig } from "./support.js";
import { mulberry32 } from "../fakes/http-fake.js";

const logger = createLogger("warn");
const running: Service[] = [];
afterEach(async () => {
  while (running.length) await running.pop()!.stop("test end");
});

const FORMATS = ["elastic", "wazuh", "suricata", "ocsf", "splunk"] as const;
interface Expected { alert_id: string | null; alert_name: string; severity: string; source_ip: string | null; destination_ip: string | null; user: string | null; host: string | null; timestamp: string | null }

const fixtureDir = new URL("../fixtures/formats/", import.meta.url);
const lines = (file: string) => readFileSync(new URL(file, fixtureDir), "utf8").split("\n").filter((l) => l.trim() !== "");
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

describe("SIEM formats on real Kafka", () => {
  it("a shuffled mixed-format stream → one verdict per alert, unrecognised records in the DLQ with their reason", async () => {
    const alerts = FORMATS.flatMap((format) =>
      lines(`${format}.ndjson`).map((line, i) => {
        const want = expected[format]![i]!;
        return { line, format, want, id: want.alert_id ?? deriveAlertId(JSON.parse(line) as Record<string, unknown>) };
      }),
    );
    const refused = lines("rejected.ndjson").map((l) => {
      const { code, record } = JSON.parse(l) as { code: string; record: unknown };
      return { line: JSON.stringify(record), code };
    });
    expect(new Set(refused.map((r) => r.code))).toEqual(new Set(["unknown_format", "missing_field", "not_an_alert"]));

    const seed = Number(process.env.FORMATS_SEED ?? Date.now() % 1_000_000);
    console.log(`formats test: ${alerts.length} alerts + ${refused.length} refused records, shuffle seed ${seed} (FORMATS_SEED to replay)`);
    const stream = shuffle([...alerts.map((a) => a.line), ...refused.map((r) => r.line)], seed);

    const config = testConfig();
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
      expect({ name: v.alert.alert_name, severity: v.alert.severity, src: v.alert.source_ip, dst: v.alert.destination_ip, user: v.alert.user, host: v.alert.host, time: v.alert.timestamp }).toEqual({
        name: sent.want.alert_name, severity: sent.want.severity, src: sent.want.source_ip, dst: sent.want.destination_ip, user: sent.want.user, host: sent.want.host, time: sent.want.timestamp,
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
