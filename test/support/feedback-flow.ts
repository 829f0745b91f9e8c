// The verdict cache with the feedback flow in front of its overrides, wired as main.ts wires them, for tests that
// apply overrides and watch the updated verdicts reach the sink.
import type { VerdictSink } from "../../src/core/ports/index.js";
import { FeedbackFlow } from "../../src/feedback-flow.js";
import { Telemetry } from "../../src/telemetry/events.js";
import { createVerdictCache, type VerdictCache, type VerdictCacheDeps } from "../../src/transforms/classify/cache/index.js";

export type CacheWithFlow = VerdictCache & Pick<FeedbackFlow, "applyOverride" | "applyFeedback" | "submitOverride">;

export function createVerdictCacheWithFlow(deps: VerdictCacheDeps & { verdictSink: VerdictSink; sinkRetryDeadlineMs?: number }): CacheWithFlow {
  const { verdictSink, sinkRetryDeadlineMs, ...cacheDeps } = deps;
  const cache = createVerdictCache(cacheDeps);
  const flow = new FeedbackFlow({
    overrides: cache,
    verdictSink,
    publishFeedback: deps.publishFeedback ?? null,
    telemetry: new Telemetry(deps.metrics, deps.logger, "test"),
    sinkRetryDeadlineMs: sinkRetryDeadlineMs ?? 1000,
    ...(deps.now ? { now: deps.now } : {}),
  });
  return {
    keys: cache.keys,
    wrap: (inner) => cache.wrap(inner),
    prepareOverride: (o) => cache.prepareOverride(o),
    storeResolved: (r) => cache.storeResolved(r),
    applyOverride: (o) => flow.applyOverride(o),
    applyFeedback: (r) => flow.applyFeedback(r),
    submitOverride: (o) => flow.submitOverride(o),
  };
}
