// The OpenAI-compatible fake speaks the wire format the adapter relies on: error envelopes and 429 headers.
import { afterEach, describe, expect, it } from "vitest";
import { FakeOpenAi } from "../../fakes/openai.js";

const fakes: FakeOpenAi[] = [];
afterEach(async () => {
  while (fakes.length) await fakes.pop()!.stop();
});

const body = (extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    model: "m",
    messages: [
      { role: "system", content: "s" },
      { role: "user", content: '<<<ALERTS\n{"alert_id":"a1","alert_name":"x","severity":"low"}\nALERTS>>>' },
    ],
    ...extra,
  });

describe("FakeOpenAi", () => {
  it("429 over its RPM with retry-after, retry-after-ms and x-ratelimit-* headers and an OpenAI error body", async () => {
    const fake = await FakeOpenAi.start({ rpm: 1, windowMs: 10_000 });
    fakes.push(fake);
    const post = () => fetch(`${fake.url}/v1/chat/completions`, { method: "POST", headers: { authorization: `Bearer ${fake.apiKey}` }, body: body() });
    expect((await post()).status).toBe(200);
    const r = await post();
    expect(r.status).toBe(429);
    expect(Number(r.headers.get("retry-after"))).toBeGreaterThanOrEqual(9);
    expect(Number(r.headers.get("retry-after-ms"))).toBeGreaterThan(9000);
    expect(r.headers.get("x-ratelimit-remaining-requests")).toBe("0");
    expect(r.headers.get("x-ratelimit-reset-requests")).toMatch(/^\d+ms$/);
    expect(await r.json()).toMatchObject({
      error: { code: "rate_limit_exceeded", type: "requests", param: null, message: expect.stringMatching(/try again in/) },
    });
    expect(fake.violations).toBe(1);
  });

  it("answers a chat completion with choices, finish_reason and usage; 401 without the key", async () => {
    const fake = await FakeOpenAi.start();
    fakes.push(fake);
    const ok = await fetch(`${fake.url}/v1/chat/completions`, { method: "POST", headers: { authorization: `Bearer ${fake.apiKey}` }, body: body() });
    const json = (await ok.json()) as any;
    expect(json).toMatchObject({
      object: "chat.completion",
      choices: [{ index: 0, finish_reason: "stop", message: { role: "assistant" } }],
      usage: { prompt_tokens: expect.any(Number), completion_tokens: expect.any(Number) },
    });
    expect(JSON.parse(json.choices[0].message.content)[0].alert_id).toBe("a1");
    const denied = await fetch(`${fake.url}/v1/chat/completions`, { method: "POST", body: body() });
    expect(denied.status).toBe(401);
    expect(await denied.json()).toMatchObject({ error: { code: "invalid_api_key", type: "invalid_request_error" } });
  });
});
