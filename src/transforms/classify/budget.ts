/**
 * Daily spend governor: requests reserve their estimated cost before they are sent and settle the real cost
 * after, so concurrent requests cannot overshoot TRIAGE_DAILY_BUDGET_USD. It also remembers a spent request
 * quota (RPD) until the day changes. Days end at midnight Pacific, when Google resets RPD.
 */

const pacificDate = new Intl.DateTimeFormat("en-CA", { timeZone: "America/Los_Angeles", year: "numeric", month: "2-digit", day: "2-digit" });

/** Calendar day in Pacific time (YYYY-MM-DD): Gemini's RPD reset boundary. */
export function pacificDay(nowMs: number): string {
  return pacificDate.format(new Date(nowMs));
}

export interface BudgetOptions {
  /** USD allowed per day; 0 = no spend limit. */
  dailyBudgetUsd: number;
  /** Spend shared by all instances (Redis); absent = this process's spend only. */
  ledger?: { add(day: string, usd: number): void; total(day: string): number };
  dayKey?: (nowMs: number) => string;
  now?: () => number;
}

/** A granted reservation, to settle or release. */
export interface SpendReservation {
  day: string;
  estimateUsd: number;
}

/** Built once per process with the classifier; decides whether a model request may still be paid for today. */
export class BudgetGovernor {
  private day = "";
  private spent = 0;
  private reserved = 0;
  private requestsSpentReason: string | null = null;
  private readonly dayKey: (nowMs: number) => string;
  private readonly now: () => number;

  constructor(private readonly opts: BudgetOptions) {
    this.dayKey = opts.dayKey ?? pacificDay;
    this.now = opts.now ?? Date.now;
  }

  /** USD settled today (by the whole deployment when a shared ledger is configured). */
  get spentUsd(): number {
    this.roll();
    return this.spentToday();
  }

  private spentToday(): number {
    return this.opts.ledger ? Math.max(this.spent, this.opts.ledger.total(this.day)) : this.spent;
  }

  /** Why no model request may be made now (budget or request quota spent), or null. */
  exhaustedReason(): string | null {
    this.roll();
    if (this.requestsSpentReason) return this.requestsSpentReason;
    const budget = this.opts.dailyBudgetUsd;
    if (budget > 0 && this.spentToday() >= budget) return this.budgetReason();
    return null;
  }

  /** Reserve a request's estimated cost; null when it would exceed today's budget. */
  tryReserve(estimateUsd: number): SpendReservation | null {
    this.roll();
    const budget = this.opts.dailyBudgetUsd;
    if (this.requestsSpentReason) return null;
    if (budget > 0 && this.spentToday() + this.reserved + estimateUsd > budget) return null;
    this.reserved += estimateUsd;
    return { day: this.day, estimateUsd };
  }

  /** Replace a reservation by the real cost. */
  settle(r: SpendReservation, actualUsd: number): void {
    this.roll();
    if (r.day !== this.day) return; // yesterday's request: today's budget starts clean
    this.reserved = Math.max(0, this.reserved - r.estimateUsd);
    this.spent += actualUsd;
    this.opts.ledger?.add(r.day, actualUsd);
  }

  /** Drop a reservation whose request was never sent. */
  release(r: SpendReservation): void {
    this.settle(r, 0);
  }

  /** Remember until the day changes that the request quota is spent (our RPD limit or the server's). */
  markRequestsSpent(reason: string): void {
    this.roll();
    this.requestsSpentReason = reason;
  }

  /** Human text for verdicts and logs. */
  budgetReason(): string {
    return (
      `daily model budget spent (TRIAGE_DAILY_BUDGET_USD=${this.opts.dailyBudgetUsd}, $${this.spentToday().toFixed(4)} used today; resets at ` +
      `midnight Pacific)`
    );
  }

  private roll(): void {
    const day = this.dayKey(this.now());
    if (day === this.day) return;
    this.day = day;
    this.spent = 0;
    this.reserved = 0;
    this.requestsSpentReason = null;
  }
}
