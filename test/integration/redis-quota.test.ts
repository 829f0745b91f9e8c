// The shared (Redis) quota: several limiters — as several instances would — never exceed the limits together,
// and one pause holds them all. Runs against the local Redis (TEST_REDIS_URL, default 127.0.0.1:6379).
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RateLimiter } from "../../src/resources/limiter.js";
import { RedisQuotaStore } from "../../src/resources/redis-quota-store.js";
import { connectRedis } from "../../src/resources/redis.js";
import { RedisSpendLedger } from "../../src/resources/spend-ledger.js";
import { BudgetGovernor } from "../../src/transforms/classify/budget.js";
import { redisUrl } from "./support.js";

let client: Awaited<ReturnType<typeof connectRedis>>;
const prefix = `test:quota:${randomBytes(4).toString("hex")}`;

beforeAll(async () => {
  client = await connectRedis(redisUrl());
});
afterAll(async () => {
  const keys = await client.keys(`${prefix}*`);
  if (keys.length) await client.del(keys);
  await client.quit();
});

const limiterOn = (name: string, limits: ConstructorParameters<typeof RedisQuotaStore>[2]) =>
  new RateLimiter({ name: "shared", stage: "classify", concurrency: 8, store: new RedisQuotaStore(client, `${prefix}:${name}`, limits), maxWaitMs: 30_000 });

describe("RedisQuotaStore", () => {
  it("three limiters sharing one quota start at most rpm requests per window in total", async () => {
    const limits = { rpm: 5, windowMs: 1000 };
    const instances = [limiterOn("rpm", limits), limiterOn("rpm", limits), limiterOn("rpm", limits)];
    const starts: number[] = [];
    await Promise.all(
      instances.flatMap((l) =>
        Array.from({ length: 6 }, () =>
          l.run(1, async () => {
            starts.push(Date.now());
          }),
        ),
      ),
    );
    starts.sort((a, b) => a - b);
    expect(starts).toHaveLength(18);
    for (const t of starts) expect(starts.filter((s) => s > t - 1000 && s <= t).length).toBeLessThanOrEqual(5);
  });

  it("enforces a shared daily budget", async () => {
    const a = limiterOn("rpd", { rpd: 3 });
    const b = limiterOn("rpd", { rpd: 3 });
    await a.run(1, async () => {});
    await b.run(1, async () => {});
    await a.run(1, async () => {});
    await expect(b.run(1, async () => {})).rejects.toMatchObject({ code: "shared_daily_budget" });
  });

  it("a pause from one instance holds every instance", async () => {
    const a = limiterOn("pause", { rpm: 100, windowMs: 1000 });
    const b = limiterOn("pause", { rpm: 100, windowMs: 1000 });
    const t0 = Date.now();
    await a.pauseFor(800);
    await b.run(1, async () => {});
    expect(Date.now() - t0).toBeGreaterThanOrEqual(700);
  });

  it("shares a tokens-per-window budget", async () => {
    const a = limiterOn("tpm", { tpm: 100, windowMs: 800 });
    const b = limiterOn("tpm", { tpm: 100, windowMs: 800 });
    const starts: number[] = [];
    await Promise.all(
      [a, b, a, b].map((l) =>
        l.run(60, async () => {
          starts.push(Date.now());
        }),
      ),
    );
    starts.sort((x, y) => x - y);
    // 60 tokens each with 100 per window: never two within one window.
    for (let i = 1; i < starts.length; i++) expect(starts[i]! - starts[i - 1]!).toBeGreaterThanOrEqual(700);
  });

  it("shares the daily USD budget: spend on one instance counts against every instance", async () => {
    const ledgerA = new RedisSpendLedger(client, `${prefix}:spend`, 60_000);
    const ledgerB = new RedisSpendLedger(client, `${prefix}:spend`, 60_000);
    const day = () => "2026-11-23";
    const a = new BudgetGovernor({ dailyBudgetUsd: 1, ledger: ledgerA, dayKey: day });
    const b = new BudgetGovernor({ dailyBudgetUsd: 1, ledger: ledgerB, dayKey: day });
    const r = a.tryReserve(0.6)!;
    a.settle(r, 0.6);
    await ledgerA.sync();
    await ledgerB.load("2026-11-23");
    expect(b.spentUsd).toBeCloseTo(0.6);
    expect(b.tryReserve(0.5)).toBeNull(); // would exceed the deployment's $1
    expect(b.tryReserve(0.3)).not.toBeNull();
    ledgerA.stop();
    ledgerB.stop();
  });
});
