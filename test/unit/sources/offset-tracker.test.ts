import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { OffsetTracker } from "../../../src/sources/offset-tracker.js";

describe("OffsetTracker", () => {
  it("commits only up to the first unacknowledged offset", () => {
    const t = new OffsetTracker();
    for (const o of ["10", "11", "12", "13"]) t.track("in", 0, o);
    t.ack("in", 0, "11");
    t.ack("in", 0, "13");
    expect(t.pendingCommits()).toEqual([]);
    t.ack("in", 0, "10");
    expect(t.pendingCommits()).toEqual([{ topic: "in", partition: 0, offset: "12" }]);
    t.markCommitted(t.pendingCommits());
    expect(t.pendingCommits()).toEqual([]);
    t.ack("in", 0, "12");
    expect(t.pendingCommits()).toEqual([{ topic: "in", partition: 0, offset: "14" }]);
    expect(t.inFlight()).toBe(0);
  });

  it("tracks partitions independently", () => {
    const t = new OffsetTracker();
    t.track("in", 0, "0");
    t.track("in", 1, "0");
    t.ack("in", 1, "0");
    expect(t.pendingCommits()).toEqual([{ topic: "in", partition: 1, offset: "1" }]);
  });

  it("knows offsets in flight or acknowledged on a kept partition (re-fetch after a rebalance)", () => {
    const t = new OffsetTracker();
    for (const o of ["5", "6", "7"]) t.track("in", 0, o);
    t.ack("in", 0, "5");
    t.retainOnly(new Set(["in:0"]));
    expect(t.isKnown("in", 0, "5")).toBe(true); // acknowledged
    expect(t.isKnown("in", 0, "6")).toBe(true); // in flight
    expect(t.isKnown("in", 0, "8")).toBe(false); // new
    expect(t.isKnown("in", 1, "6")).toBe(false); // other partition
  });

  it("ignores acks for partitions dropped after a rebalance", () => {
    const t = new OffsetTracker();
    t.track("in", 0, "5");
    t.retainOnly(new Set());
    expect(t.ack("in", 0, "5")).toBe(false);
    expect(t.pendingCommits()).toEqual([]);
  });

  it("never commits past an unacknowledged offset, whatever the ack order (property)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 200 }), fc.array(fc.nat(), { maxLength: 400 }), (n, picks) => {
        const t = new OffsetTracker();
        for (let i = 0; i < n; i++) t.track("t", 0, String(i));
        const acked = new Set<number>();
        for (const p of picks) {
          const o = p % n;
          acked.add(o);
          t.ack("t", 0, String(o));
          const c = t.pendingCommits()[0];
          let firstMissing = 0;
          while (acked.has(firstMissing)) firstMissing++;
          if (firstMissing === 0) expect(c).toBeUndefined();
          else expect(c?.offset).toBe(String(firstMissing));
        }
      }),
    );
  });
});
