import { describe, expect, it } from "vitest";
import { CircuitBreaker, type BreakerState } from "../../../../src/transforms/enrich/breaker.js";

function breaker(failureThreshold = 3, cooldownMs = 1000) {
  let t = 0;
  const changes: BreakerState[] = [];
  const b = new CircuitBreaker({ failureThreshold, cooldownMs, now: () => t, onStateChange: (s) => changes.push(s) });
  return { b, changes, advance: (ms: number) => (t += ms) };
}

describe("CircuitBreaker", () => {
  it("stays closed below the threshold; a success resets the count", () => {
    const { b } = breaker(3);
    b.onFailure();
    b.onFailure();
    b.onSuccess();
    b.onFailure();
    b.onFailure();
    expect(b.state).toBe("closed");
    expect(b.tryAcquire()).toBe(true);
  });

  it("opens after N consecutive failures and refuses calls during the cooldown", () => {
    const { b, changes, advance } = breaker(3, 1000);
    for (let i = 0; i < 3; i++) b.onFailure();
    expect(b.state).toBe("open");
    expect(changes).toEqual(["open"]);
    expect(b.isRejecting()).toBe(true);
    expect(b.tryAcquire()).toBe(false);
    advance(999);
    expect(b.tryAcquire()).toBe(false);
  });

  it("after the cooldown lets exactly one probe through (half-open)", () => {
    const { b, changes, advance } = breaker(1, 1000);
    b.onFailure();
    advance(1000);
    expect(b.isRejecting()).toBe(false);
    expect(b.tryAcquire()).toBe(true);
    expect(b.state).toBe("half_open");
    expect(b.isRejecting()).toBe(true);
    expect(b.tryAcquire()).toBe(false);
    expect(changes).toEqual(["open", "half_open"]);
  });

  it("a successful probe closes it", () => {
    const { b, changes, advance } = breaker(1, 1000);
    b.onFailure();
    advance(1000);
    b.tryAcquire();
    b.onSuccess();
    expect(b.state).toBe("closed");
    expect(b.tryAcquire()).toBe(true);
    expect(b.tryAcquire()).toBe(true);
    expect(changes).toEqual(["open", "half_open", "closed"]);
  });

  it("a failed probe reopens it for a fresh cooldown", () => {
    const { b, advance } = breaker(2, 1000);
    b.onFailure();
    b.onFailure();
    advance(1500);
    expect(b.tryAcquire()).toBe(true);
    b.onFailure();
    expect(b.state).toBe("open");
    advance(999);
    expect(b.tryAcquire()).toBe(false);
    advance(1);
    expect(b.tryAcquire()).toBe(true);
  });

  it("a neutral outcome (429) frees the probe slot without changing state", () => {
    const { b, advance } = breaker(1, 100);
    b.onFailure();
    advance(100);
    expect(b.tryAcquire()).toBe(true);
    b.release();
    expect(b.state).toBe("half_open");
    expect(b.tryAcquire()).toBe(true);
  });

  it("failures of calls started before it opened do not extend the cooldown", () => {
    const { b, advance } = breaker(1, 1000);
    b.onFailure();
    advance(600);
    b.onFailure();
    advance(400);
    expect(b.tryAcquire()).toBe(true);
  });
});
