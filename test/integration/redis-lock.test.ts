// Cross-instance single-flight on the local Redis (127.0.0.1:6379, or TEST_REDIS_URL): several "instances" (separate
// clients) asking the same key run the work once and share the answer; a failed or dead holder is taken over; the
// wait is bounded; an unreachable Redis degrades to running the work (as one instance alone would).
import { randomBytes } from "node:crypto";
import { createClient } from "@keyv/redis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectRedis } from "../../src/resources/redis.js";
import {
  DistributedSingleFlight,
  RedisLock,
  type DistributedSingleFlightOptions,
  type RedisEvalClient,
  type SingleFlightOutcome,
} from "../../src/resources/redis-lock.js";
import { redisUrl } from "./support.js";

const url = redisUrl();
const prefix = `test:sf:${randomBytes(4).toString("hex")}`;
type Client = Awaited<ReturnType<typeof connectRedis>>;
const clients: Client[] = [];

beforeAll(async () => {
  // Three connections: three instances as far as Redis can tell.
  for (let i = 0; i < 3; i++) clients.push(await connectRedis(url));
});
afterAll(async () => {
  const keys = await clients[0]!.keys(`${prefix}*`);
  if (keys.length) await clients[0]!.del(keys);
  for (const c of clients) await c.quit();
});

/** A promise the test resolves itself: the explicit barrier between "instances". */
function deferred<T = void>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/**
 * The client of an instance, reporting each Redis call it answered: `answered(n)` resolves once n calls returned.
 * A follower's first call is its claim, so `answered(1)` means "it found the lock held and is now waiting".
 */
function observed(client: RedisEvalClient) {
  let count = 0;
  let waiters: { n: number; resolve: () => void }[] = [];
  return {
    client: {
      async eval(script, options) {
        const reply = await client.eval(script, options);
        count++;
        waiters = waiters.filter((w) => (count >= w.n ? (w.resolve(), false) : true));
        return reply;
      },
    } satisfies RedisEvalClient,
    answered: (n: number) => (count >= n ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ n, resolve }))),
  };
}

/** Wait (bounded) until a condition on Redis holds, e.g. a lock's TTL ran out; a real-time condition, not a guess. */
async function until(what: string, condition: () => Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Simulated work that lasts `ms` of real time (what is under test is the lock outliving its TTL, not ordering). */
const workFor = (ms: number) => new Promise((r) => setTimeout(r, ms));

function instance(client: RedisEvalClient, outcomes: SingleFlightOutcome[] = [], overrides: Partial<DistributedSingleFlightOptions<string>> = {}) {
  return new DistributedSingleFlight<string>({
    client,
    prefix,
    lockTtlMs: 2_000,
    waitMaxMs: 10_000,
    pollMs: 20,
    redisTimeoutMs: 500,
    onOutcome: (o) => outcomes.push(o),
    ...overrides,
  });
}

describe("RedisLock", () => {
  it("is exclusive, and only the holder's token releases or renews it", async () => {
    const a = new RedisLock(clients[0]!, prefix, 500);
    const b = new RedisLock(clients[1]!, prefix, 500);
    const key = "exclusive";
    const token = await a.acquire(key, 5_000);
    expect(token).toEqual(expect.any(String));
    expect(await b.acquire(key, 5_000)).toBeNull();
    expect(await b.release(key, "not-the-token")).toBe(false);
    expect(await b.renew([key], "not-the-token", 5_000)).toBe(0);
    expect(await b.acquire(key, 5_000)).toBeNull(); // still held
    expect(await a.renew([key], token!, 5_000)).toBe(1);
    expect(await a.release(key, token!)).toBe(true);
    expect(await b.acquire(key, 5_000)).toEqual(expect.any(String));
  });

  it("an expired lock taken by someone else is not deleted by the old holder", async () => {
    const a = new RedisLock(clients[0]!, prefix, 500);
    const b = new RedisLock(clients[1]!, prefix, 500);
    const key = "expired";
    const old = await a.acquire(key, 150);
    await until("the first lock expired", async () => (await clients[0]!.exists(a.lockKey(key))) === 0);
    const mine = await b.acquire(key, 5_000);
    expect(mine).toEqual(expect.any(String));
    expect(await a.release(key, old!)).toBe(false);
    expect(await a.acquire(key, 5_000)).toBeNull(); // b's lock survived a's late release
  });
});

describe("DistributedSingleFlight", () => {
  it("three instances asking 20 keys at once run the work once per key and all get the same answers", async () => {
    const outcomes: SingleFlightOutcome[] = [];
    const instances = clients.map((c) => instance(c, outcomes));
    const runs = new Map<string, number>();
    const keys = Array.from({ length: 20 }, (_, i) => `many-${i}`);
    // Leaders hold their answers until every key has a leader running: all 120 calls overlap.
    const allLeading = deferred();
    const work = (key: string) => async () => {
      runs.set(key, (runs.get(key) ?? 0) + 1);
      if (runs.size === keys.length) allLeading.resolve();
      await allLeading.promise;
      return `answer-for-${key}`;
    };
    const results = await Promise.all(instances.flatMap((sf) => keys.flatMap((k) => [sf.do(k, work(k)), sf.do(k, work(k))])));
    for (const [i, r] of results.entries()) expect(r).toBe(`answer-for-${keys[Math.floor(i / 2) % keys.length]}`);
    expect([...runs.values()].every((n) => n === 1)).toBe(true);
    expect(runs.size).toBe(20);
    // Per key: one leader, the other two instances got its answer (the second call per instance joined in-process).
    expect(outcomes.filter((o) => o === "leader")).toHaveLength(20);
    expect(outcomes.filter((o) => o === "shared")).toHaveLength(40);
  });

  it("a waiter can take the answer from a caller-supplied lookup (e.g. the verdict cache) before the lock is released", async () => {
    const cache = new Map<string, string>();
    const outcomes: SingleFlightOutcome[] = [];
    const [a, b] = [instance(clients[0]!, outcomes), instance(clients[1]!, outcomes)];
    const leaderHolds = deferred();
    const leaderRuns = deferred();
    const leader = a.do("lookup", async () => {
      cache.set("lookup", "cached answer");
      leaderRuns.resolve();
      await leaderHolds.promise; // still holding the lock
      return "cached answer";
    });
    await leaderRuns.promise;
    const follower = await b.do("lookup", async () => "follower ran the work", { lookup: async () => cache.get("lookup") });
    expect(follower).toBe("cached answer");
    leaderHolds.resolve();
    expect(await leader).toBe("cached answer");
    expect(outcomes).toEqual(["leader", "shared"]);
  });

  it("work longer than the lock TTL keeps the lock (renewal): the follower does not run it a second time", async () => {
    const outcomes: SingleFlightOutcome[] = [];
    const short = { lockTtlMs: 1_000 };
    const [a, b] = [instance(clients[0]!, outcomes, short), instance(clients[1]!, outcomes, short)];
    let runs = 0;
    const leaderRuns = deferred();
    const work = async () => {
      runs++;
      leaderRuns.resolve();
      await workFor(2_500);
      return "slow answer";
    };
    const first = a.do("slow", work);
    await leaderRuns.promise;
    const second = b.do("slow", work);
    expect(await Promise.all([first, second])).toEqual(["slow answer", "slow answer"]);
    expect(runs).toBe(1);
    expect(outcomes).toEqual(["leader", "shared"]);
  });

  it("when the holder's work fails, a waiter takes over and runs it", async () => {
    const outcomes: SingleFlightOutcome[] = [];
    const follower = observed(clients[1]!);
    const [a, b] = [instance(clients[0]!, outcomes), instance(follower.client, outcomes)];
    const leaderRuns = deferred();
    const failing = a.do("fails", async () => {
      leaderRuns.resolve();
      await follower.answered(1); // the follower found the lock held and waits
      throw new Error("model down");
    });
    await leaderRuns.promise;
    const taken = b.do("fails", async () => "second try");
    await expect(failing).rejects.toThrow("model down");
    expect(await taken).toBe("second try");
    expect(outcomes).toEqual(["leader", "took_over"]);
  });

  it("a holder that died (lock never released) delays a waiter only until the lock's TTL, not the whole wait", async () => {
    const dead = new RedisLock(clients[2]!, prefix, 500);
    await dead.acquire("dead", 600); // a process that took the lock and was SIGKILLed
    const outcomes: SingleFlightOutcome[] = [];
    const t0 = Date.now();
    expect(await instance(clients[0]!, outcomes).do("dead", async () => "after the TTL")).toBe("after the TTL");
    const waited = Date.now() - t0;
    expect(waited).toBeGreaterThanOrEqual(450);
    expect(waited).toBeLessThan(3_000);
    expect(outcomes).toEqual(["took_over"]);
  });

  it("the wait is bounded: a holder that keeps working past waitMaxMs does not block the follower", async () => {
    const outcomes: SingleFlightOutcome[] = [];
    const a = instance(clients[0]!, outcomes);
    const b = instance(clients[1]!, outcomes, { waitMaxMs: 400 });
    const leaderRuns = deferred();
    const finished = deferred<string>();
    const leader = a.do("bounded", () => (leaderRuns.resolve(), finished.promise));
    await leaderRuns.promise;
    const t0 = Date.now();
    expect(await b.do("bounded", async () => "did it myself")).toBe("did it myself");
    expect(Date.now() - t0).toBeLessThan(1_500);
    finished.resolve("late");
    await leader;
    expect(outcomes).toEqual(["leader", "wait_timeout"]);
  });

  it("Redis unreachable (connection refused, queued commands) → the work runs at once, within the Redis timeout", async () => {
    const offline = createClient({ url: "redis://127.0.0.1:1", socket: { reconnectStrategy: () => 1_000 } });
    offline.on("error", () => {});
    void offline.connect().catch(() => {});
    const outcomes: SingleFlightOutcome[] = [];
    const t0 = Date.now();
    try {
      expect(await instance(offline as unknown as RedisEvalClient, outcomes, { redisTimeoutMs: 300 }).do("offline", async () => "ran alone")).toBe("ran alone");
    } finally {
      offline.destroy();
    }
    expect(Date.now() - t0).toBeLessThan(1_500);
    expect(outcomes).toEqual(["redis_unavailable"]);
    // A client whose calls fail outright behaves the same.
    const failing: RedisEvalClient = {
      eval: async () => {
        throw new Error("ECONNRESET");
      },
    };
    expect(await instance(failing, outcomes).do("offline", async () => "ran alone again")).toBe("ran alone again");
    expect(outcomes).toEqual(["redis_unavailable", "redis_unavailable"]);
  });

  it("doMany: three instances claiming overlapping batches run each key's work once and keep it batched", async () => {
    const outcomes: SingleFlightOutcome[] = [];
    const instances = clients.map((c) => instance(c, outcomes));
    const runsPerKey = new Map<string, number>();
    const callsPerInstance = [0, 0, 0];
    const keys = Array.from({ length: 40 }, (_, i) => `batch-${i}`);
    const asked = [keys.slice(0, 30), keys.slice(10, 40), [...keys.slice(20, 40), ...keys.slice(0, 10)]];
    // Every key is won in the first round of claims; the leaders answer once all 40 are being worked on.
    const allLeading = deferred();
    const results = await Promise.all(
      instances.map((sf, n) =>
        sf.doMany(asked[n]!, async (mine) => {
          callsPerInstance[n]!++;
          for (const k of mine) runsPerKey.set(k, (runsPerKey.get(k) ?? 0) + 1);
          if (runsPerKey.size === keys.length) allLeading.resolve();
          await allLeading.promise;
          return new Map(mine.map((k) => [k, `answer-${k}`]));
        }),
      ),
    );
    results.forEach((answers, n) => {
      expect([...answers.keys()].sort()).toEqual([...asked[n]!].sort());
      for (const [k, v] of answers) expect(v).toBe(`answer-${k}`);
    });
    expect(runsPerKey.size).toBe(40);
    expect([...runsPerKey.values()].every((n) => n === 1)).toBe(true);
    for (const calls of callsPerInstance) expect(calls).toBeLessThanOrEqual(2);
    expect(outcomes.filter((o) => o === "leader")).toHaveLength(40);
    expect(outcomes.filter((o) => o === "shared")).toHaveLength(90 - 40);
  });

  it("doMany: keys a leader's work left without an answer are taken over by the waiting instance", async () => {
    const outcomes: SingleFlightOutcome[] = [];
    const follower = observed(clients[1]!);
    const [a, b] = [instance(clients[0]!, outcomes), instance(follower.client, outcomes)];
    const leaderRuns = deferred();
    const first = a.doMany(["part-1", "part-2"], async () => {
      leaderRuns.resolve();
      await follower.answered(1); // b holds no lock and waits for a
      return new Map([["part-1", "from a"]]);
    });
    await leaderRuns.promise;
    let askedOfB: string[] = [];
    const second = await b.doMany(["part-1", "part-2"], async (mine) => {
      askedOfB = mine;
      return new Map(mine.map((k) => [k, "from b"]));
    });
    expect(await first).toEqual(new Map([["part-1", "from a"]]));
    expect(second).toEqual(
      new Map([
        ["part-1", "from a"],
        ["part-2", "from b"],
      ]),
    );
    expect(askedOfB).toEqual(["part-2"]);
    expect(outcomes.sort()).toEqual(["leader", "leader", "shared", "took_over"]);
  });

  it("leaves no lock behind: after the flights end the keys are free again", async () => {
    const sf = instance(clients[0]!);
    await sf.do("tidy", async () => "x");
    const lock = new RedisLock(clients[1]!, prefix, 500);
    expect(await lock.acquire("tidy", 1_000)).toEqual(expect.any(String));
    expect(await clients[0]!.pTTL(lock.resultKey("tidy"))).toBeLessThanOrEqual(2_000);
  });
});
