/** Circuit-breaker state; the gauge encodes closed 0, half-open 1, open 2. */
export type BreakerState = "closed" | "half_open" | "open";

export const BREAKER_STATE_VALUE: Record<BreakerState, number> = { closed: 0, half_open: 1, open: 2 };

export interface BreakerOptions {
  /** Consecutive failures that open the breaker. */
  failureThreshold: number;
  /** How long it stays open before one probe is let through. */
  cooldownMs: number;
  now: () => number;
  onStateChange?: (state: BreakerState) => void;
}

/**
 * Per-provider circuit breaker (pure; clock injected). A provider that keeps failing is not called for
 * `cooldownMs`, so alerts don't each wait out timeouts and quota isn't burnt on a dead service; then a
 * single probe decides whether it closes again.
 */
export class CircuitBreaker {
  private current: BreakerState = "closed";
  private failures = 0;
  private openedAt = 0;
  private probeInFlight = false;

  constructor(private readonly opts: BreakerOptions) {}

  get state(): BreakerState {
    return this.current;
  }

  /** True when a call would be refused right now (cheap check before queueing for quota). */
  isRejecting(): boolean {
    if (this.current === "open") return this.opts.now() - this.openedAt < this.opts.cooldownMs;
    return this.current === "half_open" && this.probeInFlight;
  }

  /** Ask to make one call. Open and cooled down → half-open with this call as the only probe. */
  tryAcquire(): boolean {
    if (this.current === "closed") return true;
    if (this.current === "open") {
      if (this.opts.now() - this.openedAt < this.opts.cooldownMs) return false;
      this.transition("half_open");
    }
    if (this.probeInFlight) return false;
    this.probeInFlight = true;
    return true;
  }

  /** The call worked: close and forget past failures. */
  onSuccess(): void {
    this.failures = 0;
    this.probeInFlight = false;
    this.transition("closed");
  }

  /** The call failed: a failed probe reopens at once; otherwise open after `failureThreshold` in a row. */
  onFailure(): void {
    if (this.current === "half_open") {
      this.probeInFlight = false;
      this.open();
      return;
    }
    if (this.current === "open") return; // a straggler from before opening
    this.failures++;
    if (this.failures >= this.opts.failureThreshold) this.open();
  }

  /** The call neither proved nor disproved health (e.g. a 429): free the probe slot, keep the state. */
  release(): void {
    this.probeInFlight = false;
  }

  /** Consecutive failures counted so far (for messages). */
  get consecutiveFailures(): number {
    return this.failures;
  }

  private open(): void {
    this.openedAt = this.opts.now();
    this.transition("open");
  }

  private transition(next: BreakerState): void {
    if (next === this.current) return;
    this.current = next;
    this.opts.onStateChange?.(next);
  }
}
