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
      child.info({ config: { GEMINI_API_KEY: SECRETS[0], ABUSEIPDB_API_KEY: SECRETS[1], VIRUSTOTAL_API_KEY: SECRETS[2], HTTP_AUTH_TOKEN: SECRETS[3], BATCH_MAX_SIZE: 50 } }, "config");
      child.error({ GEMINI_API_KEY: SECRETS[0], apiKey: SECRETS[0] }, "top-level keys");
    });
    expect(out).toContain("gemini request");
    expect(out).toContain("[redacted]");
    expect(out).toContain("BATCH_MAX_SIZE");
    for (const s of SECRETS) expect(out).not.toContain(s);
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
