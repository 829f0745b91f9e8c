/** Limits of one upstream quota (a Gemini project, a TI API key). Unset = unlimited. */
export interface QuotaLimits {
  /** Requests per window. */
  rpm?: number;
  /** Tokens per window (Gemini input tokens). */
  tpm?: number;
  /** Requests per day. */
  rpd?: number;
  /** Length of the rpm/tpm window; 60000 in production, shorter in tests. */
  windowMs?: number;
}

/** Outcome of asking the quota store for room. */
export type Reservation =
  | { granted: true; id: number }
  | { granted: false; waitMs: number; reason: "rpm" | "tpm" | "paused" }
  | { granted: false; waitMs: null; reason: "rpd" };

/**
 * Where quota usage is counted. In-memory per process now; a Redis store (shared by every instance)
 * implements the same three calls atomically.
 */
export interface QuotaStore {
  reserve(tokens: number, nowMs: number): Promise<Reservation>;
  /** Replace a reservation's estimated tokens with the real count. */
  settle(id: number, tokens: number): Promise<void>;
  /**
   * The request finished at nowMs: its slot now counts from then. The server counted it on arrival,
   * somewhere between reservation and completion, so counting from completion can never undercount.
   */
  finished(id: number, nowMs: number): Promise<void>;
  /** Stop granting until nowMs + ms (a 429's retry delay). */
  pauseFor(ms: number, nowMs: number): Promise<void>;
}

/** Builds the quota store of one named upstream: in memory per process, or shared (Redis) across instances. */
export type QuotaStoreFactory = (name: string, limits: QuotaLimits, dayKey?: (nowMs: number) => string) => QuotaStore;
