import type { QuotaLimits, QuotaStore, Reservation } from "../core/ports/quota.js";
import { utcDay } from "./limiter.js";

// One atomic script per call so N instances share one quota: a sorted set of request slots (score = when the
// slot started counting), their token counts, a pause deadline and a per-day counter. Time comes from Redis
// (TIME), so instances with skewed clocks still agree on the window.
const RESERVE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1]); local rpm = tonumber(ARGV[2]); local tpm = tonumber(ARGV[3])
local rpd = tonumber(ARGV[4]); local tokens = tonumber(ARGV[5]); local dayTtl = tonumber(ARGV[6])
local paused = tonumber(redis.call('GET', KEYS[3]) or '0')
if now < paused then return {0, paused - now, 'paused'} end
if rpd >= 0 and tonumber(redis.call('GET', KEYS[4]) or '0') >= rpd then return {0, -1, 'rpd'} end
local old = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now - window)
for i = 1, #old do redis.call('HDEL', KEYS[2], old[i]) end
if #old > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window) end
local n = redis.call('ZCARD', KEYS[1])
if rpm >= 0 and n >= rpm then
  local e = redis.call('ZRANGE', KEYS[1], n - rpm, n - rpm, 'WITHSCORES')
  return {0, tonumber(e[2]) + window - now + 1, 'rpm'}
end
if tpm >= 0 and n > 0 then
  local used = 0
  local all = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
  local sizes = {}
  for i = 1, #all, 2 do local s = tonumber(redis.call('HGET', KEYS[2], all[i]) or '0'); sizes[#sizes + 1] = s; used = used + s end
  if used + tokens > tpm then
    local freed = 0
    for i = 1, #all, 2 do
      freed = freed + sizes[(i + 1) / 2]
      if used - freed + tokens <= tpm then return {0, tonumber(all[i + 1]) + window - now + 1, 'tpm'} end
    end
    return {0, tonumber(all[#all]) + window - now + 1, 'tpm'}
  end
end
local id = redis.call('INCR', KEYS[5])
redis.call('ZADD', KEYS[1], now, id)
redis.call('HSET', KEYS[2], id, tokens)
redis.call('PEXPIRE', KEYS[1], window * 2 + 60000)
redis.call('PEXPIRE', KEYS[2], window * 2 + 60000)
redis.call('INCR', KEYS[4])
redis.call('EXPIRE', KEYS[4], dayTtl)
return {1, id, 'ok'}
`;

// The slot now counts from completion: the server counted it on arrival, between reservation and now.
const FINISHED = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], 'XX', now, ARGV[1])
return 1
`;

const PAUSE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local untilMs = now + tonumber(ARGV[1])
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if untilMs > cur then redis.call('SET', KEYS[1], untilMs, 'PX', tonumber(ARGV[1]) + 1000) end
return 1
`;

/** The few Redis calls the store needs (kept narrow so client versions/generics don't leak). */
export interface RedisLike {
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
  hSet(key: string, field: string, value: string): Promise<unknown>;
}

/**
 * Quota shared by every instance through Redis (same contract as MemoryQuotaStore): with CACHE_URL=redis://,
 * N processes together never exceed the configured limits, and one instance's 429 pause holds them all.
 */
export class RedisQuotaStore implements QuotaStore {
  private readonly windowMs: number;

  constructor(
    private readonly client: RedisLike,
    /** Key prefix naming the shared quota, e.g. "triage:quota:gemini". */
    private readonly prefix: string,
    private readonly limits: QuotaLimits,
    private readonly dayKey: (nowMs: number) => string = utcDay,
  ) {
    const w = limits.windowMs ?? 60_000;
    this.windowMs = w + Math.max(50, Math.round(w * 0.02));
  }

  async reserve(tokens: number, now: number): Promise<Reservation> {
    const p = this.prefix;
    const res = (await this.client.eval(RESERVE, {
      keys: [`${p}:log`, `${p}:tokens`, `${p}:paused`, `${p}:day:${this.dayKey(now)}`, `${p}:seq`],
      arguments: [this.windowMs, this.limits.rpm ?? -1, this.limits.tpm ?? -1, this.limits.rpd ?? -1, Math.max(0, Math.round(tokens)), 2 * 86_400].map(String),
    })) as [number, number, string];
    const [granted, value, reason] = res;
    if (granted === 1) return { granted: true, id: Number(value) };
    if (reason === "rpd") return { granted: false, waitMs: null, reason: "rpd" };
    return { granted: false, waitMs: Math.max(1, Number(value)), reason: reason as "rpm" | "tpm" | "paused" };
  }

  async settle(id: number, tokens: number): Promise<void> {
    await this.client.hSet(`${this.prefix}:tokens`, String(id), String(Math.max(0, Math.round(tokens))));
  }

  async finished(id: number): Promise<void> {
    await this.client.eval(FINISHED, { keys: [`${this.prefix}:log`], arguments: [String(id)] });
  }

  async pauseFor(ms: number): Promise<void> {
    await this.client.eval(PAUSE, { keys: [`${this.prefix}:paused`], arguments: [String(Math.max(1, Math.round(ms)))] });
  }
}
