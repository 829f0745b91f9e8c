import { describe, expect, it } from "vitest";
import { PriorityBatcher } from "../../../../src/transforms/batch/priority-batcher.js";

const item = (id: string, level: number) => ({ id, level });
const make = (maxSize = 3, maxDelayMs = 100) => new PriorityBatcher<{ id: string; level: number }>({ maxSize, maxDelayMs, levels: 5, levelOf: (i) => i.level });

describe("PriorityBatcher", () => {
  it("flushes on size", () => {
    const b = make(3);
    b.add(item("a", 3), 0);
    b.add(item("b", 3), 0);
    expect(b.take(0)).toBeNull();
    b.add(item("c", 3), 0);
    expect(b.take(0)?.map((i) => i.id)).toEqual(["a", "b", "c"]);
    expect(b.size).toBe(0);
  });

  it("flushes on age of the oldest item", () => {
    const b = make(10, 100);
    b.add(item("a", 4), 1000);
    b.add(item("b", 4), 1050);
    expect(b.nextDueAtMs()).toBe(1100);
    expect(b.take(1099)).toBeNull();
    expect(b.take(1100)?.map((i) => i.id)).toEqual(["a", "b"]);
    expect(b.nextDueAtMs()).toBeNull();
  });

  it("puts critical ahead of a backlog of low alerts", () => {
    const b = make(3);
    for (let i = 0; i < 6; i++) b.add(item(`low${i}`, 3), i);
    b.add(item("crit", 0), 10);
    b.add(item("high", 1), 11);
    expect(b.take(11)?.map((i) => i.id)).toEqual(["crit", "high", "low0"]);
    expect(b.take(11)?.map((i) => i.id)).toEqual(["low1", "low2", "low3"]);
  });

  it("keeps FIFO order within a level and never exceeds maxSize", () => {
    const b = make(4);
    for (let i = 0; i < 10; i++) b.add(item(String(i), 2), i);
    const seen: string[] = [];
    for (let batch = b.take(1000); batch; batch = b.take(1000)) {
      expect(batch.length).toBeLessThanOrEqual(4);
      seen.push(...batch.map((i) => i.id));
    }
    expect(seen).toEqual(["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]);
  });

  it("force takes a partial batch immediately (drain)", () => {
    const b = make(10, 10_000);
    b.add(item("x", 2), 0);
    expect(b.take(1)).toBeNull();
    expect(b.take(1, true)?.map((i) => i.id)).toEqual(["x"]);
  });

  it("clamps out-of-range levels", () => {
    const b = make(2);
    b.add(item("neg", -5), 0);
    b.add(item("big", 99), 0);
    expect(b.take(0)?.map((i) => i.id)).toEqual(["neg", "big"]);
  });
});
