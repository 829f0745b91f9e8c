// The API routes' guard: closed without HTTP_AUTH_TOKEN, constant-time bearer check, JSON bodies only.
import { connect } from "node:net";
import { describe, expect, it } from "vitest";
import { apiGuard, tokenMatches } from "../../../src/ops/api-guard.js";
import { createOpsServer } from "../../../src/ops/http.js";
import { createMetrics } from "../../../src/telemetry/metrics.js";
import { silentLogger } from "../../support/memory.js";

function app(token: string | undefined) {
  const a = createOpsServer({
    host: "127.0.0.1",
    port: 0,
    registry: createMetrics({ defaultMetrics: false }).registry,
    notReady: () => [],
    logger: silentLogger,
    bodyLimitBytes: 65536,
  });
  a.post("/api/thing", { onRequest: apiGuard(token) }, async () => ({ ok: true }));
  return a;
}

const call = (a: ReturnType<typeof app>, headers: Record<string, string>, payload = "{}") => a.inject({ method: "POST", url: "/api/thing", headers, payload });

describe("apiGuard", () => {
  it("closes the API routes while HTTP_AUTH_TOKEN is unset; health, readiness and metrics stay open", async () => {
    const a = app(undefined);
    const res = await call(a, { "content-type": "application/json" });
    expect(res.statusCode).toBe(401);
    expect(res.json()).toEqual({ error: { code: "api_disabled", message: expect.stringContaining("HTTP_AUTH_TOKEN") } });
    // No header lets it through either: there is no token to match.
    expect((await call(a, { "content-type": "application/json", authorization: "Bearer " })).statusCode).toBe(401);
    expect((await a.inject({ method: "GET", url: "/healthz" })).statusCode).toBe(200);
    expect((await a.inject({ method: "GET", url: "/readyz" })).statusCode).toBe(200);
    expect((await a.inject({ method: "GET", url: "/metrics" })).statusCode).toBe(200);
    await a.close();
  });

  it("accepts the token with a case-insensitive Bearer scheme and rejects everything else", async () => {
    const a = app("s3cret-token");
    const json = { "content-type": "application/json" };
    for (const auth of ["Bearer s3cret-token", "bearer s3cret-token", "BEARER   s3cret-token"])
      expect((await call(a, { ...json, authorization: auth })).statusCode, auth).toBe(200);
    for (const auth of ["Bearer s3cret-toke", "Bearer s3cret-token-longer", "Basic s3cret-token", "s3cret-token", "Bearer", ""]) {
      const res = await call(a, { ...json, authorization: auth });
      expect(res.statusCode, auth).toBe(401);
      expect(res.json().error.code).toBe("unauthorized");
      expect(res.headers["www-authenticate"]).toBe('Bearer realm="triage"');
    }
    await a.close();
  });

  it("compares digests, so tokens of any length are compared without throwing or short-cutting on length", () => {
    expect(tokenMatches("abc", "abc")).toBe(true);
    expect(tokenMatches("abc", "abcd")).toBe(false);
    expect(tokenMatches("", "abc")).toBe(false);
    expect(tokenMatches("x".repeat(10_000), "abc")).toBe(false);
  });

  it("takes application/json (optionally with a UTF-8 charset) only: 415 for text/plain, forms and a missing type", async () => {
    const a = app("t");
    const auth = { authorization: "Bearer t" };
    for (const type of ["application/json", "application/json; charset=utf-8", "Application/JSON;charset=UTF-8"])
      expect((await call(a, { ...auth, "content-type": type })).statusCode, type).toBe(200);
    for (const type of [
      "text/plain",
      "text/plain;charset=UTF-8",
      "application/x-www-form-urlencoded",
      "multipart/form-data; boundary=x",
      "application/json; charset=latin1",
      "application/jsonx",
    ]) {
      const res = await call(a, { ...auth, "content-type": type });
      expect(res.statusCode, type).toBe(415);
      expect(res.json().error.code).toBe("unsupported_media_type");
    }
    const missing = await a.inject({ method: "POST", url: "/api/thing", headers: auth, payload: "{}" });
    expect(missing.statusCode).toBe(415);
    await a.close();
  });

  it("answers 401 before looking at the content type, so unauthenticated callers learn nothing", async () => {
    const a = app("t");
    expect((await call(a, { "content-type": "text/plain" })).statusCode).toBe(401);
    await a.close();
  });

  it("closes the connection of a refused request instead of reading its body: an unauthenticated slow body holds no socket", async () => {
    const a = app("t");
    const address = await a.listen({ host: "127.0.0.1", port: 0 });
    // Node's default (300 s) for receiving a whole request; Fastify's own default of 0 means never.
    expect(a.server.requestTimeout).toBeGreaterThan(0);
    const socket = connect(Number(new URL(address).port), "127.0.0.1");
    let answer = "";
    socket.on("data", (d) => (answer += String(d)));
    const closed = new Promise<void>((resolve) => socket.on("close", () => resolve()));
    // A body announced as 1 GB, of which one byte ever comes: before, the socket stayed open as long as bytes trickled.
    socket.write("POST /api/thing HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000000000\r\n\r\n{");
    await closed;
    expect(answer).toMatch(/^HTTP\/1\.1 401/);
    expect(answer.toLowerCase()).toContain("connection: close");
    await a.close();
  }, 5000);
});
