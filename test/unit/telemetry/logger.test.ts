import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { createLogger } from "../../../src/telemetry/logger.js";
import { loadConfig } from "../../../src/config/load.js";

const SECRETS = ["gem-SECRET-1", "abuse-SECRET-2", "vt-SECRET-3", "bearer-SECRET-4"];

async function captured(fn: (log: ReturnType<typeof createLogger>) => void): Promise<string> {
  const sink = new PassThrough();
  const chunks: Buffer[] = [];
  sink.on("data", (c: Buffer) => chunks.push(c));
  const log = createLogger("debug", sink);
  fn(log);
  log.flush();
  await new Promise((r) => setImmediate(r));
  return Buffer.concat(chunks).toString("utf8");
}

describe("logger redaction", () => {
  it("never writes API keys or auth headers, whatever the shape of the logged request", async () => {
    const out = await captured((log) => {
      const child = log.child({ component: "gemini" });
      child.info({ headers: { "x-goog-api-key": SECRETS[0], "content-type": "application/json" } }, "gemini request");
      child.info({ req: { headers: { "x-apikey": SECRETS[2], authorization: `Bearer ${SECRETS[3]}` } } }, "vt request");
      child.warn({ request: { headers: { Key: SECRETS[1], Accept: "application/json" } } }, "abuseipdb request");
      child.info(
        {
          config: {
            GEMINI_API_KEY: SECRETS[0],
            ABUSEIPDB_API_KEY: SECRETS[1],
            VIRUSTOTAL_API_KEY: SECRETS[2],
            HTTP_AUTH_TOKEN: SECRETS[3],
            BATCH_MAX_SIZE: 50,
          },
        },
        "config",
      );
      child.error({ GEMINI_API_KEY: SECRETS[0], apiKey: SECRETS[0] }, "top-level keys");
    });
    expect(out).toContain("gemini request");
    expect(out).toContain("[redacted]");
    expect(out).toContain("BATCH_MAX_SIZE");
    for (const s of SECRETS) expect(out).not.toContain(s);
  });

  it("never writes the OpenAI key or the pseudonymisation secret (config, Azure header, options objects)", async () => {
    const openAiKey = "sk-openai-SECRET-5";
    const pseudoSecret = "pseudo-SECRET-6-0123456789abcdef0123456789";
    const out = await captured((log) => {
      log.info({ config: { OPENAI_API_KEY: openAiKey, PSEUDONYMIZE_SECRET: pseudoSecret, OPENAI_MODEL: "llama3.1:8b" } }, "config");
      log.info({ OPENAI_API_KEY: openAiKey, PSEUDONYMIZE_SECRET: pseudoSecret }, "top-level");
      log.info({ headers: { "api-key": openAiKey }, req: { headers: { "api-key": openAiKey, authorization: `Bearer ${openAiKey}` } } }, "azure request");
      log.warn({ pseudonymizer: { opts: { secret: pseudoSecret, publicIps: false } }, secret: pseudoSecret }, "pseudonymizer");
    });
    expect(out).toContain("llama3.1:8b");
    expect(out).not.toContain(openAiKey);
    expect(out).not.toContain(pseudoSecret);
  });

  it("PSEUDONYMIZE=true with a short secret is refused without echoing the secret", () => {
    const short = "short-SECRET-7";
    expect(() => loadConfig({ PSEUDONYMIZE: "true", PSEUDONYMIZE_SECRET: short })).toThrow(/PSEUDONYMIZE_SECRET.*at least 32/);
    try {
      loadConfig({ PSEUDONYMIZE: "true", PSEUDONYMIZE_SECRET: short, BATCH_MAX_SIZE: "0" });
    } catch (err) {
      expect((err as Error).message).not.toContain(short);
    }
    expect(loadConfig({ PSEUDONYMIZE: "true", PSEUDONYMIZE_SECRET: "x".repeat(32) }).PSEUDONYMIZE).toBe("true");
  });

  it("config errors never echo secret values", () => {
    expect(() => loadConfig({ GEMINI_API_KEY: "", HTTP_AUTH_TOKEN: "tok-SECRET", BATCH_MAX_SIZE: "0" })).toThrow();
    try {
      loadConfig({ HTTP_AUTH_TOKEN: "tok-SECRET", BATCH_MAX_SIZE: "0" });
    } catch (err) {
      expect((err as Error).message).not.toContain("tok-SECRET");
    }
  });
});
