import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../../src/config/load.js";
import { redactUrls } from "../../../src/core/redact.js";

function configError(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env, { onWarning: () => {} });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error("expected a ConfigError");
}

function tempFile(text: string): string {
  const file = join(mkdtempSync(join(tmpdir(), "cfg-")), "triage.json");
  writeFileSync(file, text);
  return file;
}

describe("config errors never print secrets", () => {
  it("an invalid CACHE_URL is shown with its password hidden", () => {
    const err = configError({ CACHE_URL: "redis2://triage:Sup3rS3cret!@cache.internal:6379/2" });
    expect(err.message).toContain("CACHE_URL");
    expect(err.message).toContain("redis2://triage:***@cache.internal:6379/2");
    expect(err.message).not.toContain("Sup3rS3cret");
  });

  it("a malformed TRIAGE_CONFIG_FILE is reported by file, line and column, without its content", () => {
    // JSON.parse's own message quotes the text around the error ("Unexpected token 'A', "…" is not valid JSON").
    const file = tempFile('{\n  "BATCH_MAX_SIZE": 20,\n  "GEMINI_API_KEY": AIzaSyD-leaked-key-material\n}\n');
    const err = configError({ TRIAGE_CONFIG_FILE: file });
    expect(err.problems).toEqual([`TRIAGE_CONFIG_FILE ${file}: not valid JSON at line 3, column 21`]);
    expect(err.message).not.toContain("AIza");
    expect(err.message).not.toContain("leaked");
  });

  it.each([
    ['{"GEMINI_API_KEY": "AIzaSyD-leaked" x}', 1, 37],
    ['{"GEMINI_API_KEY": "AIzaSyD-leaked",}', 1, 37],
    ['{"GEMINI_API_KEY": "AIzaSyD-leaked', 1, 35],
    ['{"A": "b"}}', 1, 11],
    ['\n\n  {"GEMINI_API_KEY": tru}', 3, 25],
    ["", 1, 1],
  ])("locates the error in %j without quoting it", (text, line, column) => {
    const file = tempFile(text);
    const err = configError({ TRIAGE_CONFIG_FILE: file });
    expect(err.problems).toEqual([`TRIAGE_CONFIG_FILE ${file}: not valid JSON at line ${line}, column ${column}`]);
    expect(err.message).not.toContain("AIza");
  });

  it("a bad value from the config file is shown with URL userinfo hidden", () => {
    const file = tempFile(JSON.stringify({ CACHE_URL: "mysql://root:toor-secret@db/x" }));
    const err = configError({ TRIAGE_CONFIG_FILE: file });
    expect(err.message).toContain("mysql://root:***@db/x");
    expect(err.message).not.toContain("toor-secret");
  });

  it("an unknown key in the config file gets a suggestion", () => {
    const err = configError({ TRIAGE_CONFIG_FILE: tempFile(JSON.stringify({ GEMINI_APIKEY: "AIzaSyD-leaked" })) });
    expect(err.message).toContain("GEMINI_APIKEY (did you mean GEMINI_API_KEY?)");
    expect(err.message).not.toContain("AIzaSyD");
  });
});

describe("unknown variables with our prefixes", () => {
  const load = (env: Record<string, string>) => {
    const warnings: string[] = [];
    loadConfig(env, { onWarning: (w) => warnings.push(w) });
    return warnings;
  };

  it("warns about a typo with the nearest option, without the value", () => {
    const warnings = load({ GEMINI_APIKEY: "AIzaSyD-leaked", KAFKA_BROKER: "b:9092" });
    expect(warnings).toEqual([
      "GEMINI_APIKEY is not an option and is ignored; did you mean GEMINI_API_KEY?",
      "KAFKA_BROKER is not an option and is ignored; did you mean KAFKA_BROKERS?",
    ]);
  });

  it("warns about an unknown name with a prefix only we use, even without a close match", () => {
    expect(load({ TRIAGE_COLOUR_SCHEME: "dark" })).toEqual(["TRIAGE_COLOUR_SCHEME is not an option and is ignored"]);
  });

  it("stays quiet about other software's variables that share a generic prefix", () => {
    expect(load({ HTTP_PROXY: "http://proxy:3128", LOG_FORMAT: "x", PATH: "/bin", HOME: "/root", MAX_OLD_SPACE: "1" })).toEqual([]);
  });

  it("by default the warning goes to stderr (not silently ignored)", () => {
    const written: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string) => (written.push(String(chunk)), true)) as typeof process.stderr.write;
    try {
      loadConfig({ GEMINI_APIKEY: "x" });
    } finally {
      process.stderr.write = write;
    }
    expect(written.join("")).toContain("did you mean GEMINI_API_KEY?");
  });
});

describe("redactUrls", () => {
  it.each([
    ["redis://user:pw@host:6379/0", "redis://user:***@host:6379/0"],
    ["redis://:pw@host", "redis://:***@host"],
    ["rediss://token@host", "rediss://***@host"],
    ["redis://u:p@ss:w@rd@host/1", "redis://u:***@host/1"],
    ["redis://host:6379", "redis://host:6379"],
    ['got "x://a:b@c" and y://d:e@f', 'got "x://a:***@c" and y://d:***@f'],
  ])("%s → %s", (input, output) => {
    expect(redactUrls(input)).toBe(output);
  });
});
