import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { MemoryQuotaStore, RateLimiter } from "../../../src/resources/limiter.js";
import { TriageError } from "../../../src/core/errors.js";

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(Date.UTC(2026, 0, 1, 12));
});
afterEach(() => vi.useRealTimers());

const make = (limits: ConstructorParameters<typeof MemoryQuotaStore>[0], maxWaitMs = 600_000, concurrency = 10) =>
  new RateLimiter({ name: "test", stage: "classify", concurrency, store: new MemoryQuotaStore(limits), maxWaitMs });

describe("RateLimiter", () => {
  it("never starts more than rpm requests in any window (sliding, counted from completion)", async () => {
    const limiter = make({ rpm: 3, windowMs: 1000 });
    const starts: number[] = [];
    const jobs = Array.from({ length: 9 }, () =>
      limiter.run(1, async () => {
        starts.push(Date.now());
      }),
    );
    await vi.advanceTimersByTimeAsync(10_000);
    await Promise.all(jobs);
    expect(starts).toHaveLength(9);
    for (const t of starts) expect(starts.filter((s) => s > t - 1000 && s <= t).length).toBeLessThanOrEqual(3);
    expect(starts[8]! - starts[0]!).toBeGreaterThanOrEqual(2000);
  });

  it("respects tokens per window and uses the settled (real) count", async () => {
    const limiter = make({ tpm: 100, windowMs: 1000 });
    const starts: number[] = [];
    const jobs = [0, 1, 2].map(() =>
      limiter.run(60, async (call) => {
        starts.push(Date.now());
        await call.settleTokens(30);
      }),
    );
    await vi.advanceTimersByTimeAsync(5000);
    await Promise.all(jobs);
    // 60 estimated: the 2nd would exceed 100 → waits; after settle to 30 the next fits earlier than a full window.
    expect(starts[1]! - starts[0]!).toBeLessThan(1000);
  });

  it("pauses every request for a server's retry delay", async () => {
    const limiter = make({ rpm: 100, windowMs: 1000 });
    await limiter.pauseFor(5000);
    let ran = 0;
    const job = limiter.run(1, async () => {
      ran = Date.now();
    });
    await vi.advanceTimersByTimeAsync(4000);
    expect(ran).toBe(0);
    await vi.advanceTimersByTimeAsync(2000);
    await job;
    expect(ran).toBeGreaterThanOrEqual(Date.UTC(2026, 0, 1, 12) + 5000);
  });

  it("fails with a non-retriable budget error once the daily budget is spent", async () => {
    const limiter = make({ rpd: 2 });
    await limiter.run(1, async () => {});
    await limiter.run(1, async () => {});
    await expect(limiter.run(1, async () => {})).rejects.toMatchObject({ code: "test_daily_budget", retriable: false });
  });

  it("gives up retriably when the wait would exceed maxWaitMs", async () => {
    const limiter = make({ rpm: 1, windowMs: 60_000 }, 1000);
    await limiter.run(1, async () => {});
    const err = await limiter.run(1, async () => {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TriageError);
    expect(err).toMatchObject({ retriable: true, code: "test_limiter_timeout" });
  });

  it("tryRun answers quota refusals as values, and does not run the call", async () => {
    const budget = make({ rpd: 1 });
    expect(await budget.tryRun(1, async () => "answer")).toEqual({ kind: "ran", value: "answer" });
    let ran = false;
    const spent = await budget.tryRun(1, async () => {
      ran = true;
    });
    expect(spent).toMatchObject({ kind: "daily_budget", error: { code: "test_daily_budget", retriable: false } });
    expect(ran).toBe(false);

    const slow = make({ rpm: 1, windowMs: 60_000 }, 1000);
    await slow.tryRun(1, async () => {});
    const timeout = await slow.tryRun(1, async () => {});
    expect(timeout).toMatchObject({ kind: "limiter_timeout", error: { code: "test_limiter_timeout", retriable: true } });
    expect(timeout.kind === "limiter_timeout" && timeout.waitMs).toBeGreaterThan(1000);
  });

  it("tryRun passes the call's own exception through (a bug is not a quota outcome)", async () => {
    const limiter = make({});
    const bug = new TypeError("boom");
    await expect(
      limiter.tryRun(1, async () => {
        throw bug;
      }),
    ).rejects.toBe(bug);
    expect(await limiter.tryRun(1, async () => 1)).toEqual({ kind: "ran", value: 1 }); // its slot was given back
  });

  it("bounds concurrency", async () => {
    const limiter = make({}, 1000, 2);
    let active = 0;
    let peak = 0;
    const jobs = Array.from({ length: 6 }, () =>
      limiter.run(0, async () => {
        active++;
        peak = Math.max(peak, active);
        await new Promise((r) => setTimeout(r, 100));
        active--;
      }),
    );
    await vi.advanceTimersByTimeAsync(1000);
    await Promise.all(jobs);
    expect(peak).toBe(2);
  });
});
