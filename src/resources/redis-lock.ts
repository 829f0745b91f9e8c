/**
 * Single-flight across instances: SingleFlight.do(key, fn) coalesces callers within one process; this adds a short
 * Redis lock per key so that, of N instances asking the same question at once, one (the leader) does the work and
 * the others wait for its answer.
 *
 *   claim: per key SET lock NX PX ttl (random token) — or the answer, if a flight for the key just ended
 *     won:  run the work, renewing the locks every ttl/3; publish each answer under a result key and
 *           compare-and-delete the lock, atomically (a waiter never sees "no lock, no answer" in between)
 *     lost: poll lookup() (e.g. the verdict cache) and the result keys every pollMs
 *           answer there → use it · lock gone without answer (holder failed or died) → take over
 *           · waited waitMaxMs → do the work anyway
 *   Redis unreachable or slower than redisTimeoutMs at any step → do the work (what a lone instance would do)
 *
 * `do(key, fn)` has SingleFlight's shape; `doMany(keys, run)` claims a whole batch in one round trip and runs the
 * work once for all keys it won, so batching (many alerts per model request) survives the coordination.
 * The lock bounds duplicate work; it is no correctness guarantee (a leader stalled past its TTL can overlap with a
 * successor), which is fine for work that is safe to do twice, like asking the model. Multi-key scripts assume a
 * single Redis (not Cluster).
 */
import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type { SharedFlight } from "../core/ports/flight.js";
import { SingleFlight } from "./single-flight.js";

/** The one Redis call this needs (node-redis' eval shape, as in RedisQuotaStore), kept narrow. */
export interface RedisEvalClient {
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
}

// KEYS come in (lock, result) pairs. Per pair: 2 + answer when one was published, 1 when we took the lock, 0 when held.
const CLAIM = `
local out = {}
for i = 1, #KEYS, 2 do
  local done = redis.call('GET', KEYS[i + 1])
  if done then out[#out + 1] = 2; out[#out + 1] = done
  elseif redis.call('SET', KEYS[i], ARGV[1], 'NX', 'PX', tonumber(ARGV[2])) then out[#out + 1] = 1; out[#out + 1] = ''
  else out[#out + 1] = 0; out[#out + 1] = '' end
end
return out
`;

// Only the holder may extend or delete: compare the token first (an expired lock may belong to someone else now).
const RENEW = `
local n = 0
for i = 1, #KEYS do
  if redis.call('GET', KEYS[i]) == ARGV[1] then redis.call('PEXPIRE', KEYS[i], tonumber(ARGV[2])); n = n + 1 end
end
return n
`;

// Per (lock, result) pair: store the answer when there is one (ARGV "=" + text; "" = none), then release if still ours.
const FINISH = `
local n = 0
for j = 1, #KEYS / 2 do
  local v = ARGV[j + 2]
  if v ~= '' then redis.call('SET', KEYS[2 * j], string.sub(v, 2), 'PX', tonumber(ARGV[2])) end
  if redis.call('GET', KEYS[2 * j - 1]) == ARGV[1] then redis.call('DEL', KEYS[2 * j - 1]); n = n + 1 end
end
return n
`;

// What a waiter sees per pair: 2 + answer when published, 1 while the lock is held, 0 when both are gone.
const PEEK = `
local out = {}
for i = 1, #KEYS, 2 do
  local done = redis.call('GET', KEYS[i + 1])
  if done then out[#out + 1] = 2; out[#out + 1] = done
  elseif redis.call('EXISTS', KEYS[i]) == 1 then out[#out + 1] = 1; out[#out + 1] = ''
  else out[#out + 1] = 0; out[#out + 1] = '' end
end
return out
`;

/** A Redis call that failed or took longer than the timeout: Redis counts as unreachable. */
export class RedisUnavailable extends Error {}

export type Claim = { kind: "acquired" } | { kind: "held" } | { kind: "result"; text: string };
export type Peek = { kind: "result"; text: string } | { kind: "held" } | { kind: "free" };

/** A fresh holder token. */
export function lockToken(): string {
  return randomBytes(16).toString("hex");
}

/** Token-guarded locks per key (SET NX PX, renewal and release by compare-and-delete) plus a result key per key. */
export class RedisLock {
  constructor(
    private readonly client: RedisEvalClient,
    /** Key prefix, e.g. "triage:sf:ai"; locks live at `<prefix>:lock:<key>`, answers at `<prefix>:result:<key>`. */
    private readonly prefix: string,
    private readonly redisTimeoutMs: number,
  ) {}

  lockKey(key: string): string {
    return `${this.prefix}:lock:${key}`;
  }

  resultKey(key: string): string {
    return `${this.prefix}:result:${key}`;
  }

  /** Take one lock for ttlMs (ignoring published answers); a token when taken, null when held. Throws RedisUnavailable. */
  async acquire(key: string, ttlMs: number): Promise<string | null> {
    const token = lockToken();
    const lock = this.lockKey(key);
    const script = `if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', tonumber(ARGV[2])) then return 1 end return 0`;
    const call = this.client.eval(script, { keys: [lock], arguments: [token, String(Math.round(ttlMs))] });
    const code = await this.bounded(call, () => void call.then((r) => Number(r) === 1 && this.release(key, token)).catch(() => {}));
    return Number(code) === 1 ? token : null;
  }

  /** Per key: take the lock with token, or report it held, or return the answer a flight that just ended published. */
  async claim(keys: readonly string[], token: string, ttlMs: number): Promise<Claim[]> {
    const call = this.client.eval(CLAIM, { keys: this.pairs(keys), arguments: [token, String(Math.round(ttlMs))] });
    // A call that timed out may still be applied later (node-redis queues commands while reconnecting): if it then
    // took locks, give them back at once so nobody waits out a lock without a holder.
    const raw = (await this.bounded(
      call,
      () =>
        void call
          .then(() =>
            this.finish(
              keys.map((key) => ({ key })),
              token,
              1,
            ),
          )
          .catch(() => {}),
    )) as (number | string)[];
    return keys.map((_, i) => {
      const code = Number(raw[2 * i]);
      return code === 2 ? { kind: "result", text: String(raw[2 * i + 1]) } : code === 1 ? { kind: "acquired" } : { kind: "held" };
    });
  }

  /** Extend locks we hold; returns how many were still ours. */
  async renew(keys: readonly string[], token: string, ttlMs: number): Promise<number> {
    return Number(await this.bounded(this.client.eval(RENEW, { keys: keys.map((k) => this.lockKey(k)), arguments: [token, String(Math.round(ttlMs))] })));
  }

  /** Delete one lock only if it is still ours; true when it was. */
  async release(key: string, token: string): Promise<boolean> {
    return (await this.finish([{ key }], token, 1)) === 1;
  }

  /** Publish the answers given (for resultTtlMs) and release the locks still ours, atomically; returns locks released. */
  async finish(entries: readonly { key: string; text?: string }[], token: string, resultTtlMs: number): Promise<number> {
    if (entries.length === 0) return 0;
    const args = [token, String(Math.max(1, Math.round(resultTtlMs))), ...entries.map((e) => (e.text === undefined ? "" : `=${e.text}`))];
    return Number(await this.bounded(this.client.eval(FINISH, { keys: this.pairs(entries.map((e) => e.key)), arguments: args })));
  }

  /** Per key: the published answer, or whether the lock is still held. */
  async peek(keys: readonly string[]): Promise<Peek[]> {
    const raw = (await this.bounded(this.client.eval(PEEK, { keys: this.pairs(keys), arguments: [] }))) as (number | string)[];
    return keys.map((_, i) => {
      const code = Number(raw[2 * i]);
      return code === 2 ? { kind: "result", text: String(raw[2 * i + 1]) } : code === 1 ? { kind: "held" } : { kind: "free" };
    });
  }

  private pairs(keys: readonly string[]): string[] {
    return keys.flatMap((k) => [this.lockKey(k), this.resultKey(k)]);
  }

  private async bounded<T>(call: Promise<T>, onTimeout?: () => void): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        call.catch((err: unknown) => {
          throw new RedisUnavailable(err instanceof Error ? err.message : String(err));
        }),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            onTimeout?.();
            reject(new RedisUnavailable(`no answer from Redis within ${this.redisTimeoutMs} ms`));
          }, this.redisTimeoutMs);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }
}

/** How one key was served, for metrics and tests. */
export type SingleFlightOutcome =
  /** Did the work holding the lock. */
  | "leader"
  /** Got another instance's answer (lookup or result key). */
  | "shared"
  /** The lock disappeared without an answer (holder failed or died): took over and did the work. */
  | "took_over"
  /** Waited waitMaxMs for the holder, then did the work anyway. */
  | "wait_timeout"
  /** Redis unreachable: did the work without coordination. */
  | "redis_unavailable";

export interface DistributedSingleFlightOptions<T> {
  client: RedisEvalClient;
  /** Key space of this use, e.g. "triage:sf:ai" (add a deployment prefix when Redis is shared). */
  prefix: string;
  /** Lock lifetime without renewal; renewed every lockTtlMs/3 while the work runs (SINGLE_FLIGHT_LOCK_TTL_MS). */
  lockTtlMs: number;
  /** Longest a follower waits for the holder before doing the work itself (SINGLE_FLIGHT_WAIT_MAX_MS). */
  waitMaxMs: number;
  /** Poll interval of a follower (SINGLE_FLIGHT_POLL_MS). */
  pollMs: number;
  /** A Redis call slower than this counts as unreachable (SINGLE_FLIGHT_REDIS_TIMEOUT_MS). */
  redisTimeoutMs: number;
  /**
   * How long a leader's answer stays readable for followers (a call arriving meanwhile gets it too: it is the
   * answer to the same question, milliseconds old). Default max(2 s, 20 polls).
   */
  resultTtlMs?: number;
  /** Answer encoding for the result key (default JSON). Return undefined from serialize to not publish an answer. */
  serialize?: (value: T) => string | undefined;
  deserialize?: (text: string) => T;
  /** Called once per key that went through Redis coordination (not for in-process joins of do()). */
  onOutcome?: (outcome: SingleFlightOutcome, key: string) => void;
}

export interface DoOptions<T> {
  /**
   * Where the winner's answer shows up besides the result key (e.g. the verdict cache): checked while waiting and
   * before taking over; undefined = not there yet. Errors count as "not there".
   */
  lookup?: () => Promise<T | undefined>;
}

export interface DoManyOptions<T> {
  /** Batch form of DoOptions.lookup: answers found for some of keys (missing = not there yet). */
  lookup?: (keys: string[]) => Promise<ReadonlyMap<string, T>>;
}

type Why = "free" | "timeout" | "unavailable";
const OUTCOME_OF: Record<Why, SingleFlightOutcome> = { free: "took_over", timeout: "wait_timeout", unavailable: "redis_unavailable" };

/**
 * SingleFlight across instances through a Redis lock per key (see the file comment). Without Redis, use
 * SingleFlight: behaviour then stays per process.
 */
export class DistributedSingleFlight<T> implements SharedFlight<T> {
  private readonly local = new SingleFlight<T>();
  private readonly lock: RedisLock;
  private readonly serialize: (value: T) => string | undefined;
  private readonly deserialize: (text: string) => T;
  private readonly resultTtlMs: number;

  constructor(private readonly opts: DistributedSingleFlightOptions<T>) {
    this.lock = new RedisLock(opts.client, opts.prefix, opts.redisTimeoutMs);
    this.serialize = opts.serialize ?? ((v) => JSON.stringify(v));
    this.deserialize = opts.deserialize ?? ((t) => JSON.parse(t) as T);
    this.resultTtlMs = opts.resultTtlMs ?? Math.max(2_000, 20 * opts.pollMs);
  }

  /** Run fn for key unless a call for key is in flight here or in another instance; then share its answer. */
  do(key: string, fn: () => Promise<T>, options: DoOptions<T> = {}): Promise<T> {
    const { lookup } = options;
    return this.local.do(key, async () => {
      const answers = await this.doMany(
        [key],
        async () => new Map([[key, await fn()]]),
        lookup
          ? {
              lookup: async () => {
                const v = await lookup();
                return v === undefined ? new Map() : new Map([[key, v]]);
              },
            }
          : {},
      );
      return answers.get(key) as T;
    });
  }

  /**
   * Answers for keys: `run` is called with the keys this instance leads (at most twice: the keys it won, then the
   * keys it had to take over or stopped waiting for), the others come from their leaders. A key `run` leaves out of
   * its map is missing from the result too (and its followers take over). Throws what `run` throws. No in-process
   * coalescing: concurrent doMany calls of one process with the same key lead/wait like separate instances.
   */
  async doMany(keys: readonly string[], run: (keys: string[]) => Promise<ReadonlyMap<string, T>>, options: DoManyOptions<T> = {}): Promise<Map<string, T>> {
    const o = this.opts;
    const started = Date.now();
    const wanted = [...new Set(keys)];
    const out = new Map<string, T>();
    if (wanted.length === 0) return out;
    const token = lockToken();
    let claims: Claim[];
    try {
      claims = await this.lock.claim(wanted, token, o.lockTtlMs);
    } catch {
      for (const k of wanted) o.onOutcome?.("redis_unavailable", k);
      return new Map(await run(wanted));
    }
    const leaders: string[] = [];
    const held: string[] = [];
    claims.forEach((c, i) => {
      const key = wanted[i]!;
      const answer = c.kind === "result" ? this.decode(c.text) : undefined;
      if (answer !== undefined) this.share(out, key, answer);
      else if (c.kind === "acquired") leaders.push(key);
      else held.push(key); // held elsewhere (or an unreadable answer: wait for the next one)
    });
    for (const k of leaders) o.onOutcome?.("leader", k);

    const stop = { stopped: false };
    const waiting = this.waitFor(held, started, options.lookup, stop);
    let led: ReadonlyMap<string, T>;
    try {
      led = await this.lead(leaders, [], token, run);
    } catch (err) {
      stop.stopped = true;
      await waiting;
      throw err;
    }
    for (const [k, v] of led) out.set(k, v);
    const { found, left } = await waiting;
    for (const [k, v] of found) out.set(k, v);
    if (left.length > 0) for (const [k, v] of await this.takeOver(left, options.lookup, run)) out.set(k, v);
    return out;
  }

  /** Calls of do() in flight in this process. */
  get size(): number {
    return this.local.size;
  }

  /** Poll until every key is answered, free, or the wait/Redis gives out. */
  private async waitFor(
    keys: string[],
    started: number,
    lookup: DoManyOptions<T>["lookup"],
    stop: { stopped: boolean },
  ): Promise<{ found: Map<string, T>; left: { key: string; why: Why }[] }> {
    const o = this.opts;
    const found = new Map<string, T>();
    const left: { key: string; why: Why }[] = [];
    let pending = keys;
    while (pending.length > 0 && !stop.stopped) {
      for (const [k, v] of await this.look(lookup, pending)) this.share(found, k, v);
      pending = pending.filter((k) => !found.has(k));
      if (pending.length === 0) break;
      const waited = Date.now() - started;
      if (waited >= o.waitMaxMs) {
        left.push(...pending.map((key) => ({ key, why: "timeout" as const })));
        break;
      }
      await sleep(Math.max(1, Math.min(o.pollMs, o.waitMaxMs - waited)));
      let seen: Peek[];
      try {
        seen = await this.lock.peek(pending);
      } catch {
        left.push(...pending.map((key) => ({ key, why: "unavailable" as const })));
        break;
      }
      const still: string[] = [];
      seen.forEach((s, i) => {
        const key = pending[i]!;
        const answer = s.kind === "result" ? this.decode(s.text) : undefined;
        if (answer !== undefined) this.share(found, key, answer);
        else if (s.kind === "held") still.push(key);
        else left.push({ key, why: "free" });
      });
      pending = still;
    }
    return { found, left };
  }

  /** Keys whose holder failed, died or kept us waiting too long: claim what we can and do the work once for all. */
  private async takeOver(
    left: { key: string; why: Why }[],
    lookup: DoManyOptions<T>["lookup"],
    run: (keys: string[]) => Promise<ReadonlyMap<string, T>>,
  ): Promise<Map<string, T>> {
    const out = new Map<string, T>();
    // The previous holder may have written its answer where lookup() reads just before letting go.
    for (const [k, v] of await this.look(
      lookup,
      left.map((l) => l.key),
    ))
      this.share(out, k, v);
    const rest = left.filter((l) => !out.has(l.key));
    if (rest.length === 0) return out;
    const token = lockToken();
    let claims: Claim[] | null;
    try {
      claims = await this.lock.claim(
        rest.map((l) => l.key),
        token,
        this.opts.lockTtlMs,
      );
    } catch {
      claims = null;
    }
    const locked: string[] = [];
    const unlocked: string[] = [];
    rest.forEach(({ key, why }, i) => {
      const c = claims?.[i];
      const answer = c?.kind === "result" ? this.decode(c.text) : undefined;
      if (answer !== undefined) {
        this.share(out, key, answer);
        return;
      }
      this.opts.onOutcome?.(claims === null ? "redis_unavailable" : OUTCOME_OF[why], key);
      // Held again (someone else took over first) or no Redis: do it anyway rather than wait a second time.
      (c?.kind === "acquired" ? locked : unlocked).push(key);
    });
    for (const [k, v] of await this.lead(locked, unlocked, token, run)) out.set(k, v);
    return out;
  }

  /** Do the work for locked (renewing their locks) and unlocked keys in one run; publish and release (also on throw). */
  private async lead(
    locked: string[],
    unlocked: string[],
    token: string,
    run: (keys: string[]) => Promise<ReadonlyMap<string, T>>,
  ): Promise<ReadonlyMap<string, T>> {
    const all = [...locked, ...unlocked];
    if (all.length === 0) return new Map();
    const o = this.opts;
    const renewal =
      locked.length > 0
        ? setInterval(() => void this.lock.renew(locked, token, o.lockTtlMs).catch(() => {}), Math.max(100, Math.floor(o.lockTtlMs / 3)))
        : undefined;
    renewal?.unref();
    let answers: ReadonlyMap<string, T>;
    try {
      answers = await run(all);
    } catch (err) {
      clearInterval(renewal);
      await this.lock
        .finish(
          locked.map((key) => ({ key })),
          token,
          this.resultTtlMs,
        )
        .catch(() => {}); // the TTL cleans up otherwise
      throw err;
    }
    clearInterval(renewal);
    const entries = locked.map((key) => {
      const text = answers.has(key) ? this.encode(answers.get(key) as T) : undefined;
      return text === undefined ? { key } : { key, text };
    });
    await this.lock.finish(entries, token, this.resultTtlMs).catch(() => {});
    return answers;
  }

  private async look(lookup: DoManyOptions<T>["lookup"], keys: string[]): Promise<ReadonlyMap<string, T>> {
    if (!lookup || keys.length === 0) return new Map();
    try {
      const found = await lookup(keys);
      return new Map(keys.filter((k) => found.get(k) !== undefined).map((k) => [k, found.get(k) as T]));
    } catch {
      return new Map();
    }
  }

  private share(into: Map<string, T>, key: string, value: T): void {
    into.set(key, value);
    this.opts.onOutcome?.("shared", key);
  }

  private encode(value: T): string | undefined {
    try {
      return this.serialize(value);
    } catch {
      return undefined;
    }
  }

  private decode(text: string): T | undefined {
    try {
      return this.deserialize(text);
    } catch {
      return undefined;
    }
  }
}
