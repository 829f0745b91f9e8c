import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { ISOLATED_PRIORITY, planRequests } from "../../../../src/transforms/classify/request-plan.js";

const opts = { maxAlerts: 25, criticalMaxAlerts: 10, maxInputTokens: 20_000, overheadTokens: 400 };
const alerts = (n: number, rank = 2, tokens = 150) => Array.from({ length: n }, (_, i) => ({ id: `${rank}-${i}`, rank, tokens }));

describe("planRequests", () => {
  it("packs up to maxAlerts per request with even sizes", () => {
    expect(planRequests(alerts(100), opts).map((r) => r.alerts.length)).toEqual([25, 25, 25, 25]);
    expect(planRequests(alerts(30), opts).map((r) => r.alerts.length)).toEqual([15, 15]);
  });

  it("puts critical alerts in smaller requests, first and with a higher priority, topped up with the next most urgent", () => {
    const plan = planRequests([...alerts(40, 3), ...alerts(12, 0), ...alerts(8, 1)], opts);
    expect(plan.map((r) => r.alerts.length)).toEqual([10, 10, 20, 20]);
    expect(plan[0]!.alerts.every((a) => a.rank === 0)).toBe(true);
    expect(plan[1]!.alerts.map((a) => a.rank)).toEqual([0, 0, 1, 1, 1, 1, 1, 1, 1, 1]);
    expect(plan[0]!.priority).toBeGreaterThan(plan[plan.length - 1]!.priority);
    // Two criticals in a batch of 100 share their small request with the next most urgent alerts.
    expect(planRequests([...alerts(2, 0), ...alerts(98, 2)], opts).map((r) => r.alerts.length)).toEqual([10, 23, 23, 23, 21]);
  });

  it("stays within the token budget when alerts are large", () => {
    const plan = planRequests(alerts(25, 2, 3000), opts);
    for (const r of plan) expect(400 + r.alerts.reduce((n, a) => n + a.tokens, 0)).toBeLessThanOrEqual(20_000);
  });

  it("places every alert in exactly one request (property)", () => {
    const arb = fc.array(fc.record({ rank: fc.integer({ min: 0, max: 4 }), tokens: fc.integer({ min: 1, max: 30_000 }) }), { maxLength: 300 });
    fc.assert(
      fc.property(arb, fc.integer({ min: 1, max: 50 }), (list, max) => {
        const input = list.map((a, i) => ({ ...a, id: i }));
        const plan = planRequests(input, { ...opts, maxAlerts: max, criticalMaxAlerts: Math.max(1, max >> 1) });
        expect(plan.flatMap((r) => r.alerts.map((a) => a.id)).sort((a, b) => a - b)).toEqual(input.map((a) => a.id));
        for (const r of plan) expect(r.alerts.length).toBeLessThanOrEqual(max);
      }),
    );
  });

  it("gives every alert marked alone a request of its own, last and at the lowest priority whatever its severity", () => {
    // Its author sets the severity: a flood of "critical" instruction-like alerts must not outrank anything.
    const flagged = [
      { id: "x-0", rank: 0, tokens: 150, alone: true },
      { id: "x-1", rank: 3, tokens: 150, alone: true },
    ];
    const plan = planRequests<{ id: string; rank: number; tokens: number; alone?: boolean }>([...alerts(30, 4), ...flagged], opts);
    expect(plan.slice(-2)).toEqual([
      { alerts: [flagged[0]], priority: ISOLATED_PRIORITY },
      { alerts: [flagged[1]], priority: ISOLATED_PRIORITY },
    ]);
    const shared = plan.filter((r) => !r.alerts.some((a) => a.alone));
    expect(shared.map((r) => r.alerts.length)).toEqual([15, 15]);
    // Below every other request, info alerts (priority 0) included.
    for (const r of shared) expect(r.priority).toBeGreaterThan(ISOLATED_PRIORITY);
  });
});
