// The limiter reports each request it held back, once, with why: this is the replay progress bar's "rate-limited"
// count (triage_limiter_throttled_total), which used to be hard-wired to 0.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { MemoryQuotaStore, RateLimiter } from "../../../src/resources/limiter.js";
import { createMetrics } from "../../../src/telemetry/metrics.js";

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(Date.UTC(2026, 0, 1, 12));
});
afterEach(() => vi.useRealTimers());

function limiter(limits: ConstructorParameters<typeof MemoryQuotaStore>[0], throttled: string[]) {
  return new RateLimiter({
    name: "test",
    stage: "classify",
    concurrency: 10,
    store: new MemoryQuotaStore(limits),
    maxWaitMs: 600_000,
    onThrottled: (reason) => throttled.push(reason),
  });
}

describe("RateLimiter onThrottled", () => {
  it("is called once per request that waited for quota (rpm), never for requests that got through at once", async () => {
    const throttled: string[] = [];
    const l = limiter({ rpm: 3, windowMs: 1000 }, throttled);
    const jobs = Array.from({ length: 7 }, () => l.run(1, async () => {}));
    await vi.advanceTimersByTimeAsync(10_000);
    await Promise.all(jobs);
    // 3 fit the first window; each of the other 4 was held back (some more than once) and counts once.
    expect(throttled).toEqual(["rpm", "rpm", "rpm", "rpm"]);
  });

  it("reports a 429 pause as 'paused', and a tokens-per-window wait as 'tpm'", async () => {
    const throttled: string[] = [];
    const paused = limiter({ rpm: 100, windowMs: 1000 }, throttled);
    await paused.pauseFor(5_000);
    const a = paused.run(1, async () => {});
    await vi.advanceTimersByTimeAsync(5_000);
    await a;
    const tokens = limiter({ tpm: 100, windowMs: 1000 }, throttled);
    const b = Promise.all([tokens.run(80, async () => {}), tokens.run(80, async () => {})]);
    await vi.advanceTimersByTimeAsync(5_000);
    await b;
    expect(throttled).toEqual(["paused", "tpm"]);
  });

  it("writes triage_limiter_throttled_total as the classifier wires it", async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const l = new RateLimiter({
      name: "gemini",
      stage: "classify",
      concurrency: 4,
      store: new MemoryQuotaStore({ rpm: 1, windowMs: 1000 }),
      maxWaitMs: 60_000,
      onThrottled: (reason) => metrics.limiterThrottled.inc({ limiter: "gemini", reason }),
    });
    const jobs = [l.run(1, async () => {}), l.run(1, async () => {}), l.run(1, async () => {})];
    await vi.advanceTimersByTimeAsync(5_000);
    await Promise.all(jobs);
    const values = (await metrics.limiterThrottled.get()).values;
    expect(values).toEqual([{ labels: { limiter: "gemini", reason: "rpm" }, value: 2 }]);
  });
});
