/**
 * The one place that states stage order:
 *   source → normalize (decode + validate; bad → dead letter) → priority batch → enrich → classify → verdict sink
 * and acknowledges each record to its source only after its verdict or dead letter is durably written.
 * The second flow (analyst feedback → override → updated verdict → verdict sink) is stated in feedback-flow.ts.
 */
import type { Alert } from "./core/alert.js";
import { asTriageError, type TriageError } from "./core/errors.js";
import type {
  AlertSource,
  Classifier,
  DeadLetter,
  DeadLetterSink,
  Enricher,
  EnrichedAlert,
  RecordIntake,
  RecordOutcome,
  SourceRecord,
  VerdictSink,
} from "./core/ports/index.js";
import { severityRank, SEVERITIES } from "./core/severity.js";
import { VERDICT_SCHEMA_VERSION, type Decision, type Verdict } from "./core/verdict.js";
import { withRetry } from "./resources/retry.js";
import type { Telemetry } from "./telemetry/events.js";
import { PriorityBatcher } from "./transforms/batch/priority-batcher.js";
import { degradedByRules } from "./transforms/classify/rules.js";
import type { Normalizer } from "./transforms/normalize/index.js";

export interface PipelineOptions {
  batchMaxSize: number;
  batchMaxDelayMs: number;
  maxInflight: number;
  concurrency: number;
  sinkRetryDeadlineMs: number;
}

export interface PipelineStages {
  source: AlertSource;
  normalizer: Normalizer;
  enricher: Enricher;
  classifier: Classifier;
  verdictSink: VerdictSink;
  deadLetterSink: DeadLetterSink;
}

interface Pending {
  alert: Alert;
  record: SourceRecord;
}

/** No threat intel: the enrich port until providers are configured. */
export const noEnrichment: Enricher = { enrich: async (alerts) => alerts.map((alert) => ({ alert, enrichment: null })) };

export class Pipeline implements RecordIntake {
  private readonly batcher: PriorityBatcher<Pending>;
  private inflight = 0;
  /** Received since the last telemetry flush (counted per pump, not per record). */
  private received = 0;
  private activeBatches = 0;
  private pumpScheduled = false;
  private ageTimer: NodeJS.Timeout | undefined;
  private draining = false;
  private capacityWaiters: (() => void)[] = [];
  /** Batches waiting to enter the window whole (HTTP API), first come first served, and the slots they need. */
  private admissions: { records: readonly SourceRecord[]; admitted: () => void }[] = [];
  private held = 0;
  private drainWaiters: (() => void)[] = [];
  private deadLetters: { letter: DeadLetter; record: SourceRecord }[] = [];
  private dlqFlushScheduled = false;
  private readonly abort = new AbortController();
  private fatalError: TriageError | undefined;
  private readonly fatalListeners: ((err: TriageError) => void)[] = [];

  constructor(
    private readonly stages: PipelineStages,
    private readonly opts: PipelineOptions,
    private readonly telemetry: Telemetry,
    private readonly now: () => number = Date.now,
  ) {
    this.batcher = new PriorityBatcher<Pending>({
      maxSize: opts.batchMaxSize,
      maxDelayMs: opts.batchMaxDelayMs,
      levels: SEVERITIES.length,
      levelOf: (p) => severityRank[p.alert.severity],
    });
  }

  /** Start the source; records flow until stop(). */
  async start(): Promise<void> {
    await this.stages.source.start(this);
  }

  // ── RecordIntake: the source side ────────────────────────────────────────────

  push(record: SourceRecord): void {
    this.inflight++;
    this.received++;
    // Stage: normalize.
    const result = this.stages.normalizer.normalize(record.value, record.full?.bytes);
    if (!result.ok) {
      const letter: DeadLetter = { value: record.value, code: result.code, message: result.message, origin: record.origin, failedAtMs: this.now() };
      if (record.full) letter.full = record.full;
      this.deadLetters.push({ record, letter });
      this.scheduleDlqFlush();
      return;
    }
    // Stage: batch.
    this.batcher.add({ alert: result.value, record }, this.now());
    this.schedulePump();
  }

  /** Room for one more record; while a batch waits for admission its slots count as taken, so it cannot be starved. */
  hasCapacity(): boolean {
    return this.inflight + this.held < this.opts.maxInflight;
  }

  /** The read-ahead window (MAX_INFLIGHT_ALERTS): a batch larger than this can never be admitted. */
  get windowSize(): number {
    return this.opts.maxInflight;
  }

  /**
   * Push records as one unit once all of them fit the read-ahead window. Resolves true once pushed, false (nothing
   * pushed) when they can never fit or waitMs passes first.
   */
  pushAll(records: readonly SourceRecord[], waitMs: number): Promise<boolean> {
    const n = records.length;
    if (n > this.opts.maxInflight) return Promise.resolve(false);
    return new Promise((resolve) => {
      const entry = {
        records,
        admitted: () => {
          clearTimeout(timer);
          resolve(true);
        },
      };
      const timer = setTimeout(() => {
        this.admissions = this.admissions.filter((a) => a !== entry);
        this.held -= n;
        resolve(false);
        this.admitWaiting();
      }, waitMs);
      this.admissions.push(entry);
      this.held += n;
      this.admitWaiting();
    });
  }

  private admitWaiting(): void {
    while (this.admissions.length > 0 && this.inflight + this.admissions[0]!.records.length <= this.opts.maxInflight) {
      const head = this.admissions.shift()!;
      this.held -= head.records.length;
      for (const r of head.records) this.push(r);
      head.admitted();
    }
    if (this.hasCapacity() && this.capacityWaiters.length > 0) {
      const waiters = this.capacityWaiters;
      this.capacityWaiters = [];
      for (const w of waiters) w();
    }
  }

  whenCapacity(): Promise<void> {
    if (this.hasCapacity()) return Promise.resolve();
    return new Promise((resolve) => this.capacityWaiters.push(resolve));
  }

  /** Records read and not yet acknowledged. */
  get inFlight(): number {
    return this.inflight;
  }

  /** Called once when the pipeline cannot go on (a sink stayed down past its deadline). */
  onFatal(listener: (err: TriageError) => void): void {
    this.fatalListeners.push(listener);
    if (this.fatalError) listener(this.fatalError);
  }

  /** Flush everything still buffered and resolve when nothing is in flight. */
  drain(): Promise<void> {
    this.draining = true;
    this.schedulePump();
    if (this.inflight === 0 || this.fatalError) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  /** Abort retries in progress (used when the shutdown deadline passes). */
  abortRetries(): void {
    this.abort.abort();
  }

  // ── batch → enrich → classify → sink ─────────────────────────────────────────

  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    // Deferred so a whole fetched batch is buffered before micro-batches form: urgent records overtake.
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  private pump(): void {
    if (this.received > 0) {
      this.telemetry.recordsReceived(this.received);
      this.received = 0;
    }
    if (this.fatalError) return;
    while (this.activeBatches < this.opts.concurrency) {
      const batch = this.batcher.take(this.now(), this.draining);
      if (!batch) break;
      this.activeBatches++;
      void this.processBatch(batch).finally(() => {
        this.activeBatches--;
        this.pump();
      });
    }
    this.armAgeTimer();
  }

  private armAgeTimer(): void {
    if (this.ageTimer) clearTimeout(this.ageTimer);
    this.ageTimer = undefined;
    const due = this.batcher.nextDueAtMs();
    if (due === null || this.activeBatches >= this.opts.concurrency) return;
    this.ageTimer = setTimeout(() => this.pump(), Math.max(0, due - this.now()));
  }

  private async processBatch(batch: Pending[]): Promise<void> {
    const alerts = batch.map((p) => p.alert);
    const seconds: Record<string, number> = {};
    const timed = async <T>(stage: string, fn: () => Promise<T>): Promise<T> => {
      const t0 = performance.now();
      try {
        return await fn();
      } finally {
        seconds[stage] = (performance.now() - t0) / 1000;
      }
    };
    try {
      const enriched = await timed("enrich", () => this.enrich(alerts));
      const decisions = await timed("classify", () => this.classify(enriched));
      const classifiedAt = new Date(this.now()).toISOString();
      const verdicts = batch.map((p, i) => toVerdict(enriched[i]!, decisions[i]!, p.record.receivedAtMs, classifiedAt));
      await timed("sink", () =>
        withRetry("sink", () => this.stages.verdictSink.publish(verdicts), {
          deadlineMs: this.opts.sinkRetryDeadlineMs,
          signal: this.abort.signal,
          onRetry: (e, n) => this.telemetry.sinkRetry("sink", e.code, n, e.message),
        }),
      );
      this.telemetry.batchProcessed(
        verdicts,
        seconds,
        batch.map((p) => p.record.receivedAtMs),
        this.now(),
      );
      this.acknowledge(batch.map((p, i) => [p.record, { verdict: verdicts[i]! }]));
    } catch (err) {
      this.fail(asTriageError(err, "sink"));
    }
  }

  /** Enrichment problems never stop an alert: on an unexpected failure the batch goes on without TI. */
  private async enrich(alerts: Alert[]): Promise<EnrichedAlert[]> {
    try {
      return await this.stages.enricher.enrich(alerts);
    } catch {
      return alerts.map((alert) => ({ alert, enrichment: null }));
    }
  }

  /** A classifier that throws or answers short still yields one decision per alert (rules, flagged degraded). */
  private async classify(items: EnrichedAlert[]): Promise<Decision[]> {
    let decisions: Decision[] = [];
    let reason = "";
    try {
      decisions = await this.stages.classifier.classify(items);
    } catch (err) {
      reason = `${this.stages.classifier.name} failed: ${asTriageError(err, "classify").message}`;
    }
    return items.map((item, i) => decisions[i] ?? degradedByRules(item, reason || `${this.stages.classifier.name} returned no decision`));
  }

  // ── dead letters ─────────────────────────────────────────────────────────────

  private scheduleDlqFlush(): void {
    this.schedulePump(); // flushes the received counter too
    if (this.dlqFlushScheduled) return;
    this.dlqFlushScheduled = true;
    setImmediate(() => {
      this.dlqFlushScheduled = false;
      void this.flushDeadLetters();
    });
  }

  private async flushDeadLetters(): Promise<void> {
    const chunk = this.deadLetters;
    this.deadLetters = [];
    if (chunk.length === 0) return;
    const letters = chunk.map((c) => c.letter);
    try {
      await withRetry("dlq", () => this.stages.deadLetterSink.write(letters), {
        deadlineMs: this.opts.sinkRetryDeadlineMs,
        signal: this.abort.signal,
        onRetry: (e, n) => this.telemetry.sinkRetry("dlq", e.code, n, e.message),
      });
      this.telemetry.deadLettered(letters);
      this.acknowledge(chunk.map((c) => [c.record, { deadLetter: c.letter }]));
    } catch (err) {
      this.fail(asTriageError(err, "dlq"));
    }
  }

  // ── acknowledgement and window ───────────────────────────────────────────────

  private acknowledge(records: [SourceRecord, RecordOutcome][]): void {
    for (const [r, outcome] of records) r.ack(outcome);
    this.inflight -= records.length;
    this.telemetry.inflight(this.inflight);
    this.admitWaiting();
    if (this.inflight === 0 && this.drainWaiters.length > 0) {
      const waiters = this.drainWaiters;
      this.drainWaiters = [];
      for (const w of waiters) w();
    }
  }

  private fail(err: TriageError): void {
    if (this.fatalError) return;
    this.fatalError = err;
    // Nothing more will be acknowledged: release drain waiters so shutdown can proceed without committing.
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const w of waiters) w();
    for (const l of this.fatalListeners) l(err);
  }
}

/** Stamp a decision with the alert, its TI and the times. */
export function toVerdict(item: EnrichedAlert, decision: Decision, receivedAtMs: number, classifiedAt: string): Verdict {
  return {
    schema_version: VERDICT_SCHEMA_VERSION,
    alert_id: item.alert.alert_id,
    ...decision,
    enrichment: item.enrichment,
    alert: item.alert,
    received_at: new Date(receivedAtMs).toISOString(),
    classified_at: classifiedAt,
  };
}
