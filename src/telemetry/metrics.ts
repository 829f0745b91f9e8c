import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

const latencyBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

/** Every metric we export, on one registry (one per process; tests build their own). */
export function createMetrics(opts: { defaultMetrics?: boolean } = {}) {
  const registry = new Registry();
  if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  const r = [registry];
  return {
    registry,
    alertsReceived: new Counter({ name: "triage_alerts_received_total", help: "Input records received (valid or not)", labelNames: ["source"], registers: r }),
    verdictsPublished: new Counter({
      name: "triage_verdicts_published_total",
      help: "Verdicts published",
      labelNames: ["source", "classification"],
      registers: r,
    }),
    dlqRecords: new Counter({ name: "triage_dlq_records_total", help: "Records sent to the dead-letter sink", labelNames: ["reason"], registers: r }),
    alertLatency: new Histogram({ name: "triage_alert_latency_seconds", help: "Receipt to verdict published", buckets: latencyBuckets, registers: r }),
    stageDuration: new Histogram({
      name: "triage_stage_duration_seconds",
      help: "Time spent per micro-batch in each stage",
      labelNames: ["stage"],
      buckets: latencyBuckets,
      registers: r,
    }),
    cacheRequests: new Counter({ name: "triage_cache_requests_total", help: "Cache lookups", labelNames: ["cache", "result"], registers: r }),
    cacheEntries: new Gauge({
      name: "triage_cache_entries",
      help: "Entries written to a cache by this process and not yet expired (approximate)",
      labelNames: ["cache"],
      registers: r,
    }),
    cacheEvictions: new Counter({
      name: "triage_cache_evictions_total",
      help: "Cache entries dropped for size/age bounds or stale policy",
      labelNames: ["cache"],
      registers: r,
    }),
    sinkRetries: new Counter({
      name: "triage_sink_retries_total",
      help: "Failed writes to a sink that were retried (verdicts, dead letters, feedback), by stage and error code",
      labelNames: ["stage", "code"],
      registers: r,
    }),
    analystOverrides: new Counter({
      name: "triage_analyst_overrides_total",
      help: "Analyst overrides by agreement with the verdict they replace",
      labelNames: ["agreement"],
      registers: r,
    }),
    limiterWait: new Histogram({
      name: "triage_limiter_wait_seconds",
      help: "Time a request waited in a rate limiter",
      labelNames: ["limiter"],
      buckets: latencyBuckets,
      registers: r,
    }),
    limiterThrottled: new Counter({
      name: "triage_limiter_throttled_total",
      help: "Requests a rate limiter held back (once per request), by why: rpm, tpm, or paused (after a 429)",
      labelNames: ["limiter", "reason"],
      registers: r,
    }),
    llmRequests: new Counter({
      name: "triage_llm_requests_total",
      help: "Model requests by outcome (tier: first/escalation with MODEL_TIERS, else absent)",
      labelNames: ["outcome", "tier"],
      registers: r,
    }),
    llmAlertsPerRequest: new Histogram({
      name: "triage_llm_alerts_per_request",
      help: "Alerts classified per model request",
      labelNames: ["tier"],
      buckets: [1, 2, 5, 10, 15, 20, 25, 50, 100],
      registers: r,
    }),
    llmTokens: new Counter({
      name: "triage_llm_tokens_total",
      help: "Model tokens by kind: prompt (all input), cached (input served from the context cache, part of prompt), output, thoughts",
      labelNames: ["kind", "tier"],
      registers: r,
    }),
    llmCostUsd: new Counter({ name: "triage_llm_cost_usd_total", help: "Estimated model spend in USD", labelNames: ["tier"], registers: r }),
    llmIsolatedCapped: new Counter({
      name: "triage_llm_isolated_capped_total",
      help: "Alerts whose text looks like instructions given needs_review without a model call: LLM_ISOLATED_REQUESTS_PER_MINUTE reached",
      labelNames: ["tier"],
      registers: r,
    }),
    tierEscalations: new Counter({
      name: "triage_tier_escalations_total",
      help: "Alerts sent to the escalation model tier, by reason (critical, injection, needs_review, low_confidence, degraded)",
      labelNames: ["reason"],
      registers: r,
    }),
    tierDecisions: new Counter({
      name: "triage_tier_decisions_total",
      help: "Alerts decided per model tier (none = rules fallback)",
      labelNames: ["tier"],
      registers: r,
    }),
    tiRequests: new Counter({ name: "triage_ti_requests_total", help: "Threat-intel provider requests", labelNames: ["provider", "outcome"], registers: r }),
    breakerState: new Gauge({
      name: "triage_circuit_breaker_state",
      help: "Circuit breaker state (0 closed, 1 half-open, 2 open)",
      labelNames: ["provider"],
      registers: r,
    }),
    consumerLag: new Gauge({
      name: "triage_consumer_lag",
      help: "Messages between the committed offset and the partition end",
      labelNames: ["topic", "partition"],
      registers: r,
    }),
    inflightAlerts: new Gauge({ name: "triage_inflight_alerts", help: "Records read and not yet acknowledged", registers: r }),
    batchSize: new Histogram({ name: "triage_batch_size", help: "Alerts per micro-batch", buckets: [1, 5, 10, 25, 50, 100, 250, 500, 1000], registers: r }),
    memoryAnswered: new Counter({ name: "triage_memory_answered_total", help: "Alerts answered from the verdict memory", registers: r }),
    memoryAsked: new Counter({
      name: "triage_memory_asked_total",
      help: "Alerts the verdict memory sent to the model, by why it could not answer",
      labelNames: ["reason"],
      registers: r,
    }),
    memorySpotChecks: new Counter({
      name: "triage_memory_spot_checks_total",
      help: "Memory answers also asked of the model, by whether the model agreed",
      labelNames: ["outcome"],
      registers: r,
    }),
    memoryAgreement: new Gauge({
      name: "triage_memory_agreement_ratio",
      help: "Share of spot checks in which the model agreed with the memory (0-1)",
      registers: r,
    }),
    memorySize: new Gauge({
      name: "triage_memory_size",
      help: "Verdict memory held by this process: rules, examples, leaves",
      labelNames: ["kind"],
      registers: r,
    }),
    ready: new Gauge({ name: "triage_ready", help: "1 when the service is ready (consumer joined, producer connected, caches open)", registers: r }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
