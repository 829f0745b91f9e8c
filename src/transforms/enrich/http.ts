import { ProviderError, type ProviderName } from "./provider-error.js";

/** What a TI provider answered: status, headers, raw text and its JSON (undefined when the body is not JSON). */
export interface ProviderReply {
  status: number;
  headers: Headers;
  text: string;
  json: unknown;
}

/** The fetch signature the clients use (global fetch in production; injectable in tests). */
export type FetchLike = (url: string, init: RequestInit) => Promise<Response>;

/** GET with one deadline covering connect, headers and body, so a hung provider cannot hold an alert. */
export async function getWithTimeout(
  provider: ProviderName,
  url: string,
  headers: Record<string, string>,
  timeoutMs: number,
  fetchFn: FetchLike = fetch,
): Promise<ProviderReply> {
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    const res = await fetchFn(url, { method: "GET", headers, signal, redirect: "error" });
    const text = await res.text();
    return { status: res.status, headers: res.headers, text, json: parseJson(text) };
  } catch (err) {
    const timedOut = signal.aborted || (err instanceof Error && (err.name === "TimeoutError" || err.name === "AbortError"));
    const detail = err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err);
    return Promise.reject(
      timedOut
        ? new ProviderError({
            provider,
            reason: "timeout",
            failure: "unavailable",
            retriable: true,
            message: `${provider}: no answer within ${timeoutMs} ms`,
            cause: err,
          })
        : new ProviderError({
            provider,
            reason: "network",
            failure: "unavailable",
            retriable: true,
            message: `${provider}: request failed: ${detail}`,
            cause: err,
          }),
    );
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * Server's requested wait in ms: `Retry-After` (seconds or HTTP date), else `X-RateLimit-Reset` (epoch
 * seconds, AbuseIPDB's daily reset). Undefined when neither is present or readable.
 */
export function retryAfterMs(headers: Headers, nowMs: number): number | undefined {
  const retryAfter = headers.get("retry-after")?.trim();
  if (retryAfter) {
    if (/^\d+(\.\d+)?$/.test(retryAfter)) return Math.round(Number(retryAfter) * 1000);
    const at = Date.parse(retryAfter);
    if (Number.isFinite(at)) return Math.max(0, at - nowMs);
  }
  const reset = headers.get("x-ratelimit-reset")?.trim();
  if (reset && /^\d+$/.test(reset)) {
    const n = Number(reset);
    // Epoch seconds when it looks like a date; otherwise seconds from now (other APIs' convention).
    return n > 1_000_000_000 ? Math.max(0, n * 1000 - nowMs) : n * 1000;
  }
  return undefined;
}

/** First characters of a non-JSON body (HTML error pages), tags stripped, for error messages. */
export function bodySnippet(text: string, max = 120): string {
  const plain = text
    .replace(/<[^>]*>/g, " ")
    .replace(/\s+/g, " ")
    .trim();
  return plain.length > max ? `${plain.slice(0, max)}…` : plain;
}
