import { readFileSync, writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../../src/config/load.js";
import { configTable } from "../../../src/config/docs.js";

describe("loadConfig", () => {
  it("applies documented defaults and freezes the result", () => {
    const c = loadConfig({});
    expect(c.TRIAGE_INPUT_TOPIC).toBe("siem.alerts");
    expect(c.TRIAGE_OUTPUT_TOPIC).toBe("siem.verdicts");
    expect(c.TRIAGE_DLQ_TOPIC).toBe("siem.alerts.dlq");
    expect(c.KAFKA_GROUP_ID).toBe("triage");
    expect(c.KAFKA_BROKERS).toBeUndefined();
    expect(Object.isFrozen(c)).toBe(true);
  });

  it("parses env strings: numbers and broker lists", () => {
    const c = loadConfig({ BATCH_MAX_SIZE: "20", KAFKA_BROKERS: "a:9092, b:9092" });
    expect(c.BATCH_MAX_SIZE).toBe(20);
    expect(c.KAFKA_BROKERS).toEqual(["a:9092", "b:9092"]);
  });

  it("reports every problem at once, naming each option", () => {
    try {
      loadConfig({ BATCH_MAX_SIZE: "0", BATCH_MAX_DELAY_MS: "soon", LOG_LEVEL: "loud", TRIAGE_INPUT_TOPIC: "bad topic!" });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      const msg = (err as ConfigError).message;
      for (const name of ["BATCH_MAX_SIZE", "BATCH_MAX_DELAY_MS", "LOG_LEVEL", "TRIAGE_INPUT_TOPIC"]) expect(msg).toContain(name);
      expect((err as ConfigError).problems.length).toBe(4);
    }
  });

  it("reads an optional JSON file; env wins; unknown keys are errors", () => {
    const dir = mkdtempSync(join(tmpdir(), "cfg-"));
    const file = join(dir, "c.json");
    writeFileSync(file, JSON.stringify({ BATCH_MAX_SIZE: 7, HTTP_PORT: 1234 }));
    const c = loadConfig({ TRIAGE_CONFIG_FILE: file, HTTP_PORT: "4321" });
    expect(c.BATCH_MAX_SIZE).toBe(7);
    expect(c.HTTP_PORT).toBe(4321);
    writeFileSync(file, JSON.stringify({ BATCH_MAX_SIZ: 7 }));
    expect(() => loadConfig({ TRIAGE_CONFIG_FILE: file })).toThrow(/unknown option.*BATCH_MAX_SIZ/);
  });

  it("README's config table matches the schema (regenerate with `npx tsx src/cli.ts config`)", () => {
    const readme = readFileSync(new URL("../../../README.md", import.meta.url), "utf8");
    expect(readme).toContain(configTable());
  });
});
