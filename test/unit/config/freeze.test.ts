// Config is parsed once and then read-only all the way down (fastify style): a component cannot change an option
// another one reads, not even inside a list option.
import { describe, expect, it } from "vitest";
import { deepFreeze, loadConfig } from "../../../src/config/load.js";

const quiet = { onWarning: () => {} };

describe("loaded config is deep-frozen", () => {
  it("a nested (list) option cannot be mutated, nor a top-level option reassigned", () => {
    const config = loadConfig({ KAFKA_BROKERS: "127.0.0.1:19092,127.0.0.1:29092" }, quiet);
    expect(config.KAFKA_BROKERS).toEqual(["127.0.0.1:19092", "127.0.0.1:29092"]);
    expect(() => config.KAFKA_BROKERS!.push("evil:9092")).toThrow(TypeError);
    expect(() => ((config.KAFKA_BROKERS as string[])[0] = "evil:9092")).toThrow(TypeError);
    expect(() => (config.AI_PATTERN_TI_BANDS as number[]).sort((a, b) => b - a)).toThrow(TypeError);
    expect(() => ((config as { LOG_LEVEL: string }).LOG_LEVEL = "silent")).toThrow(TypeError);
    expect(config.KAFKA_BROKERS).toEqual(["127.0.0.1:19092", "127.0.0.1:29092"]);
  });

  it("every object reachable from the config is frozen", () => {
    const config = loadConfig({ KAFKA_BROKERS: "b:1" }, quiet);
    const unfrozen: string[] = [];
    const walk = (v: unknown, path: string) => {
      if (v === null || typeof v !== "object") return;
      if (!Object.isFrozen(v)) unfrozen.push(path);
      for (const [k, child] of Object.entries(v)) walk(child, `${path}.${k}`);
    };
    walk(config, "config");
    expect(unfrozen).toEqual([]);
  });

  it("deepFreeze handles shared and cyclic references and returns its argument", () => {
    const shared = { list: [1, 2] };
    const root: Record<string, unknown> = { a: shared, b: shared };
    root.self = root;
    expect(deepFreeze(root)).toBe(root);
    expect(Object.isFrozen(shared.list)).toBe(true);
    expect(() => shared.list.push(3)).toThrow(TypeError);
  });
});
