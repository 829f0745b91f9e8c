// withRetry on fake timers: jittered exponential backoff within its bounds, server hints (Retry-After/RetryInfo)
// waited out, the deadline, non-retriable errors and abort. Attempt times are read from the faked clock.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { TriageError } from "../../../src/core/errors.js";
import { retrying, withRetry, type AttemptOutcome, type RetryPolicy } from "../../../src/resources/retry.js";

const retriable = (retryAfterMs?: number) =>
  new TriageError({ code: "gemini_unavailable", stage: "classify", retriable: true, message: "busy", ...(retryAfterMs === undefined ? {} : { retryAfterMs }) });

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
    expect(seen).toEqual([
      ["gemini_unavailable", 1],
      ["gemini_unavailable", 2],
    ]);
  });

  it("stops after `retries` retries with the last error", async () => {
    const { fn, at } = flaky(Array.from({ length: 10 }, () => retriable()));
    const err = await settle(withRetry("classify", fn, { ...policy, retries: 3 }));
    expect(err).toMatchObject({ code: "gemini_unavailable", retriable: true });
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
    expect(err).toMatchObject({ code: "gemini_unavailable", retryAfterMs: 90_000 });
    expect(at).toHaveLength(1);
    expect(Date.now() - started).toBe(0); // did not sit out the deadline first
  });
});

describe("withRetry deadline, non-retriable errors and abort", () => {
  it("never starts an attempt after the deadline", async () => {
    const { fn, at } = flaky(Array.from({ length: 1_000 }, () => retriable()));
    const started = Date.now();
    const err = await settle(withRetry("sink", fn, { deadlineMs: 5_000, minDelayMs: 100, maxDelayMs: 1_000 }));
    expect(err).toMatchObject({ code: "gemini_unavailable" });
    expect(at.length).toBeGreaterThan(3);
    for (const t of at) expect(t - started).toBeLessThanOrEqual(5_000);
    expect(Date.now() - started).toBeLessThanOrEqual(5_000);
  });

  it("does not retry an error that says retrying cannot help", async () => {
    const fatal = new TriageError({ code: "invalid_alert", stage: "sink", retriable: false, message: "bad" });
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
    const outcome = withRetry("classify", fn, { ...policy, minDelayMs: 10_000, maxDelayMs: 10_000, signal: controller.signal }).catch(
      (e: unknown) => e as TriageError,
    );
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

/** A client answering with `outcomes` in turn (then ok "done"); records when (fake ms) each attempt started. */
function client(outcomes: AttemptOutcome<string, { why: string }>[]) {
  const at: number[] = [];
  const attempt = async (n: number): Promise<AttemptOutcome<string, { why: string }>> => {
    at.push(Date.now());
    return outcomes[n - 1] ?? { kind: "ok", value: "done" };
  };
  return { attempt, at, gaps: () => at.slice(1).map((t, i) => t - at[i]!) };
}

const busy = (afterMs?: number): AttemptOutcome<string, { why: string }> => ({
  kind: "retryable",
  error: retriable(),
  ...(afterMs === undefined ? {} : { afterMs }),
});

/** Run retrying to its end on the fake clock. */
async function settleOutcome<T>(p: Promise<T>): Promise<T> {
  await vi.runAllTimersAsync();
  return p;
}

describe("retrying: a wrapper over a client that returns outcomes", () => {
  it("retries retryable outcomes with the same jittered backoff and resolves to the value", async () => {
    vi.spyOn(Math, "random").mockReturnValue(0);
    const { attempt, gaps } = client([busy(), busy(), busy()]);
    expect(await settleOutcome(retrying("classify", attempt, policy))).toEqual({ kind: "ok", value: "done" });
    expect(gaps()).toEqual([100, 200, 400]);
  });

  it("waits out the outcome's afterMs hint before the next attempt", async () => {
    vi.spyOn(Math, "random").mockReturnValue(0);
    const { attempt, gaps } = client([busy(7_000)]);
    expect(await settleOutcome(retrying("classify", attempt, policy))).toMatchObject({ kind: "ok" });
    expect(gaps()).toEqual([7_100]);
  });

  it("a failed outcome ends at once, as a value, with the client's reason passed on", async () => {
    const error = new TriageError({ code: "llm_budget_spent", stage: "classify", retriable: false, message: "spent" });
    const { attempt, at } = client([{ kind: "failed", error, reason: { why: "budget" } }, busy()]);
    const result = await settleOutcome(retrying("classify", attempt, policy));
    expect(result).toEqual({ kind: "failed", error, attempts: 1, exhausted: false, reason: { why: "budget" } });
    expect(at).toHaveLength(1);
  });

  it("running out of retries or deadline is a failed value (exhausted) with the last error, not a throw", async () => {
    const { attempt, at } = client(Array.from({ length: 10 }, () => busy()));
    const byRetries = await settleOutcome(retrying("classify", attempt, { ...policy, retries: 2 }));
    expect(byRetries).toMatchObject({ kind: "failed", attempts: 3, exhausted: true, error: { code: "gemini_unavailable" } });
    expect(at).toHaveLength(3);

    const slow = client(Array.from({ length: 1_000 }, () => busy()));
    const started = Date.now();
    const byDeadline = await settleOutcome(retrying("sink", slow.attempt, { deadlineMs: 5_000, minDelayMs: 100, maxDelayMs: 1_000 }));
    expect(byDeadline).toMatchObject({ kind: "failed", exhausted: true });
    for (const t of slow.at) expect(t - started).toBeLessThanOrEqual(5_000);
  });

  it("a hint longer than the deadline leaves gives up at once", async () => {
    const { attempt, at } = client([busy(90_000)]);
    const started = Date.now();
    const result = await settleOutcome(retrying("classify", attempt, { ...policy, deadlineMs: 30_000 }));
    expect(result).toMatchObject({ kind: "failed", exhausted: true, attempts: 1 });
    expect(at).toHaveLength(1);
    expect(Date.now() - started).toBe(0);
  });

  it("an abort during the backoff resolves to failed `aborted` at once, with no timer left", async () => {
    const controller = new AbortController();
    const { attempt, at } = client(Array.from({ length: 10 }, () => busy()));
    const result = retrying("classify", attempt, { ...policy, minDelayMs: 10_000, maxDelayMs: 10_000, signal: controller.signal });
    await vi.advanceTimersByTimeAsync(1_000);
    controller.abort(new Error("shutting down"));
    expect(await result).toMatchObject({ kind: "failed", exhausted: false, attempts: 1, error: { code: "aborted", message: "shutting down" } });
    expect(at).toHaveLength(1);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("an exception from the attempt (a bug) is not an outcome: it rejects, without a retry", async () => {
    let calls = 0;
    const bug = new TypeError("undefined is not a function");
    const result = retrying<string>(
      "classify",
      async () => {
        calls++;
        throw bug;
      },
      policy,
    );
    await expect(result).rejects.toBe(bug);
    expect(calls).toBe(1);
  });
});
