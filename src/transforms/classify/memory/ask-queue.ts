/**
 * The alerts the memory cannot answer, gathered across concurrent classify calls into full model requests: with
 * most alerts answered from memory, each batch has only a few to ask, and asking them per batch would spend one
 * request on two alerts. A request goes when it is full, when its oldest alert has waited maxDelayMs, or at once
 * when a critical alert is waiting (critical alerts are never held up). Spot checks ride in the room left in a
 * request that goes anyway — never ahead of an unanswered alert — or, when a full request of them has queued and no
 * alert is waiting, as a request of their own. The queue of spot checks is bounded (the oldest is dropped).
 */
import type { EnrichedAlert } from "../../../core/ports/index.js";
import type { Decision } from "../../../core/verdict.js";

export interface AskQueueOptions {
  maxPerRequest: number;
  maxDelayMs: number;
  maxQueuedSpotChecks: number;
}

/** What the queue calls to ask the model (never throws: the caller's rules fallback is inside). */
export type AskModel = (items: EnrichedAlert[]) => Promise<Decision[]>;

interface Waiting {
  item: EnrichedAlert;
  resolve(d: Decision): void;
}

interface SpotCheck {
  item: EnrichedAlert;
  done(d: Decision | null): void;
}

export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const realTimers: Timers = { setTimeout: (fn, ms) => setTimeout(fn, ms), clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout) };

export class AskQueue {
  private asks: Waiting[] = [];
  private spots: SpotCheck[] = [];
  private timer: unknown = null;
  private readonly running = new Set<Promise<void>>();
  /** Spot checks dropped because the queue was full. */
  dropped = 0;

  constructor(
    private readonly askModel: AskModel,
    private readonly o: AskQueueOptions,
    private readonly timers: Timers = realTimers,
  ) {}

  /** Ask about these alerts (in the next request that goes); urgent = a critical alert is among them. */
  submit(items: readonly EnrichedAlert[], urgent: boolean): Promise<Decision[]> {
    if (items.length === 0) return Promise.resolve([]);
    const answers = items.map((item) => new Promise<Decision>((resolve) => this.asks.push({ item, resolve })));
    if (urgent) this.flushAll();
    else {
      while (this.asks.length >= this.o.maxPerRequest) this.send(this.asks.splice(0, this.o.maxPerRequest));
      if (this.asks.length > 0 && this.timer === null) this.timer = this.timers.setTimeout(() => this.onTimer(), this.o.maxDelayMs);
    }
    return Promise.all(answers);
  }

  /** Ask the model about an alert memory answered, when there is room; `done(null)` if dropped. */
  spotCheck(item: EnrichedAlert, done: (d: Decision | null) => void): void {
    this.spots.push({ item, done });
    while (this.spots.length > this.o.maxQueuedSpotChecks) {
      this.dropped++;
      this.spots.shift()!.done(null);
    }
    if (this.asks.length === 0 && this.spots.length >= this.o.maxPerRequest) this.send([]);
  }

  /** Send everything queued, spot checks included, and wait for every request in flight (shutdown, benchmarks, tests). */
  async drain(): Promise<void> {
    this.flushAll();
    while (this.spots.length > 0) this.send([]);
    while (this.running.size > 0) await Promise.all([...this.running]);
  }

  /** Alerts and spot checks waiting (for tests and the size gauge). */
  get queued(): { asks: number; spotChecks: number } {
    return { asks: this.asks.length, spotChecks: this.spots.length };
  }

  private onTimer(): void {
    this.timer = null;
    this.flushAll();
  }

  private flushAll(): void {
    if (this.timer !== null) {
      this.timers.clearTimeout(this.timer);
      this.timer = null;
    }
    while (this.asks.length > 0) this.send(this.asks.splice(0, this.o.maxPerRequest));
  }

  private send(asks: Waiting[]): void {
    const spots = this.spots.splice(0, Math.max(0, this.o.maxPerRequest - asks.length));
    if (asks.length === 0 && spots.length === 0) return;
    const run = this.askModel([...asks.map((a) => a.item), ...spots.map((s) => s.item)]).then(
      (ds) => {
        asks.forEach((a, j) => {
          a.resolve(ds[j]!);
        });
        spots.forEach((s, j) => {
          s.done(ds[asks.length + j] ?? null);
        });
      },
      // askModel never throws; should it, nothing waits forever (the asks get no decision: a bug surfaces upstream).
      (err: unknown) => {
        for (const s of spots) s.done(null);
        throw err;
      },
    );
    const tracked = run.finally(() => this.running.delete(tracked));
    this.running.add(tracked);
    tracked.catch(() => {});
  }
}
