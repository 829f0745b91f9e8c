/**
 * The guard of the API routes (POST /analyze, /analyze/batch, /v1/feedback); /healthz, /readyz and /metrics do not
 * use it. Closed while HTTP_AUTH_TOKEN is unset: an open API lets anyone on the network decide verdicts. Bodies must be
 * `application/json`: a browser sends `text/plain` and form bodies cross-site without a preflight, JSON never.
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type { FastifyReply, FastifyRequest, onRequestHookHandler } from "fastify";

/** Per-process HMAC key: digests of the expected and the presented token are compared, never the tokens themselves. */
const digestKey = randomBytes(32);
const digest = (token: string) => createHmac("sha256", digestKey).update(token, "utf8").digest();

/** Constant-time equality that leaks neither content nor length (both sides are 32-byte HMACs). */
export function tokenMatches(presented: string, expected: string): boolean {
  return timingSafeEqual(digest(presented), digest(expected)) && expected !== "";
}

/** The token of an `Authorization: Bearer <token>` header (scheme case-insensitive, RFC 7235); null otherwise. */
export function bearerToken(header: string | undefined): string | null {
  const m = /^[ \t]*bearer[ \t]+(\S+)[ \t]*$/i.exec(header ?? "");
  return m ? m[1]! : null;
}

/** `application/json`, optionally with `charset=utf-8`; the body is decoded as UTF-8 whatever else is claimed. */
export function isJsonContentType(header: string | undefined): boolean {
  if (header === undefined) return false;
  const [type, ...params] = header.split(";").map((p) => p.trim().toLowerCase());
  if (type !== "application/json") return false;
  return params.every((p) => p === "" || /^charset="?utf-8"?$/.test(p));
}

// A refused request's body is never read; closing the connection stops a caller from trickling it forever.
const error = (reply: FastifyReply, status: number, code: string, message: string) =>
  reply.code(status).header("connection", "close").send({ error: { code, message } });

/**
 * Route-level onRequest hook (runs before the body is read): 401 without HTTP_AUTH_TOKEN configured or a matching
 * bearer token, then 415 for any body type but JSON.
 */
export function apiGuard(token: string | undefined): onRequestHookHandler {
  const expected = token ?? "";
  return async (req: FastifyRequest, reply: FastifyReply) => {
    if (expected === "") {
      return error(reply, 401, "api_disabled", "the API is disabled until HTTP_AUTH_TOKEN is set (health and metrics stay open)");
    }
    const presented = bearerToken(req.headers.authorization);
    if (presented === null || !tokenMatches(presented, expected)) {
      reply.header("www-authenticate", 'Bearer realm="triage"');
      return error(reply, 401, "unauthorized", "missing or wrong bearer token (Authorization: Bearer <HTTP_AUTH_TOKEN>)");
    }
    if (!isJsonContentType(req.headers["content-type"])) {
      const got = req.headers["content-type"] ?? "(none)";
      return error(reply, 415, "unsupported_media_type", `Content-Type must be application/json (UTF-8); got ${got.slice(0, 100)}`);
    }
  };
}
