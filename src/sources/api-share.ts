/**
 * The HTTP API's bounded share of the model's daily request budget (HTTP_API_MODEL_SHARE × GEMINI_RPD), so that one
 * API client cannot spend GEMINI_RPD and leave Kafka alerts with degraded verdicts. Counted in alerts: an alert costs
 * at most one model request (an alert that looks like instructions is asked alone), so admitting at most
 * share × RPD API alerts per 24 hours keeps the API's spend under that share whatever it sends; cache hits and
 * multi-alert requests only make it cheaper.
 *
 * The count lives in a QuotaStore (alerts as "tokens" of a 24-hour sliding window), so with CACHE_URL=redis:// all
 * instances share one allowance, like the Gemini quota itself.
 */
import { modelTiers } from "../config/model.js";
import type { Config } from "../config/schema.js";
import type { QuotaStore, QuotaStoreFactory } from "../core/ports/index.js";

const DAY_MS = 86_400_000;

export type ShareOutcome = { ok: true } | { ok: false; retryAfterMs: number | null; message: string };

export class ApiModelShare {
  constructor(private readonly o: { store: QuotaStore; alertsPerDay: number; describe: string; now?: () => number }) {}

  get alertsPerDay(): number {
    return this.o.alertsPerDay;
  }

  /** Take n alerts of the allowance; refused with the wait until they fit (null: n never fits). */
  async take(n: number): Promise<ShareOutcome> {
    const limit = `${this.o.describe} = ${this.o.alertsPerDay} alerts per 24 h`;
    if (n > this.o.alertsPerDay)
      return {
        ok: false,
        retryAfterMs: null,
        message: `${n} alerts exceed the HTTP API's whole share of the model's daily requests (${limit}); split the batch`,
      };
    if (n === 0) return { ok: true };
    const now = (this.o.now ?? Date.now)();
    const r = await this.o.store.reserve(n, now);
    if (r.granted) {
      await this.o.store.finished(r.id, now);
      return { ok: true };
    }
    return {
      ok: false,
      retryAfterMs: r.waitMs ?? DAY_MS,
      message: `the HTTP API's share of the model's daily requests is spent (${limit}); Kafka alerts keep the rest`,
    };
  }
}

/**
 * The share from config: share × the smallest daily request budget among the model tiers in use (GEMINI_RPD with
 * GEMINI_API_KEY, OPENAI_RPD for an OpenAI-compatible tier); null when no tier has a daily budget to protect (rules
 * only, or every RPD 0).
 */
export function apiModelShare(
  config: Pick<Config, "GEMINI_API_KEY" | "GEMINI_RPD" | "HTTP_API_MODEL_SHARE" | "MODEL_PROVIDER" | "MODEL_TIERS" | "OPENAI_RPD">,
  quotaStores: QuotaStoreFactory,
): ApiModelShare | null {
  const budgets: { option: string; rpd: number }[] = [];
  for (const provider of modelTiers(config)) {
    if (provider === "gemini" && config.GEMINI_API_KEY && config.GEMINI_RPD > 0) budgets.push({ option: "GEMINI_RPD", rpd: config.GEMINI_RPD });
    if (provider === "openai" && config.OPENAI_RPD > 0) budgets.push({ option: "OPENAI_RPD", rpd: config.OPENAI_RPD });
  }
  if (budgets.length === 0) return null;
  const tightest = budgets.reduce((a, b) => (b.rpd < a.rpd ? b : a));
  const alertsPerDay = Math.floor(config.HTTP_API_MODEL_SHARE * tightest.rpd);
  return new ApiModelShare({
    store: quotaStores("http-api-share", { tpm: alertsPerDay, windowMs: DAY_MS }),
    alertsPerDay,
    describe: `HTTP_API_MODEL_SHARE=${config.HTTP_API_MODEL_SHARE} × ${tightest.option}=${tightest.rpd}`,
  });
}
