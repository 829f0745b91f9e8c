// The OpenAI-compatible adapter against the loopback fake: wire format, structured-output fallback, errors as values,
// 429 hints, usage, timeouts.
import { afterEach, describe, expect, it } from "vitest";
import { ANSWER_RESPONSE_SCHEMA } from "../../../../src/transforms/classify/answer-schema.js";
import type { ModelRequest } from "../../../../src/core/ports/index.js";
import { chatCompletionsUrl, createOpenAiClient, parseResetDurationMs, retryAfterMsOf, strictJsonSchema } from "../../../../src/transforms/classify/openai.js";
import { parseAnswerText } from "../../../../src/transforms/classify/parse-output.js";
import { buildUserPrompt, SYSTEM_INSTRUCTION } from "../../../../src/transforms/classify/prompt.js";
import { FakeOpenAi, type FakeOpenAiOptions } from "../../../fakes/openai.js";

const fakes: FakeOpenAi[] = [];
afterEach(async () => {
  while (fakes.length) await fakes.pop()!.stop();
});

async function fake(opts: FakeOpenAiOptions = {}): Promise<FakeOpenAi> {
  const f = await FakeOpenAi.start(opts);
  fakes.push(f);
  return f;
}

const line = (id: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ alert_id: id, alert_name: "Port scan detected", severity: "medium", ...extra });
const request = (ids: string[], over: Partial<ModelRequest> = {}): ModelRequest => ({
  systemInstruction: SYSTEM_INSTRUCTION,
  userPrompt: buildUserPrompt(ids.map((id) => line(id))),
  responseSchema: ANSWER_RESPONSE_SCHEMA,
  maxOutputTokens: 4000,
  timeoutMs: 5000,
  ...over,
});

describe("OpenAI-compatible client", () => {
  it("sends a strict json_schema request with a Bearer key and reads the answer, usage and cached tokens", async () => {
    const f = await fake();
    const client = createOpenAiClient({ baseUrl: f.url, model: "llama3.1:8b", apiKey: f.apiKey });
    const first = await client.generate(request(["a-1", "a-2"]));
    const second = await client.generate(request(["a-3"]));
    expect(first.kind).toBe("answer");
    if (first.kind !== "answer" || second.kind !== "answer") return;
    expect(parseAnswerText(first.text).items.map((i) => i.alert_id)).toEqual(["a-1", "a-2"]);
    expect(f.requests[0]).toMatchObject({ path: "/v1/chat/completions", model: "llama3.1:8b", responseFormat: "json_schema", auth: "authorization" });
    const body = JSON.parse(f.bodies[0]!) as Record<string, any>;
    expect(body.response_format.json_schema).toMatchObject({
      name: "triage_verdicts",
      strict: true,
      schema: { type: "object", required: ["verdicts"], additionalProperties: false },
    });
    expect(body.messages.map((m: { role: string }) => m.role)).toEqual(["system", "user"]);
    expect(body.max_tokens).toBe(4000);
    expect(first.usage).toMatchObject({ promptTokens: f.requests[0]!.promptTokens, cachedTokens: 0 });
    // The same system message again: the fake reports it cached, we pass that on (billed at the cached price).
    expect(second.usage!.cachedTokens).toBe(Math.ceil(SYSTEM_INSTRUCTION.length / 4));
  });

  it("strict schema: object root, no Gemini-only keywords, every property required", () => {
    const s = strictJsonSchema(ANSWER_RESPONSE_SCHEMA) as any;
    const item = s.properties.verdicts.items;
    expect(JSON.stringify(s)).not.toMatch(/propertyOrdering|"format"|minimum|maximum/);
    expect(item.additionalProperties).toBe(false);
    expect(item.required).toEqual(Object.keys(item.properties));
  });

  it("a server that rejects response_format: falls back to plain JSON at once (same call) and stays there", async () => {
    const f = await fake({ jsonSchema: "rejected" });
    const reasons: string[] = [];
    const client = createOpenAiClient({ baseUrl: `${f.url}/v1/`, model: "m", apiKey: f.apiKey, onFallback: (r) => reasons.push(r) });
    const r = await client.generate(request(["a-1"]));
    expect(r.kind).toBe("answer");
    expect(f.requests.map((q) => [q.status, q.responseFormat])).toEqual([
      [400, "json_schema"],
      [200, "none"],
    ]);
    expect(reasons).toHaveLength(1);
    expect(client.structuredOutput).toBe("plain");
    await client.generate(request(["a-2"]));
    expect(f.requests[2]!.responseFormat).toBe("none");
    expect(JSON.parse(f.bodies[2]!).messages[0].content).toContain("Answer with JSON only");
  });

  it("a server that ignores response_format: the answers still parse, and auto mode switches to plain JSON after 3", async () => {
    const f = await fake({ jsonSchema: "ignored" });
    const client = createOpenAiClient({ baseUrl: f.url, model: "m", apiKey: f.apiKey });
    for (let i = 0; i < 3; i++) {
      const r = await client.generate(request([`a-${i}`]));
      expect(r.kind === "answer" && parseAnswerText(r.text).items.map((x) => x.alert_id)).toEqual([`a-${i}`]);
    }
    expect(client.structuredOutput).toBe("plain");
    await client.generate(request(["a-9"]));
    expect(f.requests.map((q) => q.responseFormat)).toEqual(["json_schema", "json_schema", "json_schema", "none"]);
  });

  it("OPENAI_RESPONSE_FORMAT=json_schema never falls back: the 400 is a rejected bad_request", async () => {
    const f = await fake({ jsonSchema: "rejected" });
    const client = createOpenAiClient({ baseUrl: f.url, model: "m", apiKey: f.apiKey, responseFormat: "json_schema" });
    expect(await client.generate(request(["a-1"]))).toMatchObject({ kind: "rejected", code: "bad_request", status: 400 });
  });

  it("a model that takes max_completion_tokens only: switched after its 400", async () => {
    const f = await fake({ rejectMaxTokens: true });
    const client = createOpenAiClient({ baseUrl: f.url, model: "gpt-5-mini", apiKey: f.apiKey });
    expect((await client.generate(request(["a-1"]))).kind).toBe("answer");
    expect(JSON.parse(f.bodies[1]!).max_completion_tokens).toBe(4000);
  });

  it("Azure: deployment URL + api-version, key in api-key, Azure error bodies", async () => {
    const f = await fake({ azureErrors: true, knownModels: ["triage-gpt"] });
    const client = createOpenAiClient({ baseUrl: `${f.url}/openai/deployments/triage-gpt`, model: "triage-gpt", apiKey: f.apiKey, apiVersion: "2024-10-21" });
    expect((await client.generate(request(["a-1"]))).kind).toBe("answer");
    expect(f.requests[0]).toMatchObject({ path: "/openai/deployments/triage-gpt/chat/completions", auth: "api-key" });
    const missing = createOpenAiClient({ baseUrl: `${f.url}/openai/deployments/nope`, model: "nope", apiKey: f.apiKey, apiVersion: "2024-10-21" });
    const r = await missing.generate(request(["a-1"]));
    expect(r).toMatchObject({ kind: "rejected", code: "model_not_found" });
    expect(r.kind === "rejected" && r.message).toMatch(/DeploymentNotFound.*OPENAI_BASE_URL/);
  });

  it("errors are values: bad key, unknown model, 5xx, refusal, content filter, truncation, empty", async () => {
    const f = await fake({ knownModels: ["m"] });
    const bad = createOpenAiClient({ baseUrl: f.url, model: "m", apiKey: "wrong-key" });
    expect(await bad.generate(request(["a"]))).toMatchObject({ kind: "rejected", code: "auth", status: 401 });
    const unknown = createOpenAiClient({ baseUrl: f.url, model: "gpt-9", apiKey: f.apiKey });
    expect(await unknown.generate(request(["a"]))).toMatchObject({ kind: "rejected", code: "model_not_found", status: 404 });
    const client = createOpenAiClient({ baseUrl: f.url, model: "m", apiKey: f.apiKey });
    f.failNext(1, "500").failNext(1, "503").failNext(1, "refusal").failNext(1, "content_filter").failNext(1, "length").failNext(1, "empty");
    expect(await client.generate(request(["a"]))).toMatchObject({ kind: "unavailable", status: 500 });
    expect(await client.generate(request(["a"]))).toMatchObject({ kind: "unavailable", status: 503 });
    expect(await client.generate(request(["a"]))).toMatchObject({ kind: "blocked", reason: expect.stringMatching(/refused/) });
    expect(await client.generate(request(["a"]))).toMatchObject({ kind: "blocked", reason: expect.stringMatching(/content_filter/) });
    expect(await client.generate(request(["a", "b"]))).toMatchObject({ kind: "answer", truncated: true, finishReason: "length" });
    expect(await client.generate(request(["a"]))).toMatchObject({ kind: "empty" });
  });

  it("429: rate_limited with the server's wait from its headers; insufficient_quota counts as a spent daily quota", async () => {
    const f = await fake({ rpm: 1, windowMs: 60_000 });
    const client = createOpenAiClient({ baseUrl: f.url, model: "m", apiKey: f.apiKey });
    expect((await client.generate(request(["a"]))).kind).toBe("answer");
    const r = await client.generate(request(["b"]));
    expect(r).toMatchObject({ kind: "rate_limited", daily: false });
    if (r.kind !== "rate_limited") return;
    expect(r.retryAfterMs).toBeGreaterThan(50_000);
    expect(r.retryAfterMs).toBeLessThanOrEqual(60_001);
    const g = await fake();
    g.failNext(1, "insufficient_quota");
    const c2 = createOpenAiClient({ baseUrl: g.url, model: "m", apiKey: g.apiKey });
    expect(await c2.generate(request(["a"]))).toMatchObject({ kind: "rate_limited", daily: true });
  });

  it("our own timeout aborts a hung or slow server (unavailable, timeout) and leaves no request open", async () => {
    const f = await fake({ tokensPerSecond: 5 });
    const client = createOpenAiClient({ baseUrl: f.url, model: "m", apiKey: f.apiKey });
    const r = await client.generate(request(["a-1", "a-2"], { timeoutMs: 300 }));
    expect(r).toMatchObject({ kind: "unavailable", timeout: true });
    f.failNext(1, "hang");
    expect(await client.generate(request(["a"], { timeoutMs: 200 }))).toMatchObject({ kind: "unavailable", timeout: true });
    await f.waitFor((x) => x.inFlight === 0);
  });

  it("a connection refused is unavailable, not a throw", async () => {
    const f = await fake();
    const url = f.url;
    await f.stop();
    const client = createOpenAiClient({ baseUrl: url, model: "m" });
    expect(await client.generate(request(["a"]))).toMatchObject({ kind: "unavailable", timeout: false });
  });
});

describe("OpenAI wire helpers", () => {
  it("URLs for Ollama/OpenAI origins, /v1 bases and Azure deployments", () => {
    expect(chatCompletionsUrl("http://127.0.0.1:11434")).toBe("http://127.0.0.1:11434/v1/chat/completions");
    expect(chatCompletionsUrl("https://api.openai.com/v1/")).toBe("https://api.openai.com/v1/chat/completions");
    expect(chatCompletionsUrl("https://r.openai.azure.com/openai/deployments/d", "2024-10-21")).toBe(
      "https://r.openai.azure.com/openai/deployments/d/chat/completions?api-version=2024-10-21",
    );
  });

  it("reset durations and retry hints", () => {
    expect(parseResetDurationMs("6m0s")).toBe(360_000);
    expect(parseResetDurationMs("20ms")).toBe(20);
    expect(parseResetDurationMs("1h2m3.5s")).toBe(3_723_500);
    expect(parseResetDurationMs("soon")).toBeNull();
    expect(retryAfterMsOf(new Headers({ "retry-after-ms": "1500", "retry-after": "9" }))).toBe(1500);
    expect(retryAfterMsOf(new Headers({ "retry-after": "9" }))).toBe(9000);
    expect(
      retryAfterMsOf(
        new Headers({
          "x-ratelimit-remaining-requests": "5",
          "x-ratelimit-remaining-tokens": "0",
          "x-ratelimit-reset-requests": "1s",
          "x-ratelimit-reset-tokens": "12s",
        }),
      ),
    ).toBe(12_000);
    expect(retryAfterMsOf(new Headers({ "x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "2s", "x-ratelimit-reset-tokens": "30s" }))).toBe(
      2000,
    );
    expect(retryAfterMsOf(new Headers(), "Please retry after 6 seconds.")).toBe(6000);
    expect(retryAfterMsOf(new Headers(), "Please try again in 20s.")).toBe(20_000);
    expect(retryAfterMsOf(new Headers())).toBeNull();
  });
});
