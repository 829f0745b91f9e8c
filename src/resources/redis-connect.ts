import { createClient } from "@keyv/redis";
import { TriageError } from "../core/errors.js";
import { redactUrls } from "../core/redact.js";

/** A node-redis client that gives up a connection attempt after `connectTimeoutMs` and retries with backoff. */
function newClient(url: string, connectTimeoutMs: number) {
  return createClient({ url, socket: { connectTimeout: connectTimeoutMs, reconnectStrategy: (attempt: number) => Math.min(100 * 2 ** attempt, 2000) } });
}

export type RedisClient = ReturnType<typeof newClient>;

export interface RedisConnectOptions {
  /** How long to wait for the connection and a PING answer (CACHE_CONNECT_TIMEOUT_MS). */
  connectTimeoutMs: number;
}

/** Start-up default when a caller passes no timeout (tools, tests); the service passes CACHE_CONNECT_TIMEOUT_MS. */
export const DEFAULT_REDIS_CONNECT_TIMEOUT_MS = 10_000;

/**
 * A connected node-redis client that has answered PING, or a `cache_unreachable` error within `connectTimeoutMs`
 * naming CACHE_URL without its password. node-redis alone waits forever: it reconnects to a closed port without
 * end, and a server that accepts and never answers (firewall, hung Redis) leaves connect() pending.
 */
export async function connectRedisClient(url: string, opts: RedisConnectOptions): Promise<RedisClient> {
  const timeoutMs = opts.connectTimeoutMs;
  const client = newClient(url, timeoutMs);
  let lastError: unknown;
  client.on("error", (err: unknown) => (lastError = err)); // after start-up: surfaced by the failing call; the client reconnects
  const ready = client.connect().then(() => client.ping());
  ready.catch(() => {}); // the race below reports it
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), timeoutMs)));
  try {
    const outcome = await Promise.race([ready, deadline]);
    if (outcome !== "timeout") return client;
  } catch (err) {
    lastError = err;
  } finally {
    clearTimeout(timer);
  }
  try {
    client.destroy();
  } catch {
    // never opened
  }
  throw new TriageError({
    code: "cache_unreachable",
    stage: "config",
    retriable: false,
    message:
      `CACHE_URL ${redactUrls(url)}: Redis did not connect and answer PING within ${timeoutMs} ms ` +
      `(CACHE_CONNECT_TIMEOUT_MS)${lastError === undefined ? "" : `; last error: ${scrub(lastError, url)}`}`,
  });
}

/** An error's message with URLs redacted and the URL's password removed wherever else it appears. */
function scrub(err: unknown, url: string): string {
  let message = redactUrls(err instanceof Error ? err.message || err.name : String(err)).slice(0, 300);
  const secret = passwordOf(url);
  if (secret) message = message.split(secret).join("***");
  return message;
}

function passwordOf(url: string): string | undefined {
  try {
    const parsed = new URL(url);
    return decodeURIComponent(parsed.password || parsed.username) || undefined;
  } catch {
    return undefined;
  }
}
