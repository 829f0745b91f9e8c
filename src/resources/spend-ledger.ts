import type { RedisLike } from "./redis-quota-store.js";

/**
 * Daily model spend shared by every instance through Redis, so TRIAGE_DAILY_BUDGET_USD holds for the whole
 * deployment, not per process. Adds are flushed and the day's total read back every syncMs; between syncs a
 * governor sees its own spend at once and the others' up to syncMs late (overshoot bounded by that much spend).
 */
export class RedisSpendLedger {
  private pending = new Map<string, number>();
  private totals = new Map<string, number>();
  private timer: NodeJS.Timeout;

  constructor(
    private readonly client: RedisLike & {
      incrByFloat(key: string, by: number): Promise<unknown>;
      get(key: string): Promise<string | null>;
      expire(key: string, seconds: number): Promise<unknown>;
    },
    private readonly prefix: string,
    syncMs = 1000,
  ) {
    this.timer = setInterval(() => void this.sync(), syncMs);
    this.timer.unref();
  }

  /** Record spend for a day (flushed on the next sync). */
  add(day: string, usd: number): void {
    if (usd > 0) this.pending.set(day, (this.pending.get(day) ?? 0) + usd);
  }

  /** The deployment's spend for the day as of the last sync (plus what this process has not flushed yet). */
  total(day: string): number {
    return (this.totals.get(day) ?? 0) + (this.pending.get(day) ?? 0);
  }

  /** Flush pending adds and refresh totals; Redis errors keep the adds for the next try. */
  async sync(): Promise<void> {
    const adds = this.pending;
    this.pending = new Map();
    try {
      for (const [day, usd] of adds) {
        const key = `${this.prefix}:${day}`;
        await this.client.incrByFloat(key, usd);
        await this.client.expire(key, 3 * 86_400);
      }
      const days = new Set([...adds.keys(), ...this.totals.keys()]);
      for (const day of days) this.totals.set(day, Number((await this.client.get(`${this.prefix}:${day}`)) ?? 0));
    } catch {
      for (const [day, usd] of adds) this.pending.set(day, (this.pending.get(day) ?? 0) + usd);
    }
  }

  /** Start tracking a day's total (first read). */
  async load(day: string): Promise<void> {
    if (!this.totals.has(day)) this.totals.set(day, 0);
    await this.sync();
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

/** What the budget governor needs from a shared ledger. */
export interface SpendLedger {
  add(day: string, usd: number): void;
  total(day: string): number;
}
