import { describe, expect, it } from "vitest";
import { parseProtoDurationMs, retryDelayMs } from "../../../../src/transforms/classify/retry-info.js";

const details = (retryDelay: string) => [
  { "@type": "type.googleapis.com/google.rpc.Help", links: [] },
  { "@type": "type.googleapis.com/google.rpc.QuotaFailure", violations: [{ quotaId: "GenerateRequestsPerMinutePerProjectPerModel-FreeTier" }] },
  { "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay },
];

describe("429 RetryInfo", () => {
  it("parses proto Duration strings", () => {
    expect(parseProtoDurationMs("7s")).toBe(7000);
    expect(parseProtoDurationMs("0.5s")).toBe(500);
    expect(parseProtoDurationMs("26.374512831s")).toBe(26375);
    expect(parseProtoDurationMs("7")).toBeNull();
    expect(parseProtoDurationMs(7)).toBeNull();
  });

  it("reads retryDelay from the error details, wherever RetryInfo sits", () => {
    expect(retryDelayMs(details("7s"))).toBe(7000);
    expect(retryDelayMs(details("0.5s"))).toBe(500);
    expect(retryDelayMs([...details("2s")].reverse())).toBe(2000);
  });

  it("falls back to the message's 'Please retry in Ns.', else gives no hint", () => {
    expect(retryDelayMs(undefined, "You exceeded your current quota ... Please retry in 26.374512831s.")).toBe(26375);
    expect(retryDelayMs(undefined, "Resource has been exhausted (e.g. check quota).")).toBeNull();
    expect(retryDelayMs([{ "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay: "soon" }])).toBeNull();
  });
});
