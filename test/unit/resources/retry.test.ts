// withRetry on fake timers: jittered exponential backoff within its bounds, server hints (Retry-After/RetryInfo)
// waited out, the deadline, non-retriable errors and abort. Attempt times are read from the faked clock.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { TriageError } from "../../../src/core/errors.js";
import { withRetry, type RetryPolicy } from "../../../src/resources/retry.js";

const retriable = (retryAfterMs?: number) =>
  new TriageError({ code: "upstream_503", stage: "classify", retriable: true, message: "busy", ...(retryAfterMs === undefined ? {} : { retryAfterMs }) });

/** fn failing with `errors` in turn, then answering "ok"; records when (fake ms) each attempt started. */
function flaky(errors: (Error | TriageError)[]) {
  const at: number[] = [];
  const fn = async (attempt: number) => {
    at.push(Date.now());
    const err = errors[attempt - 1];
    if (err) throw err;
    return "ok";
  };
  return { fn, at, gaps: () => at.slice(1).map((t, i) => t - at[i]!) };
}

/** Run withRetry to its end on the fake clock; resolves to its value or the error it threw. */
async function settle<T>(p: Promise<T>): Promise<T | TriageError> {
  const outcome = p.catch((e: unknown) => e as TriageError);
  await vi.runAllTimersAsync();
  return outcome;
}

beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 });
});
afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

const policy: RetryPolicy = { deadlineMs: 60_000, minDelayMs: 100, maxDelayMs: 1_000 };

describe("withRetry backoff", () => {
  it("with the lowest jitter waits min·2^(n-1), capped at maxDelayMs", async () => {
    vi.spyOn(Math, "random").mockReturnValue(0);
    const { fn, gaps } = flaky(Array.from({ length: 6 }, () => retriable()));
    expect(await settle(withRetry("classify", fn, policy))).toBe("ok");
    expect(gaps()).toEqual([100, 200, 400, 800, 1_000, 1_000]);
  });

  it("with the highest jitter waits under twice that, still capped at maxDelayMs", async () => {
    vi.spyOn(Math, "random").mockReturnValue(0.999_999);
    const { fn, gaps } = flaky(Array.from({ length: 5 }, () => retriable()));
    expect(await settle(withRetry("classify", fn, policy))).toBe("ok");
    expect(gaps()).toEqual([200, 400, 800, 1_000, 1_000]);
  });

  it("random jitter stays within [min·2^(n-1), min(2·min·2^(n-1), max)] on every retry", async () => {
    for (let run = 0; run < 20; run++) {
      const { fn, gaps } = flaky(Array.from({ length: 6 }, () => retriable()));
      expect(await settle(withRetry("classify", fn, policy))).toBe("ok");
      gaps().forEach((gap, i) => {
        const base = 100 * 2 ** i;
        expect(gap).toBeGreaterThanOrEqual(Math.min(base, 1_000));
        expect(gap).toBeLessThanOrEqual(Math.min(2 * base, 1_000));
      });
    }
  });

  it("reports each retry with the error and attempt number", async () => {
    const seen: [string, number][] = [];
    const { fn } = flaky([retriable(), retriable()]);
    await settle(withRetry("classify", fn, { ...policy, onRetry: (e, n) => seen.push([e.code, n]) }));
    expect(seen).toEqual([["upstream_503", 1], ["upstream_503", 2]]);
  });

  it("stops after `retries` retries with the last error", async () => {
    const { fn, at } = flaky(Array.from({ length: 10 }, () => retriable()));
    const err = await settle(withRetry("classify", fn, { ...policy, retries: 3 }));
    expect(err).toMatchObject({ code: "upstream_503", retriable: true });
    expect(at).toHaveLength(4);
  });
});

describe("withRetry server hints", () => {
  it("waits at least the server's retry delay before the next attempt", async () => {
    vi.spyOn(Math, "random").mockReturnValue(0);
    const { fn, gaps } = flaky([retriable(7_000), retriable()]);
    expect(await settle(withRetry("classify", fn, policy))).toBe("ok");
    const [afterHint, afterPlain] = gaps();
    expect(afterHint).toBeGreaterThanOrEqual(7_000);
    expect(afterHint).toBeLessThanOrEqual(7_000 + 1_000); // the hint, plus at most one backoff step
    expect(afterPlain).toBe(200);
  });

  it("gives up at once when the server asks for longer than the deadline leaves", async () => {
    const { fn, at } = flaky([retriable(90_000), retriable()]);
    const started = Date.now();
    const err = await settle(withRetry("classify", fn, { ...policy, deadlineMs: 30_000 }));
    expect(err).toMatchObject({ code: "upstream_503", retryAfterMs: 90_000 });
    expect(at).toHaveLength(1);
    expect(Date.now() - started).toBe(0); // did not sit out the deadline first
  });
});

describe("withRetry deadline, non-retriable errors and abort", () => {
  it("never starts an attempt after the deadline", async () => {
    const { fn, at } = flaky(Array.from({ length: 1_000 }, () => retriable()));
    const started = Date.now();
    const err = await settle(withRetry("sink", fn, { deadlineMs: 5_000, minDelayMs: 100, maxDelayMs: 1_000 }));
    expect(err).toMatchObject({ code: "upstream_503" });
    expect(at.length).toBeGreaterThan(3);
    for (const t of at) expect(t - started).toBeLessThanOrEqual(5_000);
    expect(Date.now() - started).toBeLessThanOrEqual(5_000);
  });

  it("does not retry an error that says retrying cannot help", async () => {
    const fatal = new TriageError({ code: "record_invalid", stage: "sink", retriable: false, message: "bad" });
    const { fn, at } = flaky([fatal, retriable()]);
    expect(await settle(withRetry("sink", fn, policy))).toBe(fatal);
    expect(at).toHaveLength(1);
  });

  it("treats a foreign (non-TriageError) error as a bug: no retry, wrapped with the stage", async () => {
    const { fn, at } = flaky([new TypeError("undefined is not a function")]);
    const err = await settle(withRetry("dlq", fn, policy));
    expect(err).toBeInstanceOf(TriageError);
    expect(err).toMatchObject({ code: "unexpected", stage: "dlq", retriable: false, message: "undefined is not a function" });
    expect(at).toHaveLength(1);
  });

  it("an abort during the backoff ends the wait at once, without another attempt", async () => {
    const controller = new AbortController();
    const { fn, at } = flaky(Array.from({ length: 10 }, () => retriable()));
    const outcome = withRetry("classify", fn, { ...policy, minDelayMs: 10_000, maxDelayMs: 10_000, signal: controller.signal }).catch((e: unknown) => e as TriageError);
    await vi.advanceTimersByTimeAsync(1_000);
    controller.abort(new Error("shutting down"));
    const err = await outcome;
    expect(err).toBeInstanceOf(TriageError);
    expect((err as TriageError).message).toBe("shutting down");
    expect(at).toHaveLength(1);
    expect(vi.getTimerCount()).toBe(0); // no timer left behind
  });

  it("an abort while waiting out a server hint ends the wait at once too", async () => {
    const controller = new AbortController();
    const { fn, at } = flaky([retriable(30_000), retriable()]);
    const outcome = withRetry("classify", fn, { ...policy, signal: controller.signal }).catch((e: unknown) => e as TriageError);
    await vi.advanceTimersByTimeAsync(1_000);
    controller.abort(new Error("shutting down"));
    expect(await outcome).toMatchObject({ message: "shutting down" });
    expect(at).toHaveLength(1);
    expect(vi.getTimerCount()).toBe(0);
  });
});
