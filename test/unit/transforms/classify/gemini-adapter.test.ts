import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createGeminiClient, thinkingConfigFor } from "../../../../src/transforms/classify/gemini.js";
import type { ModelRequest } from "../../../../src/core/ports/index.js";
import { ANSWER_RESPONSE_SCHEMA } from "../../../../src/transforms/classify/answer-schema.js";
import { alertLine, buildUserPrompt, SYSTEM_INSTRUCTION } from "../../../../src/transforms/classify/prompt.js";
import { FakeGemini } from "../../../fakes/gemini.js";
import { enriched } from "./helpers.js";

// The SDK adapter against the loopback fake: wire format and error mapping, no pipeline.
let fake: FakeGemini;
const request = (timeoutMs = 5000): ModelRequest => ({
  systemInstruction: SYSTEM_INSTRUCTION,
  userPrompt: buildUserPrompt([alertLine(enriched({ alert_id: "G-1" }), 1500, "G-1"), alertLine(enriched({ alert_id: "G-2" }), 1500, "G-2")]),
  responseSchema: ANSWER_RESPONSE_SCHEMA,
  maxOutputTokens: 4000,
  timeoutMs,
});
const client = (model = "gemini-3.5-flash-lite", apiKey = FakeGemini.DEFAULT_KEY) => createGeminiClient({ apiKey, model, baseUrl: `${fake.url}/` });
const timers = () => process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;

beforeAll(async () => {
  fake = await FakeGemini.start({ rpm: Infinity, tpm: Infinity, rpd: Infinity, faultRetryDelayMs: 500 });
});
afterAll(() => fake.stop());

describe("Gemini adapter (@google/genai)", () => {
  it("sends what the API expects: v1beta path, key header, byte-stable system prompt, responseJsonSchema, thinking per family", async () => {
    fake.resetStats();
    await client().generate(request());
    await client().generate(request());
    await client("gemini-2.5-flash").generate(request());
    const [a, b, c] = fake.requests;
    expect(fake.log.map((l) => l.path)).toEqual([
      "/v1beta/models/gemini-3.5-flash-lite:generateContent",
      "/v1beta/models/gemini-3.5-flash-lite:generateContent",
      "/v1beta/models/gemini-2.5-flash:generateContent",
    ]);
    expect(a!.headers.apiKeyHeader).toBe(true);
    expect(a!.body).toEqual({
      contents: [{ role: "user", parts: [{ text: request().userPrompt }] }],
      systemInstruction: { role: "user", parts: [{ text: SYSTEM_INSTRUCTION }] },
      generationConfig: {
        responseMimeType: "application/json",
        responseJsonSchema: ANSWER_RESPONSE_SCHEMA,
        maxOutputTokens: 4000,
        candidateCount: 1,
        thinkingConfig: { thinkingLevel: "MINIMAL" },
      },
    });
    // the same bytes on every call: the implicit cache keys on the prompt prefix
    expect(JSON.stringify(b!.body!.systemInstruction)).toBe(JSON.stringify(a!.body!.systemInstruction));
    expect((c!.body!.generationConfig as Record<string, unknown>).thinkingConfig).toEqual({ thinkingBudget: 0 });
  });

  it("picks thinking settings per model family and never sends temperature/topP", () => {
    expect(thinkingConfigFor("gemini-3.5-flash-lite")).toEqual({ thinkingLevel: "MINIMAL" });
    expect(thinkingConfigFor("gemini-3.1-flash-lite")).toEqual({ thinkingLevel: "MINIMAL" });
    expect(thinkingConfigFor("gemini-3.6-flash")).toEqual({ thinkingLevel: "LOW" });
    expect(thinkingConfigFor("gemini-2.5-flash-lite")).toEqual({ thinkingBudget: 0 });
    expect(thinkingConfigFor("gemini-2.5-pro")).toEqual({ thinkingBudget: 128 });
    expect(thinkingConfigFor("gemini-2.0-flash")).toBeUndefined();
    const sent = fake.lastRequest!.body!.generationConfig as Record<string, unknown>;
    expect(sent).not.toHaveProperty("temperature");
    expect(sent).not.toHaveProperty("topP");
  });

  it("is the only retry layer: a 503 reaches the server exactly once", async () => {
    fake.resetStats();
    fake.failNext(1, "503");
    expect(await client().generate(request())).toMatchObject({ kind: "unavailable", status: 503 });
    expect(fake.totalRequests).toBe(1);
  });

  it("reports implicitly cached input tokens in usage", async () => {
    const caching = await FakeGemini.start({ rpm: Infinity, tpm: Infinity, rpd: Infinity, implicitCache: true, implicitCacheMinTokens: 100 });
    try {
      const c = createGeminiClient({ apiKey: FakeGemini.DEFAULT_KEY, model: "gemini-3.5-flash-lite", baseUrl: caching.url });
      const first = await c.generate(request());
      const second = await c.generate(request());
      expect(first.kind === "answer" && first.usage!.cachedTokens).toBe(0);
      expect(second.kind === "answer" && second.usage!.cachedTokens).toBe(Math.ceil(SYSTEM_INSTRUCTION.length / 4));
      expect(second.kind === "answer" && second.usage!.promptTokens).toBeGreaterThan(Math.ceil(SYSTEM_INSTRUCTION.length / 4));
    } finally {
      await caching.stop();
    }
  });

  it("sends JSON mode with our schema and returns the answer text and token usage", async () => {
    const reply = await client().generate(request());
    expect(reply.kind).toBe("answer");
    if (reply.kind !== "answer") return;
    expect(JSON.parse(reply.text).map((i: { alert_id: string }) => i.alert_id)).toEqual(["G-1", "G-2"]);
    expect(reply.usage!.promptTokens).toBeGreaterThan(0);
    expect(fake.lastRequest!.model).toBe("gemini-3.5-flash-lite");
  });

  it("leaves no timer behind after a fast answer (the SDK's own timeout timer would)", async () => {
    const before = timers();
    await client().generate(request(60_000));
    expect(timers()).toBeLessThanOrEqual(before);
  });

  it("turns a retired model's 404 into one clear error naming GEMINI_MODEL", async () => {
    const reply = await client("gemini-1.5-flash").generate(request());
    expect(reply).toMatchObject({ kind: "rejected", code: "model_not_found", status: 404 });
    expect(reply.kind === "rejected" && reply.message).toMatch(/GEMINI_MODEL "gemini-1\.5-flash" was not found/);
  });

  it("maps a wrong key to auth, and 429 to rate_limited with RetryInfo's delay", async () => {
    expect(await client(undefined, "wrong-key").generate(request())).toMatchObject({ kind: "rejected", code: "auth" });
    fake.failNext(1, "429");
    expect(await client().generate(request())).toMatchObject({ kind: "rate_limited", retryAfterMs: 500, daily: false });
    fake.failNext(1, "429_bare");
    expect(await client().generate(request())).toMatchObject({ kind: "rate_limited", retryAfterMs: null });
  });

  it("maps 500/503 to unavailable and a hung request to a timeout", async () => {
    fake.failNext(1, "503");
    expect(await client().generate(request())).toMatchObject({ kind: "unavailable", status: 503, timeout: false });
    fake.failNext(1, "500");
    expect(await client().generate(request())).toMatchObject({ kind: "unavailable", status: 500 });
    fake.failNext(1, "hang");
    const t0 = Date.now();
    expect(await client().generate(request(300))).toMatchObject({ kind: "unavailable", timeout: true });
    expect(Date.now() - t0).toBeLessThan(3000);
  });

  it("reads blocked, truncated, empty and malformed answers without throwing", async () => {
    fake.failNext(1, "safety");
    expect(await client().generate(request())).toMatchObject({ kind: "blocked", reason: "answer blocked: SAFETY" });
    fake.failNext(1, "prompt_blocked");
    expect(await client().generate(request())).toMatchObject({ kind: "blocked", reason: "prompt blocked: SAFETY" });
    fake.failNext(1, "max_tokens");
    expect(await client().generate(request())).toMatchObject({ kind: "answer", truncated: true, finishReason: "MAX_TOKENS" });
    fake.failNext(1, "empty");
    expect(await client().generate(request())).toMatchObject({ kind: "empty" });
    fake.failNext(1, "malformed");
    const malformed = await client().generate(request());
    expect(malformed).toMatchObject({ kind: "answer", truncated: false });
    expect(() => JSON.parse(malformed.kind === "answer" ? malformed.text : "")).toThrow();
  });
});
