// The one close mechanism: named closers in order, failures logged and skipped past, one bounded deadline.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { closeInOrder, drainWithin, type Closer } from "../../../src/ops/shutdown.js";
import { silentLogger } from "../../support/memory.js";

const never = () => new Promise<void>(() => {});

describe("closeInOrder", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("runs closers one after the other in list order, each after the previous finished", async () => {
    const events: string[] = [];
    const step = (name: string): Closer => ({
      name,
      close: async () => {
        events.push(`start:${name}`);
        await Promise.resolve();
        events.push(`end:${name}`);
      },
    });
    const report = await closeInOrder([step("sink"), step("source"), step("redis")], { timeoutMs: 1000, logger: silentLogger });
    expect(events).toEqual(["start:sink", "end:sink", "start:source", "end:source", "start:redis", "end:redis"]);
    expect(report).toEqual({ failed: [], timedOut: [] });
  });

  it("logs a failing closer by name and still runs the next ones", async () => {
    const ran: string[] = [];
    const report = await closeInOrder(
      [
        { name: "sink", close: async () => void ran.push("sink") },
        { name: "source", close: () => Promise.reject(new Error("commit failed")) },
        {
          name: "thrower",
          close: () => {
            throw new Error("sync throw");
          },
        },
        { name: "caches", close: async () => void ran.push("caches") },
      ],
      { timeoutMs: 1000, logger: silentLogger },
    );
    expect(ran).toEqual(["sink", "caches"]);
    expect(report.failed).toEqual(["source", "thrower"]);
  });

  it("bounds the whole list by one deadline and still starts the closers after it", async () => {
    const started: string[] = [];
    const closers: Closer[] = [
      { name: "hung", close: () => (started.push("hung"), never()) },
      { name: "after", close: async () => void started.push("after") },
    ];
    let done = false;
    const running = closeInOrder(closers, { timeoutMs: 5000, logger: silentLogger }).then((r) => {
      done = true;
      return r;
    });
    await vi.advanceTimersByTimeAsync(4999);
    expect(done).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    const report = await running;
    expect(started).toEqual(["hung", "after"]);
    expect(report.timedOut).toEqual(["hung", "after"]);
  });
});

describe("drainWithin", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("is true when the drain finishes in time, false when the timeout passes first", async () => {
    await expect(drainWithin(async () => {}, 100)).resolves.toBe(true);
    const late = drainWithin(never, 100);
    await vi.advanceTimersByTimeAsync(100);
    await expect(late).resolves.toBe(false);
  });
});
