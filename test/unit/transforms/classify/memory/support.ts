// Shared by the verdict-memory unit tests: a scripted model behind the Classifier port, and a memory on memory://.
import { parseMemoryOptions } from "../../../../../src/config/memory.js";
import { KeyDeriver } from "../../../../../src/core/cache-keys.js";
import type { Classifier, EnrichedAlert, Caches } from "../../../../../src/core/ports/index.js";
import type { Classification, Decision } from "../../../../../src/core/verdict.js";
import { openCaches } from "../../../../../src/resources/cache.js";
import { createLogger } from "../../../../../src/telemetry/logger.js";
import { createMetrics, type Metrics } from "../../../../../src/telemetry/metrics.js";
import { keyOptionsFrom } from "../../../../../src/transforms/classify/cache/index.js";
import { applyGuard, type GuardOptions } from "../../../../../src/transforms/classify/guard.js";
import { createVerdictMemory, type MemoryClassifier, type VerdictMemory } from "../../../../../src/transforms/classify/memory/index.js";
import type { Alert } from "../../../../../src/core/alert.js";
import type { Enrichment } from "../../../../../src/core/enrichment.js";
import { cacheConfig, intel } from "../cache/support.js";

/** A model stand-in: answers by `decide`, records every call, can be held at a gate. */
export class ScriptedModel implements Classifier {
  readonly name = "gemini";
  readonly calls: string[][] = [];
  gate: Promise<void> | null = null;
  constructor(
    public decide: (item: EnrichedAlert) => { classification: Classification; severity?: Decision["severity"]; learnable?: boolean; degraded?: boolean },
    /** Like the real model classifier, pass every answer through the classify guard (off by default: the bare answer). */
    private readonly guard: GuardOptions | null = null,
  ) {}

  async classify(items: readonly EnrichedAlert[]): Promise<Decision[]> {
    this.calls.push(items.map((i) => i.alert.alert_id));
    if (this.gate) await this.gate;
    return items.map((item) => {
      const d = this.decide(item);
      const answer: Decision = {
        classification: d.classification,
        severity: d.severity ?? (d.classification === "true_positive" ? "high" : d.classification === "false_positive" ? "low" : "medium"),
        confidence: 80,
        reasoning: `Model: ${d.classification} for ${item.alert.user ?? "nobody"} on ${item.alert.host ?? "no host"}.`,
        source: "llm",
        recommended_actions: [],
        mitre_techniques: [],
        model: "gemini-test",
        prompt_version: "p-test",
        degraded: d.degraded ?? false,
        fallback_reason: null,
        learnable: d.learnable ?? true,
      };
      return this.guard ? applyGuard(item, answer, this.guard) : answer;
    });
  }

  get alertsAsked(): number {
    return this.calls.reduce((n, c) => n + c.length, 0);
  }
}

export interface MemoryHarness {
  memory: VerdictMemory;
  classifier: MemoryClassifier;
  model: ScriptedModel;
  metrics: Metrics;
  caches: Caches;
}

export const MEMORY_GUARD: GuardOptions = { abuseScoreMin: 90, vtMaliciousMin: 5 };

/** A memory in front of `model`, on `caches` (memory:// by default); env: MEMORY_* options. */
export async function memoryHarness(
  model: ScriptedModel,
  opts: {
    env?: Record<string, string>;
    caches?: Caches;
    prefix?: string;
    version?: { model: string; promptVersion: string };
    random?: () => number;
    guard?: GuardOptions;
  } = {},
): Promise<MemoryHarness> {
  const caches = opts.caches ?? (await openCaches("memory://"));
  const metrics = createMetrics({ defaultMetrics: false });
  const config = {
    ...parseMemoryOptions({ MEMORY_ASK_MAX_DELAY_MS: "0", MEMORY_SPOT_CHECK_RATE: "0", ...opts.env }),
    AI_CACHE_KEY_PREFIX: opts.prefix ?? "t:",
    GEMINI_MAX_ALERTS_PER_REQUEST: 25,
  };
  const memory = createVerdictMemory({
    config,
    caches,
    keys: new KeyDeriver(keyOptionsFrom(cacheConfig())),
    guard: opts.guard ?? MEMORY_GUARD,
    version: opts.version ?? { model: "gemini-test", promptVersion: "p-test" },
    metrics,
    logger: createLogger("silent"),
    random: opts.random ?? (() => 0.5),
  });
  return { memory, classifier: memory.wrap(model), model, metrics, caches };
}

/** Counter/gauge value with these labels (0 when never set). */
export async function metricValue(
  metric: { get(): Promise<{ values: { value: number; labels: Record<string, unknown> }[] }> },
  labels: Record<string, string> = {},
): Promise<number> {
  const { values } = await metric.get();
  return values.find((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))?.value ?? 0;
}

/** The rule an attacker-shaped test alert belongs to: its name, id prefix, description and fields. */
export interface ProbeKind {
  prefix: string;
  name: string;
  description: string;
  fields: Record<string, unknown>;
}

export const SHARE_ACCESS: Omit<ProbeKind, "prefix"> = {
  name: "Suspicious file share access",
  description: "routine share access",
  fields: { files_touched: 3 },
};

let probeSeq = 0;
/**
 * One alert of `kind` as an attacker shapes it: a fresh id, user and host per call, everything else as the kind
 * says unless `over` says otherwise; threat intel of a low-reputation source by default (none without an address).
 */
export function probeAlert(
  kind: ProbeKind,
  ip: string | null,
  over: Partial<Alert> = {},
  enrichment: Enrichment | null = ip === null ? null : intel(5, 0, ip),
): EnrichedAlert {
  probeSeq++;
  return {
    alert: {
      alert_id: `${kind.prefix}-${probeSeq}`,
      alert_name: kind.name,
      severity: "medium",
      source_ip: ip,
      destination_ip: "10.0.0.5",
      user: `user${probeSeq}`,
      host: `ws-${probeSeq}`,
      timestamp: null,
      description: kind.description,
      format: "native",
      fields: kind.fields,
      ...over,
    },
    enrichment,
  };
}

/** A ScriptedModel that holds the first request `when` matches until `release()`; `reached` resolves once it is held. */
export class HeldModel extends ScriptedModel {
  private armed = true;
  private open!: () => void;
  private hit!: () => void;
  readonly reached = new Promise<void>((r) => (this.hit = r));
  private readonly held = new Promise<void>((r) => (this.open = r));
  constructor(
    decide: ConstructorParameters<typeof ScriptedModel>[0],
    private readonly when: (items: readonly EnrichedAlert[]) => boolean,
  ) {
    super(decide);
  }
  release(): void {
    this.open();
  }
  override async classify(items: readonly EnrichedAlert[]): Promise<Decision[]> {
    if (this.armed && this.when(items)) {
      this.armed = false;
      this.hit();
      await this.held;
    }
    return super.classify(items);
  }
}

/** Let other calls run for `n` turns of the event loop (timers of 0 ms included), e.g. up to their next wait. */
export async function ticks(n = 20): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise<void>((r) => setImmediate(r));
}
