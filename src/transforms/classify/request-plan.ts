/**
 * Splits a batch of alerts into model requests (pure): at most maxAlerts per request, within an estimated
 * prompt-token budget, sizes evened out so a batch of 30 becomes 15 + 15 rather than 25 + 5. Critical alerts go
 * in smaller requests (topped up with the next most urgent alerts, so no request is spent on one or two alerts),
 * returned first and given a higher limiter priority. An alert marked `alone` (its content looks like instructions)
 * always gets a request of its own: whatever it says can then only reach its own answer. Those requests come last, at
 * ISOLATED_PRIORITY, below every other request whatever severity the alert claims: its author sets the severity, and
 * a flood of them must not push ordinary alerts out of the quota (the classifier also caps their rate).
 */

/** Limiter priority of an isolated (instruction-like) alert's request: below every planned request (info is 0). */
export const ISOLATED_PRIORITY = -1;

export interface PlannableAlert {
  /** Severity rank: 0 = critical ... 4 = info. */
  rank: number;
  /** Estimated prompt tokens of this alert's line. */
  tokens: number;
  /** Never asked together with other alerts. */
  alone?: boolean;
}

export interface RequestPlanOptions {
  maxAlerts: number;
  criticalMaxAlerts: number;
  /** Prompt-token budget of one request, fixed overhead included. */
  maxInputTokens: number;
  /** Fixed prompt tokens paid by every request (system instruction, framing). */
  overheadTokens: number;
}

/** One planned request and its limiter priority (higher runs first). */
export interface PlannedRequest<T> {
  alerts: T[];
  priority: number;
}

/** Plan requests for alerts; every alert lands in exactly one request. */
export function planRequests<T extends PlannableAlert>(alerts: readonly T[], opts: RequestPlanOptions): PlannedRequest<T>[] {
  const sorted = [...alerts].sort((a, b) => a.rank - b.rank);
  const isolated = sorted.filter((a) => a.alone === true).map((a) => [a]);
  const shared = sorted.filter((a) => a.alone !== true);
  const critical = shared.filter((a) => a.rank === 0).length;
  const small = Math.max(1, Math.min(opts.criticalMaxAlerts, opts.maxAlerts));
  const urgent = critical === 0 ? 0 : Math.min(shared.length, Math.ceil(critical / small) * small);
  const planned = [...pack(shared.slice(0, urgent), small, opts), ...pack(shared.slice(urgent), opts.maxAlerts, opts)].map((chunk) => ({
    alerts: chunk,
    priority: 4 - Math.min(...chunk.map((a) => a.rank)),
  }));
  return [...planned, ...isolated.map((chunk) => ({ alerts: chunk, priority: ISOLATED_PRIORITY }))];
}

function pack<T extends PlannableAlert>(alerts: readonly T[], maxAlerts: number, opts: RequestPlanOptions): T[][] {
  if (alerts.length === 0) return [];
  const budget = Math.max(1, opts.maxInputTokens - opts.overheadTokens);
  const total = alerts.reduce((n, a) => n + a.tokens, 0);
  const count = Math.max(Math.ceil(alerts.length / Math.max(1, maxAlerts)), Math.ceil(total / budget));
  const target = Math.ceil(alerts.length / count);
  const chunks: T[][] = [];
  let chunk: T[] = [];
  let tokens = 0;
  for (const a of alerts) {
    // An alert larger than the whole budget still goes, alone (its line was already truncated to GEMINI_MAX_ALERT_CHARS).
    if (chunk.length > 0 && (chunk.length >= target || tokens + a.tokens > budget)) {
      chunks.push(chunk);
      chunk = [];
      tokens = 0;
    }
    chunk.push(a);
    tokens += a.tokens;
  }
  chunks.push(chunk);
  return chunks;
}
