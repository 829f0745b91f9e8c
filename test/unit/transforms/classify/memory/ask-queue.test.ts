import { describe, expect, it } from "vitest";
import type { EnrichedAlert } from "../../../../../src/core/ports/index.js";
import type { Decision } from "../../../../../src/core/verdict.js";
import { AskQueue, type Timers } from "../../../../../src/transforms/classify/memory/ask-queue.js";
import { item } from "../cache/support.js";

/** Timers the test fires by hand (no sleeps). */
class ManualTimers implements Timers {
  pending: { fn: () => void; ms: number }[] = [];
  setTimeout(fn: () => void, ms: number): unknown {
    const t = { fn, ms };
    this.pending.push(t);
    return t;
  }
  clearTimeout(handle: unknown): void {
    this.pending = this.pending.filter((t) => t !== handle);
  }
  fire(): void {
    const due = this.pending;
    this.pending = [];
    for (const t of due) t.fn();
  }
}

function decisionFor(i: EnrichedAlert): Decision {
  return {
    classification: "needs_review",
    severity: "medium",
    confidence: 50,
    reasoning: i.alert.alert_id,
    source: "llm",
    recommended_actions: [],
    mitre_techniques: [],
    model: "m",
    prompt_version: "p",
    degraded: false,
    fallback_reason: null,
    learnable: true,
  };
}

function setup(maxPerRequest = 4, maxQueuedSpotChecks = 10) {
  const requests: string[][] = [];
  const timers = new ManualTimers();
  const queue = new AskQueue(
    async (items) => {
      requests.push(items.map((i) => i.alert.alert_id));
      return items.map(decisionFor);
    },
    { maxPerRequest, maxDelayMs: 250, maxQueuedSpotChecks },
    timers,
  );
  return { queue, requests, timers };
}

const alerts = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => item({ alert_id: `${prefix}${i}` }));

describe("AskQueue", () => {
  it("gathers asks of concurrent calls into full requests; a partial one goes when its delay fires", async () => {
    const { queue, requests, timers } = setup();
    const a = queue.submit(alerts("a", 3), false);
    const b = queue.submit(alerts("b", 2), false);
    expect(requests).toEqual([["a0", "a1", "a2", "b0"]]);
    expect(timers.pending).toHaveLength(1);
    timers.fire();
    expect(requests[1]).toEqual(["b1"]);
    expect((await a).map((d) => d.reasoning)).toEqual(["a0", "a1", "a2"]);
    expect((await b).map((d) => d.reasoning)).toEqual(["b0", "b1"]);
  });

  it("sends at once when a critical alert waits", async () => {
    const { queue, requests, timers } = setup();
    void queue.submit(alerts("a", 1), false);
    await queue.submit(alerts("c", 1), true);
    expect(requests).toEqual([["a0", "c0"]]);
    expect(timers.pending).toHaveLength(0);
  });

  it("spot checks ride in spare room, never ahead of asks; alone only when a full request of them waits", async () => {
    const { queue, requests, timers } = setup();
    const checked: (string | null)[] = [];
    for (const i of alerts("s", 3)) queue.spotCheck(i, (d) => checked.push(d?.reasoning ?? null));
    expect(requests).toEqual([]);
    void queue.submit(alerts("a", 2), false);
    timers.fire();
    expect(requests).toEqual([["a0", "a1", "s0", "s1"]]);
    for (const i of alerts("t", 3)) queue.spotCheck(i, (d) => checked.push(d?.reasoning ?? null));
    expect(requests[1]).toEqual(["s2", "t0", "t1", "t2"]);
    await queue.drain();
    expect(checked).toEqual(["s0", "s1", "s2", "t0", "t1", "t2"]);
  });

  it("bounds queued spot checks: the oldest is dropped (done with null) and counted", async () => {
    const { queue } = setup(100, 2);
    const checked: (string | null)[] = [];
    for (const i of alerts("s", 3)) queue.spotCheck(i, (d) => checked.push(d?.reasoning ?? null));
    expect(checked).toEqual([null]);
    expect(queue.dropped).toBe(1);
    await queue.drain();
    expect(checked).toEqual([null, "s1", "s2"]);
  });
});
